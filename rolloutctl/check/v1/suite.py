"""`rolloutctl check`: conformance of any running RolloutServer to PROTOCOL.md, from outside.

rolloutctl plays the trainer: a MockTrainer served in this process (on a free port of
`trainer_host`, which the server under test must be able to reach) answers every
rollout from a per-rollout script. After GET /health, one probe init learns the
server's tools; then the checks run concurrently, each with its own rollouts, so a
full run takes about as long as the slowest check (the retry checks wait for the
server's backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from rolloutctl.check.v1 import requests as requests
from rolloutctl.check.v1 import rollouts as rollouts
from rolloutctl.check.v1.names import CHECK_NAMES
from rolloutctl.check.v1.session import CheckOptions, CheckStatus, Session, Verdict
from rolloutctl.errors import ServerUnreachable
from rolloutctl.harness import serve_app
from rolloutctl.net.http_pool import SHORT_KEEPALIVE
from rolloutctl.net.urls import base_url
from rolloutctl.redaction import one_line
from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy

__all__ = [
    "CHECK_NAMES",
    "CheckOptions",
    "CheckReport",
    "CheckResult",
    "CheckStatus",
    "ServerUnreachable",
    "parse_only",
    "run_checks",
]

Check = Callable[[Session], Awaitable[Verdict]]
CHECKS: dict[str, Check] = {  # CHECK_NAMES' order; health is run apart, before the trainer starts
    "init-tools": requests.init_tools,
    "init-defaults": requests.init_defaults,
    "no-tool-rollout": rollouts.no_tool_rollout,
    "tool-rollout": rollouts.tool_rollout,
    "bearer": rollouts.bearer,
    "completion-params": rollouts.completion_params,
    "idempotency": requests.idempotency,
    "max-turns": rollouts.max_turns,
    "max-tokens": rollouts.max_tokens,
    "chat-4xx": rollouts.chat_4xx,
    "chat-503-retry": rollouts.chat_503_retry,
    "completed-503-retry": rollouts.completed_503_retry,
    "bad-init-422": requests.bad_init_422,
    "unknown-fields": rollouts.unknown_fields,
    "concurrent-20": rollouts.concurrent_20,
    "status-endpoint": requests.status_endpoint,
}
MAX_REASON = 300  # characters; a server's error detail can be long


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: CheckStatus
    reason: str
    details: tuple[str, ...] = ()  # every problem and note; the reason shows the first

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "details": list(self.details),
        }


@dataclass(frozen=True)
class CheckReport:
    server_url: str
    results: list[CheckResult]
    seconds: float

    @property
    def passed(self) -> bool:
        """No check failed (skips and absent extensions are fine)."""
        return all(r.status is not CheckStatus.FAIL for r in self.results)

    def counts(self) -> dict[CheckStatus, int]:
        found = {status: 0 for status in CheckStatus}
        for result in self.results:
            found[result.status] += 1
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.server_url,
            "passed": self.passed,
            "counts": {status.value: count for status, count in self.counts().items()},
            "seconds": round(self.seconds, 3),
            "checks": [result.to_dict() for result in self.results],
        }


def parse_only(
    only: str | Iterable[str] | None, known: tuple[str, ...] = CHECK_NAMES
) -> tuple[str, ...]:
    """Check names from `--only a,b`; ValueError names the unknown ones."""
    given = only.split(",") if isinstance(only, str) else list(only or ())
    names = tuple(dict.fromkeys(name.strip() for name in given if name.strip()))
    unknown = [name for name in names if name not in known]
    if unknown:
        choices = ", ".join(known)
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; choose from: {choices}")
    return names


async def run_checks(url: str, options: CheckOptions | None = None) -> CheckReport:
    """Run the chosen checks (all by default); ServerUnreachable when /health cannot connect."""
    options = options or CheckOptions()
    url, names = base_url(url), options.only or CHECK_NAMES
    started, secrets = time.perf_counter(), [options.api_key]
    async with httpx.AsyncClient(timeout=options.timeout, limits=SHORT_KEEPALIVE) as http:
        verdicts = {"health": await requests.health(http, url)}
        chosen = [name for name in CHECKS if name in names]
        if chosen:
            async with _session(url, http, options) as session:
                secrets.append(session.secret)
                found = await asyncio.gather(*(_verdict(CHECKS[name], session) for name in chosen))
                verdicts.update(zip(chosen, found, strict=True))
    results = [
        CheckResult(
            name,
            verdicts[name].status,
            _one_line(verdicts[name].reason, secrets),
            tuple(one_line(detail, *secrets) for detail in verdicts[name].details),
        )
        for name in CHECK_NAMES
        if name in names
    ]
    return CheckReport(url, results, time.perf_counter() - started)


async def _verdict(check: Check, session: Session) -> Verdict:
    """A check that raises fails with the exception as its reason, without stopping the rest."""
    try:
        return await check(session)
    except Exception as exc:
        return Verdict(CheckStatus.FAIL, f"{type(exc).__name__}: {exc}")


def _one_line(text: str, secrets: list[str | None]) -> str:
    """The reason as one short line, with any key the run used shown as ***."""
    text = one_line(text, *secrets)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


@contextlib.asynccontextmanager
async def _session(
    url: str, http: httpx.AsyncClient, options: CheckOptions
) -> AsyncIterator[Session]:
    """The trainer served on `trainer_host` and the probe's tools, for the checks to share.

    Unscripted chat calls get the echo policy's plain answer. The trainer's own warning
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
        session = Session(url, trainer, http, options)
        await session.discover()
        try:
            yield session
        finally:  # the probe is only awaited by init-tools; unless chosen, it is let go
            if session.probe is not None:
                session.probe.cancel()
                await asyncio.gather(session.probe, return_exceptions=True)
