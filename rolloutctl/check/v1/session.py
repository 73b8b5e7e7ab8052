"""What every check of `rolloutctl check` works with: verdicts, the session and its rollouts.

A `Session` plays the trainer for one run: an in-process MockTrainer the server under
test calls back, an HTTP client for raw requests, and the tools the server declared.
`Session.start` sends one init with its own scripted trainer behaviour and watches
everything the trainer sees of that rollout (see `check_outcome`).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
from pydantic import ValidationError

from rolloutctl.check.outcome import Outcome, Watch
from rolloutctl.check.turns import answer
from rolloutctl.errors import InitError, InitRefused
from rolloutctl.protocol import INIT_PATH, ToolSchema
from rolloutctl.schema.lint import schema_problems, schema_warnings
from rolloutctl.trainer import MockTrainer
from rolloutctl.trainer.policies.per_rollout import PlannedAnswer

__all__ = [
    "DROP",
    "SYSTEM",
    "CheckOptions",
    "CheckStatus",
    "Running",
    "Session",
    "Verdict",
    "judge",
    "tool_notes",
    "tool_problems",
]

SYSTEM = {"role": "system", "content": "You are being checked by rolloutctl check."}
DROP = object()  # as a field's value in `Session.init_body`: leave the field out


class CheckStatus(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"  # its precondition was not met (no tool to call, every init refused)
    EXTENSION = "EXTENSION"  # an optional extension the server does not offer


@dataclass(frozen=True)
class Verdict:
    status: CheckStatus
    reason: str  # one line
    details: tuple[str, ...] = ()  # every problem and note, for --json and the plain view


def judge(problems: list[str], passed: str, notes: Sequence[str] = ()) -> Verdict:
    """FAIL with the first problem (and how many more), or PASS with `passed`; `notes` are
    what is worth knowing but breaks no rule, kept in the details either way."""
    problems = list(dict.fromkeys(problems))  # the trainer and a check may see the same thing
    if not problems:
        if len(notes) == 1:
            passed += f"; note: {notes[0]}"
        elif notes:
            passed += f"; {len(notes)} notes"
        return Verdict(CheckStatus.PASS, passed, tuple(notes))
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return Verdict(CheckStatus.FAIL, problems[0] + more, (*problems, *notes))


@dataclass(frozen=True)
class CheckOptions:
    api_key: str | None = field(default=None, repr=False)  # the server's inbound key
    timeout: float = 30.0  # for each rollout's completion, and each raw request
    trainer_host: str = "127.0.0.1"  # where the mock trainer listens and is called back
    linger: float = 1.0  # listen on after a completion, for late or repeated callbacks
    only: tuple[str, ...] = ()  # check names; empty: all
    metadata: dict[str, Any] = field(default_factory=dict)  # sent in every init


@dataclass
class Running:
    """A started rollout: `finish` waits for its completion, listens on, and reports."""

    session: Session
    rollout_id: str
    init: dict[str, Any]
    watch: Watch
    tools: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    async def finish(self) -> Outcome:
        options = self.session.options
        if self.error is None and await self.watch.delivered(options.timeout):
            await asyncio.sleep(options.linger)
        return await self.session.outcome(self.rollout_id, self.init, self.watch, self.error)


class Session:
    def __init__(
        self, server_url: str, trainer: MockTrainer, http: httpx.AsyncClient, options: CheckOptions
    ) -> None:
        self.server_url, self.trainer, self.http, self.options = server_url, trainer, http, options
        self.secret = f"rk-check-{uuid.uuid4().hex}"  # an api_key that must never come back
        self.tools: list[dict[str, Any]] = []  # the usable tools of the probe's 202
        self.tool_findings: list[str] = []  # what makes the others unusable
        self.tool_notes: list[str] = []  # lint findings, with their severity, of usable ones
        self.tools_error: str | None = None  # the probe's init was not accepted
        self.probe: asyncio.Task[Outcome] | None = None
        self._run = uuid.uuid4().hex[:8]
        self._numbers = itertools.count(1)

    def new_id(self, label: str) -> str:
        return f"check-{self._run}-{label}-{next(self._numbers)}"

    def init_body(self, rollout_id: str, /, **fields: Any) -> dict[str, Any]:
        """A valid init; `fields` replace or add top-level fields, and one given as DROP
        is left out. It carries `completion_params: {}` although the spec makes it
        optional: some servers require it, and only `init-defaults` should mind that."""
        user = {"role": "user", "content": f"Rollout {rollout_id}: answer as scripted."}
        body: dict[str, Any] = {
            "rollout_id": rollout_id,
            "server_url": self.trainer.url,
            "messages": [SYSTEM, user],
            "completion_params": {},
            **fields,
        }
        if self.options.metadata:
            body["metadata"] = self.options.metadata
        return {name: value for name, value in body.items() if value is not DROP}

    def watch(self, rollout_ids: Collection[str]) -> Watch:
        return Watch(self.trainer, rollout_ids)

    async def start(
        self,
        label: str,
        replies: Iterable[PlannedAnswer],
        completed: Iterable[int] = (),
        delay: float = 0.0,
        **fields: Any,
    ) -> Running:
        """Script the trainer for a new rollout, then send its init through the trainer."""
        rollout_id = self.new_id(label)
        init = self.init_body(rollout_id, **fields)
        self.trainer.plan_rollout(rollout_id, replies, completed, delay)
        running = Running(self, rollout_id, init, self.watch([rollout_id]))
        try:
            handle = await self.trainer.start_rollout(self.server_url, init, self.options.api_key)
        except InitError as exc:
            wants_key = isinstance(exc, InitRefused) and exc.status_code == 401
            hint = " (the server wants its inbound key: --server-key)" if wants_key else ""
            running.error = f"{exc}{hint}"
        else:
            running.tools = handle.tools
        return running

    async def run(self, label: str, replies: Iterable[PlannedAnswer], **kwargs: Any) -> Outcome:
        return await (await self.start(label, replies, **kwargs)).finish()

    async def outcome(
        self, rollout_id: str, init: dict[str, Any], watch: Watch, error: str | None = None
    ) -> Outcome:
        await watch.close()
        violations = self.trainer.violations(rollout_id)
        return Outcome(
            rollout_id, init, watch.chats, watch.posts, violations, self.options.timeout, error
        )

    async def post_init(self, body: dict[str, Any]) -> httpx.Response:
        """A raw init, outside the trainer's bookkeeping (for bodies it would not send)."""
        return await self.http.post(self.server_url + INIT_PATH, json=body, headers=self._auth())

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(self.server_url + path, headers=self._auth())

    def _auth(self) -> dict[str, str]:
        key = self.options.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def precondition(self, *outs: Outcome) -> Verdict | None:
        """SKIP when an init was refused and the plain probe init was refused too: the
        check's own rule was never put to the test."""
        refused = next((out.error for out in outs if out.error), None)
        if refused and self.tools_error:
            return Verdict(CheckStatus.SKIP, f"not tested: the init was refused ({refused})")
        return None

    async def discover(self) -> None:
        """Start the probe rollout; its 202 tells the checks which tools they can call."""
        running = await self.start("init-tools", [answer()])
        self.probe = asyncio.create_task(running.finish())
        if running.error:
            self.tools_error = running.error
            return
        for index, tool in enumerate(running.tools):
            problems = tool_problems(tool, index)
            self.tool_findings += problems
            if not problems:
                self.tools.append(tool)
                self.tool_notes += tool_notes(tool)
        names = [tool["function"]["name"] for tool in self.tools]
        self.tool_findings += [
            f"tool {n!r} is declared twice" for n in sorted(set(names)) if names.count(n) > 1
        ]


def tool_problems(tool: Any, index: int) -> list[str]:
    """What keeps one entry of a 202's `tools` from being an OpenAI function ToolSchema."""
    try:
        parsed = ToolSchema.model_validate(tool)
    except ValidationError as exc:
        first = exc.errors()[0]
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        where = ".".join(str(part) for part in (f"tools[{index}]", *first["loc"]))
        return [f"{where}{f' ({name!r})' if name else ''}: {first['msg']}"]
    name, function = parsed.function.name, tool["function"]
    found = [] if tool.get("type") == "function" else [f"tool {name!r}: type is not 'function'"]
    if not isinstance(function.get("description"), str):
        found.append(f"tool {name!r}: no description")
    parameters = function.get("parameters")
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        return [*found, f"tool {name!r}: parameters is not a JSON Schema of type 'object'"]
    return found + [f"tool {name!r}: {problem}" for problem in schema_problems(parameters)]


def tool_notes(tool: dict[str, Any]) -> list[str]:
    """Lint findings of a usable tool, each led by its severity: warnings of its schema,
    and keys the protocol's ToolSchema does not have (ignored by the rule on unknown fields)."""
    function = tool["function"]
    name = function["name"]
    found = [f"warning: tool {name!r}: {w}" for w in schema_warnings(function["parameters"])]
    extra = sorted(set(function) - {"name", "description", "parameters"})
    found += [
        f"note: tool {name!r}: function.{key} is not in the protocol's ToolSchema" for key in extra
    ]
    return found
