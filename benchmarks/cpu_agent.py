"""A benchmark agent whose tool does real CPU work: `add` spends about 3 ms of CPU.

Tools that parse, execute code, score or tokenise hold the event loop; one process
then runs on one core however many rollouts wait. `serve --workers N` is for such
agents, and this one measures it (BENCHMARKS.md): the same tool schema as the
calculator example, so `rolloutctl bench`'s trainer drives it unchanged.

    rolloutctl serve benchmarks/cpu_agent.py:agent --workers 2
"""

import time

from rolloutctl import ToolLoopAgent, tool

CPU_MS = 3.0  # CPU each tool call spends (process time, not wall time)


def burn(ms: float) -> int:
    """Hash-like integer work until `ms` of this thread's CPU time have passed."""
    end = time.thread_time() + ms / 1000
    value = 0
    while time.thread_time() < end:
        for i in range(200):
            value = (value * 31 + i) % 1_000_003
    return value


@tool
async def add(a: float, b: float) -> str:
    """Add two numbers and return a + b."""
    burn(CPU_MS)
    total = a + b
    return str(int(total)) if float(total).is_integer() else repr(float(total))


class CpuCalculator(ToolLoopAgent):
    name = "cpu-calculator"
    tool_list = (add,)


agent = CpuCalculator()
