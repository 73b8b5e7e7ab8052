"""`rolloutctl check --protocol osmosis`: any Osmosis SDK 0.3 rollout server, from outside.

rolloutctl plays the trainer: a MockTrainer (on `trainer_host`) answers the agent's
chat calls from per-rollout scripts. After /health, a probe rollout learns the tools
from the agent's first chat request; the checks then run concurrently, `cancel` last
(its `all` selector cancels whatever else is in flight). The report is v1's
`CheckReport`, so output and exit codes are those of `check`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from rolloutctl.check.v1.session import CheckOptions, CheckStatus, Verdict
from rolloutctl.check.v1.suite import CheckReport, CheckResult
from rolloutctl.errors import ServerUnreachable
from rolloutctl.harness import serve_app
from rolloutctl.net.urls import base_url
from rolloutctl.osmosis.check import rollouts, wire
from rolloutctl.osmosis.check.names import OSMOSIS_CHECK_NAMES
from rolloutctl.osmosis.check.session import OsmosisSession
from rolloutctl.redaction import one_line
from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy

__all__ = ["run_osmosis_checks"]

Check = Callable[[OsmosisSession], Awaitable[Verdict]]
CHECKS: dict[str, Check] = {  # in report order; health runs first, cancel last
    "health": wire.health,
    "admission": wire.admission,
    "duplicate-409": wire.duplicate_409,
    "bad-body-422": wire.bad_body_422,
    "no-key-echo": wire.no_key_echo,
    "lease": wire.lease,
    "long-poll": wire.long_poll,
    "chat-bearer": rollouts.chat_bearer,
    "append-only": rollouts.append_only,
    "tools-every-request": rollouts.tools_every_request,
    "shutdown-503": wire.shutdown_503,
    "cancel": wire.cancel,
}
assert tuple(CHECKS) == OSMOSIS_CHECK_NAMES, "names.py lists the checks in report order"
LAST = ("cancel",)


async def run_osmosis_checks(url: str, options: CheckOptions | None = None) -> CheckReport:
    """Run the chosen checks (all by default); ServerUnreachable when nothing answers."""
    options = options or CheckOptions()
    url, names = base_url(url), options.only or OSMOSIS_CHECK_NAMES
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=options.timeout + 15) as http:
        try:
            await http.get(url + "/health")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ServerUnreachable(f"cannot reach {url}: {exc or type(exc).__name__}") from None
        async with _session(url, http, options) as session:
            verdicts = await _run_all(session, [n for n in CHECKS if n in names])
    secrets = [options.api_key, session.secret]
    results = [
        CheckResult(name, verdicts[name].status, one_line(verdicts[name].reason, *secrets)[:300])
        for name in CHECKS
        if name in names
    ]
    return CheckReport(url, results, time.perf_counter() - started)


async def _run_all(session: OsmosisSession, chosen: list[str]) -> dict[str, Verdict]:
    first = [name for name in chosen if name not in LAST]
    found = await asyncio.gather(*(_verdict(name, session) for name in first))
    verdicts = dict(zip(first, found, strict=True))
    for name in (n for n in chosen if n in LAST):
        verdicts[name] = await _verdict(name, session)
    return verdicts


async def _verdict(name: str, session: OsmosisSession) -> Verdict:
    """A check that raises fails with the exception as its reason, without stopping the rest."""
    try:
        return await CHECKS[name](session)
    except Exception as exc:
        return Verdict(CheckStatus.FAIL, f"{type(exc).__name__}: {exc}")


@contextlib.asynccontextmanager
async def _session(
    url: str, http: httpx.AsyncClient, options: CheckOptions
) -> AsyncIterator[OsmosisSession]:
    """The trainer served on `trainer_host`, and the probe's tools, for the checks to share."""
    trainer = MockTrainer(TrainerConfig(policy=make_policy("echo")))
    logger = logging.getLogger("rolloutctl.trainer")
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(setattr, logger, "disabled", logger.disabled)
        logger.disabled = True  # its violations come back as the checks' reasons
        stack.push_async_callback(trainer.aclose)
        trainer.url = await stack.enter_async_context(
            serve_app(trainer.app, "the mock trainer", host=options.trainer_host, log_level="error")
        )
        session = OsmosisSession(url, trainer, http, options)
        await rollouts.discover(session)
        yield session
