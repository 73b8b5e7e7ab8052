"""A test agent: the bundled calculator, except that a prompt asking it to explode raises."""

from rolloutctl import RolloutContext, RolloutResult
from rolloutctl.agent.loader import examples_dir, load_attribute

Calculator = load_attribute(f"{examples_dir() / 'calculator.py'}:Calculator")


class Explosive(Calculator):  # type: ignore[misc, valid-type]
    async def run(self, ctx: RolloutContext) -> RolloutResult:
        if "explode" in str(ctx.request.messages[-1].get("content")):
            raise RuntimeError("the agent exploded on purpose")
        return await super().run(ctx)


agent = Explosive()


def lenient(completion: dict, row: dict) -> float:
    """Reward 1 for an answer within 1 of the ground truth; raises on a truth that says so."""
    truth = row.get("ground_truth")
    if truth == "grader-explodes":
        raise ValueError("this grader cannot read the truth")
    words = [w.strip(".") for w in str(completion["final_messages"][-1].get("content")).split()]
    numbers = [float(w) for w in words if w.lstrip("-").replace(".", "", 1).isdigit()]
    return 1.0 if numbers and abs(numbers[-1] - float(str(truth))) <= 1 else 0.0
