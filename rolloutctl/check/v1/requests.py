"""The checks of `rolloutctl check` that look at the server's HTTP answers themselves.

Health, the tools in the 202, refused inits, repeated inits and the status endpoint:
each sends requests the mock trainer would never send (bad bodies, duplicates) or
reads a response body, so they talk to the server directly.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx

from rolloutctl.check.base import CheckStatus, Verdict, judge
from rolloutctl.check.outcome import Watch
from rolloutctl.check.turns import answer
from rolloutctl.check.v1.session import DROP, Session
from rolloutctl.errors import ServerUnreachable

__all__ = [
    "BAD_INITS",
    "DUPLICATES",
    "HOLD",
    "STATES",
    "bad_init_422",
    "health",
    "idempotency",
    "init_defaults",
    "init_tools",
    "status_endpoint",
]

BAD_INITS: list[tuple[str, str, Any]] = [  # (field, what is wrong, the value sent)
    ("rollout_id", "missing", DROP),
    ("rollout_id", "blank", "   "),
    ("rollout_id", "over 256 chars", "r" * 257),
    ("rollout_id", "not a string", 42),
    ("server_url", "missing", DROP),
    ("server_url", "not http(s)", "ftp://example.com/trainer"),
    ("server_url", "without a host", "http://"),
    ("messages", "missing", DROP),
    ("messages", "not a list", "hello"),
    ("messages", "not objects", [42]),
    ("completion_params", "not an object", [1, 2]),
    ("max_turns", "0", 0),
    ("max_turns", "not an int", "many"),
    ("max_tokens_total", "0", 0),
    ("metadata", "not an object", "notes"),
    ("metadata", "over 1 MiB", {"blob": "x" * (1024 * 1024)}),
    ("tool_server_url", "not a string", 42),
]
DUPLICATES = 8  # concurrent repeats of one init
HOLD = 0.5  # seconds the idempotency rollout's chat answer is held, so repeats meet it running
STATES = ("queued", "running", "completed", "error", "delivery_failed")


async def health(http: httpx.AsyncClient, server_url: str) -> Verdict:
    """GET /health with no credentials; ServerUnreachable when nothing answers at all."""
    try:
        response = await http.get(server_url + "/health")
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ServerUnreachable(f"cannot reach {server_url}: {exc or type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        return Verdict(CheckStatus.FAIL, f"GET /health failed: {type(exc).__name__}: {exc}")
    body = _json(response)
    if response.status_code != 200 or not isinstance(body, dict):
        return Verdict(CheckStatus.FAIL, f"GET /health answered HTTP {response.status_code}")
    problems = [] if body.get("status") == "healthy" else [f"status is {body.get('status')!r}"]
    if problems and isinstance(body.get("lifecycle"), dict):  # an SDK 0.3 server's /health
        problems[0] += " (an Osmosis SDK 0.3 server's /health: check it with --protocol osmosis)"
    return judge(problems, "200 healthy" + _health_shown(body), _health_notes(body))


def _health_shown(body: dict[str, Any]) -> str:
    name = body.get("agent", body.get("agent_loop"))
    shown = f"; agent {name!r}" if isinstance(name, str) else ""
    active = body.get("active_rollouts")
    return shown + (f", {active} active rollout(s)" if isinstance(active, int) else "")


def _health_notes(body: dict[str, Any]) -> list[str]:
    """Only `status` is required; the other fields PROTOCOL.md shows are worth a note."""
    notes = []
    if not isinstance(body.get("agent"), str):
        other = [key for key in ("agent_loop", "agent_name", "name") if key in body]
        where = f" (it is under {other[0]!r})" if other else ""
        notes.append(f"no string 'agent' field{where}")
    counts = ("active_rollouts", "completed_rollouts")
    return notes + [f"{key} is not an int" for key in counts if not isinstance(body.get(key), int)]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


async def init_tools(session: Session) -> Verdict:
    """The probe rollout's 202: a ToolSchema for each tool (see `tools.ToolLint`); what
    trainers tolerate is a warning, keys beyond the ToolSchema are notes."""
    assert session.probe is not None, "discover() runs before the checks"
    out = await session.probe
    if out.error:
        return Verdict(CheckStatus.FAIL, out.error)
    lint = session.lint
    problems = lint.errors + [
        f"{v.rule}: {v.message}" for v in out.violations if v.rule.startswith("init_response")
    ]
    names = [tool["function"]["name"] for tool in session.tools]
    if not names and not problems:
        return Verdict(CheckStatus.PASS, "202 with tools: [] (the server declares none)")
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    passed = f"202 with {len(names)} usable tool(s): {shown}"
    return judge(problems, passed, lint.notes, warnings=lint.warnings)


async def init_defaults(session: Session) -> Verdict:
    """The smallest init the spec allows (no completion_params, max_turns, metadata...)."""
    out = await session.run("init-defaults", [answer()], completion_params=DROP)
    problems = out.problems() + out.expect("COMPLETED", "stop", 1)
    fields = "rollout_id, server_url and messages"
    return session.precondition(out) or judge(
        problems, f"an init of only {fields} was accepted and COMPLETED"
    )


async def bad_init_422(session: Session) -> Verdict:
    ids = [session.new_id("bad-init") for _ in BAD_INITS]
    watch = session.watch(ids)
    bodies = [
        _bad_body(session, rid, name, value)
        for rid, (name, _, value) in zip(ids, BAD_INITS, strict=True)
    ]
    responses = await asyncio.gather(
        *(session.post_init(b) for b in bodies), return_exceptions=True
    )
    labelled = [
        (f"{name} {what}", name, r) for (name, what, _), r in zip(BAD_INITS, responses, strict=True)
    ]
    problems = [p for label, name, r in labelled for p in _refusal_problems(label, name, r)]
    echoes = [
        f"{label}: the HTTP {r.status_code} response echoes the api_key"
        for label, _, r in labelled
        if isinstance(r, httpx.Response) and _echoes(session, r)
    ]
    await asyncio.sleep(session.options.linger)
    await watch.close()
    # an accepted init was reported as such; a refused one must not have started anything
    refused = {rid for rid, r in zip(ids, responses, strict=True) if not _accepted(r)}
    started = sorted(refused.intersection(chat.get("rollout_id") for chat in watch.chats))
    if started:
        problems.append(f"a refused init started rollout {started[0]!r}")
    passed = f"{len(BAD_INITS)} kinds of bad init: each 422 naming the field, no key"
    return judge(problems, passed, advisories=echoes)


def _accepted(response: Any) -> bool:
    return isinstance(response, httpx.Response) and response.is_success


def _bad_body(session: Session, rollout_id: str, name: str, value: Any) -> dict[str, Any]:
    return session.init_body(rollout_id, api_key=session.secret, **{name: value})


def _echoes(session: Session, response: httpx.Response) -> bool:
    """The rollout's api_key in an answer: a security advisory, apart from the rules."""
    return session.secret in response.text or session.secret in str(response.headers)


def _refusal_problems(label: str, name: str, response: Any) -> list[str]:
    if isinstance(response, BaseException):
        return [f"{label}: {type(response).__name__}: {response}"]
    if response.is_success:
        return [f"{label}: accepted (HTTP {response.status_code}), expected 422"]
    if response.status_code != 422:
        return [f"{label}: HTTP {response.status_code}, expected 422"]
    return [] if name in response.text else [f"{label}: the 422 does not name {name!r}"]


async def idempotency(session: Session) -> Verdict:
    """One init, then repeats of its rollout_id with another body: see `_repeat`."""
    rollout_id = session.new_id("idempotency")
    session.trainer.plan_rollout(rollout_id, [answer()], delay=HOLD)
    watch = session.watch([rollout_id])
    init = session.init_body(rollout_id)
    first = await session.post_init(init)
    if first.status_code != 202:
        await watch.close()
        why = f"init answered HTTP {first.status_code}, expected 202"
        skipped = session.tools_error and Verdict(CheckStatus.SKIP, f"not tested: {why}")
        return skipped or Verdict(CheckStatus.FAIL, why)
    repeats = await _repeat(session, rollout_id, watch)
    out = await session.outcome(rollout_id, init, watch)
    problems = [p for label, r in repeats for p in _repeat_problems(label, r, _json(first))]
    if len(out.chats) > 1:
        problems.insert(0, f"{len(out.chats)} chat requests: a repeated init started a new rollout")
    return judge(problems + out.problems(), "one rollout; every repeat got 202 and the first body")


async def _repeat(
    session: Session, rollout_id: str, watch: Watch
) -> list[tuple[str, httpx.Response]]:
    """Repeats while the first runs (its chat answer is held): one, then many at once; then
    one after its completion arrived."""
    messages = [{"role": "user", "content": "A different body, the same rollout_id."}]
    changed = session.init_body(rollout_id, messages=messages, max_turns=3, metadata={"n": 2})
    repeats = [("repeat while running", await session.post_init(changed))]
    many = await asyncio.gather(*(session.post_init(changed) for _ in range(DUPLICATES)))
    repeats += [(f"{DUPLICATES} concurrent repeats", response) for response in many]
    if await watch.delivered(session.options.timeout):
        repeats.append(("repeat after completion", await session.post_init(changed)))
        await asyncio.sleep(session.options.linger)
    return repeats


def _repeat_problems(label: str, response: httpx.Response, first: Any) -> list[str]:
    if response.status_code != 202:
        return [f"{label}: HTTP {response.status_code}, expected 202"]
    return [] if _json(response) == first else [f"{label}: the 202 body differs from the first"]


async def status_endpoint(session: Session) -> Verdict:
    """GET /v1/rollout/{id} of a finished rollout that had an api_key, and of an unknown id."""
    out = await session.run("status", [answer()], api_key=session.secret)
    if out.completion is None:
        return session.precondition(out) or judge(out.problems(), "")
    response = await session.get(f"/v1/rollout/{quote(out.rollout_id, safe='')}")
    if response.status_code in (404, 405, 501):
        reason = f"GET /v1/rollout/{{id}} not offered (HTTP {response.status_code} for a known id)"
        return Verdict(CheckStatus.EXTENSION, reason)
    unknown = await session.get(f"/v1/rollout/{session.new_id('unknown')}")
    problems = _status_problems(out.completion, response)
    if unknown.status_code != 404:
        problems.append(f"an unknown id got HTTP {unknown.status_code}, expected 404")
    echoes = ["the status shows the rollout's api_key"] if _echoes(session, response) else []
    passed = "state completed with the payload, no api_key; unknown id 404"
    return judge(problems, passed, advisories=echoes)


def _status_problems(completion: dict[str, Any], response: httpx.Response) -> list[str]:
    body = _json(response)
    if response.status_code != 200 or not isinstance(body, dict):
        return [f"HTTP {response.status_code} for a known id"]
    problems = []
    state = body.get("state", body.get("status"))
    if state != "completed":
        problems.append(f"state {state!r}, expected 'completed' (one of {', '.join(STATES)})")
    if completion not in body.values():
        problems.append("the completion payload is not in the status")
    return problems
