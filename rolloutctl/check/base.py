"""What the check engine and its protocol adapters share: verdicts, options, the session.

One engine (`engine.run_checks`) runs any protocol's checks; a `ProtocolAdapter` says
which checks its protocol has and how to reach its server (v1 in `check.v1.adapter`,
the Osmosis SDK 0.3 protocol in `osmosis.check.adapter`), as httpx's transports sit
behind one base class. A verdict's status carries its severity: FAIL is a protocol rule
broken, ADVISORY a security finding (a secret echoed), WARN a lint finding that trainers
tolerate; only FAIL sets exit 1, unless `--strict`.
"""

from __future__ import annotations

import abc
import itertools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx

from rolloutctl.trainer import MockTrainer

__all__ = [
    "Check",
    "CheckOptions",
    "CheckSession",
    "CheckStatus",
    "ProtocolAdapter",
    "Verdict",
    "judge",
    "key_hint",
]


class CheckStatus(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"  # a rule of the protocol is broken
    ADVISORY = "ADVISORY"  # a security finding (a secret echoed): not a rule of the protocol
    WARN = "WARN"  # lint: what trainers tolerate (a null description in a tool schema)
    SKIP = "SKIP"  # its precondition was not met (no tool to call, every init refused)
    EXTENSION = "EXTENSION"  # an optional extension the server does not offer
    ERROR = "ERROR"  # rolloutctl's own bug while checking: says nothing about the server


@dataclass(frozen=True)
class Verdict:
    status: CheckStatus
    reason: str  # one line
    details: tuple[str, ...] = ()  # every finding and note, for --json and the plain view


def judge(
    problems: Sequence[str],
    passed: str,
    notes: Sequence[str] = (),
    advisories: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> Verdict:
    """The most severe finding decides: FAIL with the first problem (and how many more),
    else ADVISORY, else WARN, else PASS with `passed`. Every finding stays in the details;
    `notes` break no rule and only ride along."""
    for status, found in (
        (CheckStatus.FAIL, problems),
        (CheckStatus.ADVISORY, advisories),
        (CheckStatus.WARN, warnings),
    ):
        found = list(dict.fromkeys(found))  # the trainer and a check may see the same thing
        if found:
            more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
            details = (
                *problems,
                *(f"security advisory: {a}" for a in advisories),
                *(f"warning: {w}" for w in warnings),
                *notes,
            )
            return Verdict(status, found[0] + more, tuple(dict.fromkeys(details)))
    if len(notes) == 1:
        passed += f"; note: {notes[0]}"
    elif notes:
        passed += f"; {len(notes)} notes"
    return Verdict(CheckStatus.PASS, passed, tuple(notes))


@dataclass(frozen=True)
class CheckOptions:
    api_key: str | None = field(default=None, repr=False)  # the server's inbound key
    timeout: float = 30.0  # for each rollout's completion, and each raw request
    trainer_host: str = "127.0.0.1"  # where the mock trainer listens and is called back
    linger: float = 1.0  # listen on after a completion, for late or repeated callbacks
    only: tuple[str, ...] = ()  # check names; empty: all
    metadata: dict[str, Any] = field(default_factory=dict)  # sent in every rollout
    strict: bool = False  # advisories and warnings fail the run too


class CheckSession:
    """One run's shared state: the server, the mock trainer it calls back, raw HTTP."""

    def __init__(
        self, url: str, trainer: MockTrainer, http: httpx.AsyncClient, options: CheckOptions
    ) -> None:
        self.url, self.trainer, self.http, self.options = url, trainer, http, options
        self.secret = f"rk-check-{uuid.uuid4().hex}"  # a rollout key that must never come back
        self.tools: list[dict[str, Any]] = []  # the tools the checks may call
        self._run = uuid.uuid4().hex[:8]
        self._numbers = itertools.count(1)

    def new_id(self, label: str) -> str:
        return f"check-{self._run}-{label}-{next(self._numbers)}"

    def headers(self) -> dict[str, str]:
        """The server's inbound key, when one was given."""
        key = self.options.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}


type Check[S: CheckSession] = Callable[[S], Awaitable[Verdict]]


class ProtocolAdapter[S: CheckSession](abc.ABC):
    """One protocol's checks and how to reach its servers; the engine does the rest."""

    protocol: ClassVar[str]
    names: ClassVar[tuple[str, ...]]  # every check in report order, health first
    checks: ClassVar[dict[str, Check[Any]]]  # all but health, which runs before the rest
    last: ClassVar[tuple[str, ...]] = ()  # run alone after the others (they disturb them)

    def http_client(self, options: CheckOptions) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=options.timeout)

    @abc.abstractmethod
    async def health(self, http: httpx.AsyncClient, url: str, options: CheckOptions) -> Verdict:
        """The health check; ServerUnreachable when nothing answers, KeyRequired on a 401."""

    @abc.abstractmethod
    def session(
        self, url: str, trainer: MockTrainer, http: httpx.AsyncClient, options: CheckOptions
    ) -> S:
        """A new session for one run."""

    @abc.abstractmethod
    async def discover(self, session: S) -> None:
        """Learn what the checks need (the tools) before they run; KeyRequired on a 401."""

    async def release(self, session: S) -> None:  # noqa: B027 - most adapters leave nothing
        """Let go of what `discover` left running."""


def key_hint(url: str, api_key: str | None) -> str:
    """The one line that replaces a wall of 401s."""
    if api_key:
        return f"{url} answers HTTP 401 to the key given with --server-key: is it the server's?"
    return f"{url} answers HTTP 401: it wants its inbound key; give it with --server-key"
