"""`rolloutctl check`'s one engine: any protocol's checks, through its adapter.

rolloutctl plays the trainer: a MockTrainer served in this process (on a free port of
`trainer_host`, which the server under test must be able to reach) answers every
rollout from a per-rollout plan. After the health check, the adapter learns what the
checks need (the server's tools); then the checks run concurrently, each with its own
rollouts, and the adapter's `last` ones alone after them. A check that raises anything
but an HTTP error is rolloutctl's bug: its row is ERROR, never the server's FAIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from rolloutctl.check.base import CheckOptions, CheckSession, CheckStatus, ProtocolAdapter, Verdict
from rolloutctl.check.results import CheckReport, CheckResult
from rolloutctl.harness import serve_app
from rolloutctl.net.urls import base_url
from rolloutctl.redaction import one_line
from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy

__all__ = ["INTERNAL", "run_checks"]

MAX_REASON = 300  # characters; a server's error detail can be long
INTERNAL = "internal error in rolloutctl (its bug, not the server's; please report it)"


async def run_checks(
    adapter: ProtocolAdapter[Any], url: str, options: CheckOptions | None = None
) -> CheckReport:
    """Run the chosen checks (all by default); ServerUnreachable when nothing answers,
    KeyRequired when the server answers 401 to the key given (or to none)."""
    options = options or CheckOptions()
    url, names = base_url(url), options.only or adapter.names
    started, secrets = time.perf_counter(), [options.api_key]
    async with adapter.http_client(options) as http:
        verdicts = {"health": await adapter.health(http, url, options)}
        chosen = [name for name in adapter.checks if name in names]
        if chosen:
            async with _session(adapter, url, http, options) as session:
                secrets.append(session.secret)
                verdicts |= await _run_all(adapter, session, chosen)
    results = [_result(name, verdicts[name], secrets) for name in adapter.names if name in names]
    seconds = time.perf_counter() - started
    return CheckReport(url, results, seconds, adapter.protocol, options.strict)


async def _run_all(
    adapter: ProtocolAdapter[Any], session: CheckSession, chosen: list[str]
) -> dict[str, Verdict]:
    first = [name for name in chosen if name not in adapter.last]
    found = await asyncio.gather(*(_verdict(adapter, name, session) for name in first))
    verdicts = dict(zip(first, found, strict=True))
    for name in (n for n in chosen if n in adapter.last):
        verdicts[name] = await _verdict(adapter, name, session)
    return verdicts


async def _verdict(adapter: ProtocolAdapter[Any], name: str, session: CheckSession) -> Verdict:
    """An HTTP error is what the server did (FAIL); anything else raised is rolloutctl's
    own bug (ERROR); either way the other checks go on."""
    try:
        return await adapter.checks[name](session)
    except httpx.HTTPError as exc:
        return Verdict(CheckStatus.FAIL, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        logging.getLogger("rolloutctl.check").debug("check %s raised", name, exc_info=True)
        return Verdict(CheckStatus.ERROR, f"{INTERNAL}: {type(exc).__name__}: {exc}")


def _result(name: str, verdict: Verdict, secrets: list[str | None]) -> CheckResult:
    """The verdict as a row, each text one line with any key the run used shown as ***."""
    reason = one_line(verdict.reason, *secrets)
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 3] + "..."
    details = tuple(one_line(detail, *secrets) for detail in verdict.details)
    return CheckResult(name, verdict.status, reason, details)


@contextlib.asynccontextmanager
async def _session(
    adapter: ProtocolAdapter[Any], url: str, http: httpx.AsyncClient, options: CheckOptions
) -> AsyncIterator[CheckSession]:
    """The trainer served on `trainer_host`, and what discovery learned, for the checks.

    Unplanned chat calls get the echo policy's plain answer. The trainer's own warning
    lines are silenced: every violation it sees comes back as a check's reason instead.
    """
    trainer = MockTrainer(TrainerConfig(policy=make_policy("echo")))
    logger = logging.getLogger("rolloutctl.trainer")
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(setattr, logger, "disabled", logger.disabled)
        logger.disabled = True
        stack.push_async_callback(trainer.aclose)
        trainer.url = await stack.enter_async_context(
            serve_app(trainer.app, "the mock trainer", host=options.trainer_host, log_level="error")
        )
        session = adapter.session(url, trainer, http, options)
        stack.push_async_callback(adapter.release, session)
        await adapter.discover(session)
        yield session
