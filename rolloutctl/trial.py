"""One rollout end to end, watched live: the library behind `rolloutctl try`.

The mock trainer publishes every exchange as an event; a `TrajectoryBuilder` turns
them into render items the moment they happen, so the live view, the saved file and
a later replay all come from the same record.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rolloutctl.agent.context import Agent
from rolloutctl.errors import InitError, InitRefused
from rolloutctl.events import Event, EventKind
from rolloutctl.harness import LocalStack, local_stack
from rolloutctl.server.settings import ServerSettings
from rolloutctl.trainer import Subscription, TrainerConfig
from rolloutctl.trajectory.builder import RenderItem, TrajectoryBuilder

__all__ = [
    "CALCULATOR_SYSTEM",
    "DEFAULT_PROMPT",
    "OsmosisFields",
    "TryOptions",
    "TryOutcome",
    "build_init",
    "run_try",
]

# Sent only to the bundled calculator, whose tools it is about; other agents get no
# system message unless --system gives one.
CALCULATOR_SYSTEM = "You are a careful assistant. Use the tools for every arithmetic step."
DEFAULT_PROMPT = "What is (5 + 3) * 2?"  # two tool calls with the calculator tools


@dataclass(frozen=True)
class OsmosisFields:
    """What a 0.3 `POST /rollout` carries beyond v1's init (`try --protocol osmosis`)."""

    label: str | None = None  # the ground truth a template-style grader reads (`ctx.label`)
    agent_timeout: float | None = None  # agent_timeout_sec
    grader_timeout: float | None = None  # grader_timeout_sec
    extra_fields: dict[str, Any] | None = None


@dataclass(frozen=True)
class TryOptions:
    prompt: str = DEFAULT_PROMPT
    system: str | None = None
    server_url: str | None = None  # try this RolloutServer instead of starting one
    server_key: str | None = field(default=None, repr=False)  # its inbound key, if any
    api_key: str | None = field(default=None, repr=False)  # the rollout's callback key
    max_turns: int | None = None
    max_tokens_total: int | None = None
    completion_params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    osmosis: OsmosisFields | None = None  # the 0.3 protocol's own request fields
    timeout: float = 60.0  # for the completion to arrive
    linger: float = 1.0  # with server_url: listen on after it, for late or repeated callbacks


@dataclass
class TryOutcome:
    trajectory: dict[str, Any]
    completion: dict[str, Any] | None  # what arrived within the timeout
    init_error: str | None = None
    unreachable: bool = False  # the init could not be delivered at all
    server_url: str | None = None


def build_init(rollout_id: str, options: TryOptions) -> dict[str, Any]:
    """The init body `try` sends; server_url is filled in by the mock trainer."""
    messages = [{"role": "system", "content": options.system}] if options.system else []
    messages.append({"role": "user", "content": options.prompt})
    init: dict[str, Any] = {
        "rollout_id": rollout_id,
        "messages": messages,
        "completion_params": options.completion_params,
    }
    if options.metadata:
        init["metadata"] = options.metadata
    optional = {
        "api_key": options.api_key,
        "max_turns": options.max_turns,
        "max_tokens_total": options.max_tokens_total,
    }
    init.update({name: value for name, value in optional.items() if value is not None})
    return init


async def run_try(
    agent: Agent | None,
    options: TryOptions,
    trainer_config: TrainerConfig,
    show: Callable[[Event, list[RenderItem]], None] = lambda event, items: None,
    builder: TrajectoryBuilder | None = None,
) -> TryOutcome:
    """Start the stack, send one init, `show` each event with the items it adds; return
    the record. `builder` (a fresh one by default) collects the trajectory: a caller that
    keeps it still has what was seen when the run is interrupted.
    """
    rollout_id = f"try-{uuid.uuid4().hex[:12]}"
    builder = builder or TrajectoryBuilder()
    repeated = asyncio.Event()  # a second completion came: the verdict can change no more

    def record(event: Event) -> None:
        if event.kind is EventKind.VIOLATION and event.data.get("rule") == "completion_duplicate":
            repeated.set()
        show(event, builder.add(event))

    await trainer_config.policy.check_reachable()
    settings = ServerSettings(shutdown_grace=1.0, metrics=False)  # nobody scrapes a try
    async with local_stack(agent, settings, trainer_config, server_url=options.server_url) as stack:
        subscription = stack.trainer.subscribe(rollout_id)
        pump = asyncio.create_task(_pump(subscription, record))
        try:
            handle = await stack.trainer.start_rollout(
                stack.server_url, build_init(rollout_id, options), options.server_key
            )
            completion = await handle.wait(options.timeout)
            await _listen_for_late_callbacks(stack, options, repeated)
            init_error, unreachable = None, False
        except InitRefused as exc:
            completion, init_error, unreachable = None, str(exc), False
        except InitError as exc:
            completion, init_error, unreachable = None, str(exc), True
        finally:
            subscription.close()
            await pump
    trajectory = builder.trajectory()
    return TryOutcome(trajectory, completion, init_error, unreachable, stack.server_url)


async def _listen_for_late_callbacks(
    stack: LocalStack, options: TryOptions, repeated: asyncio.Event
) -> None:
    """Keep the trainer listening only while a late or repeated callback is still possible.

    The local server is drained and stopped (any callback it still sends arrives
    during that); once stopped it cannot call back, so there is nothing to wait for.
    A server at `server_url` may call back at any time, so it gets the linger, which a
    repeated completion ends: that is the violation the linger is there to catch.
    """
    if options.server_url is None:
        await stack.stop_server()
    else:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(repeated.wait(), options.linger)


async def _pump(subscription: Subscription, record: Callable[[Event], None]) -> None:
    async for event in subscription:
        record(event)
