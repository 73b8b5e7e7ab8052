"""`try --protocol osmosis`: one 0.3 rollout end to end, watched live from the trainer's side.

Like v1's `try` (same options, view, summary and trajectory file), but the agent is
served by the SDK's own server through the adapter (or `server_url` names any 0.3
server) and the rollout is sent and polled with the SDK's `RolloutClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from osmosis_ai.rollout import Grader
from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.agent.context import Agent
from rolloutctl.errors import InitError, InitRefused
from rolloutctl.events import Event
from rolloutctl.harness import TRAINER_SHUTDOWN_GRACE, serve_app
from rolloutctl.osmosis.driver import OsmosisRequest, drive_rollout, osmosis_trajectory
from rolloutctl.osmosis.serve import create_osmosis_app
from rolloutctl.server.settings import ServerSettings
from rolloutctl.trainer import MockTrainer, TrainerConfig
from rolloutctl.trajectory.builder import RenderItem, TrajectoryBuilder
from rolloutctl.trial import OsmosisFields, TryOptions, TryOutcome, _pump, build_init

__all__ = ["osmosis_request", "run_try_osmosis"]


def osmosis_request(options: TryOptions) -> OsmosisRequest:
    """try's prompt as a 0.3 rollout: `api_key` becomes the rollout's `llm_api_key`,
    `--metadata` its metadata (the SDK grades a request with metadata or a label)."""
    init = build_init("", options)
    fields = options.osmosis or OsmosisFields()
    return OsmosisRequest(
        messages=init["messages"],
        llm_api_key=options.api_key,
        label=fields.label,
        metadata=options.metadata or {"source": "rolloutctl"},
        agent_timeout_sec=fields.agent_timeout,
        grader_timeout_sec=fields.grader_timeout,
        extra_fields=fields.extra_fields,
    )


async def run_try_osmosis(
    agent: Agent | None,
    options: TryOptions,
    trainer_config: TrainerConfig,
    show: Callable[[Event, list[RenderItem]], None] = lambda event, items: None,
    builder: TrajectoryBuilder | None = None,
    grader: type[Grader] | None = None,
) -> TryOutcome:
    """Serve the trainer (and the agent, without `options.server_url`), drive one rollout;
    `show` and `builder` as for v1's `run_try`."""
    request = osmosis_request(options)
    builder = builder or TrajectoryBuilder()

    def record(event: Event) -> None:
        show(event, builder.add(event))

    trainer = MockTrainer(trainer_config)
    completion, init_error, unreachable = None, None, False
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(trainer.aclose)
        trainer.url = await stack.enter_async_context(
            serve_app(trainer.app, "the mock trainer", shutdown_grace=TRAINER_SHUTDOWN_GRACE)
        )
        server_url = options.server_url
        if server_url is None:
            server_url = await stack.enter_async_context(_local_server(agent, grader))
        client = RolloutClient(url=server_url, api_key=options.server_key)
        stack.push_async_callback(client.aclose)
        subscription = trainer.subscribe(request.rollout_id)
        pump = asyncio.create_task(_pump(subscription, record))
        try:
            completion = await drive_rollout(trainer, client, request, options.timeout)
            await asyncio.sleep(options.linger)  # late chat calls still reach the trainer
        except InitRefused as exc:
            init_error = str(exc)
        except InitError as exc:
            init_error, unreachable = str(exc), True
        finally:
            subscription.close()
            await pump
    trajectory = osmosis_trajectory(builder, trainer, request.rollout_id)
    return TryOutcome(trajectory, completion, init_error, unreachable, server_url)


def _local_server(
    agent: Agent | None, grader: type[Grader] | None
) -> contextlib.AbstractAsyncContextManager[str]:
    if agent is None:
        raise ValueError("run_try_osmosis needs an agent or options.server_url")
    settings = ServerSettings(shutdown_grace=1.0)
    return serve_app(create_osmosis_app(agent, settings, grader), "the Osmosis rollout server")
