"""The 0.3 checks that read the server's HTTP answers themselves.

Admission (202 and its body), duplicates (409), bad bodies (422 without the key),
the lease header (422 / 403 / 404), the long poll, cancel, /health, 503 when not
accepting: each sends raw requests, some of which the SDK's client would never send.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from rolloutctl.check.base import CheckOptions, CheckStatus, Verdict, judge, key_hint
from rolloutctl.check.turns import answer
from rolloutctl.errors import KeyRequired, ServerUnreachable
from rolloutctl.osmosis.check.session import OsmosisSession

__all__ = [
    "admission",
    "admission_problems",
    "admit",
    "bad_body_422",
    "body_of",
    "cancel",
    "duplicate_409",
    "health",
    "lease",
    "long_poll",
    "no_key_echo",
    "poll",
    "refusals",
    "shutdown_503",
]

TERMINAL = frozenset({"success", "failure", "cancelled"})
HOLD = 1.5  # seconds the long-poll rollout's chat answer is held
CANCEL_HOLD = 3.0  # seconds the cancel rollouts' chat answers are held (below the trainer's
# 5 s shutdown grace, so the answers still in the trainer end before it stops)
MAX_POLLS = 4  # GETs a long poll may take for one held chat answer


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


async def health(http: httpx.AsyncClient, url: str, options: CheckOptions) -> Verdict:
    """GET /health (with the inbound key: the SDK wants it there too); ServerUnreachable
    when nothing answers, KeyRequired on a 401."""
    key = options.api_key
    try:
        response = await http.get(
            url + "/health", headers={"Authorization": f"Bearer {key}"} if key else {}
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ServerUnreachable(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    if response.status_code == 401:
        raise KeyRequired(key_hint(url, key))
    body = body_of(response)
    if response.status_code != 200 or not isinstance(body, dict):
        return Verdict(CheckStatus.FAIL, f"GET /health answered HTTP {response.status_code}")
    problems = [] if body.get("status") == "ok" else [f"status is {body.get('status')!r}"]
    if body.get("status") == "healthy":  # the v1 protocol's /health
        problems[0] += " (a v1 server's /health: check it without --protocol osmosis)"
    concurrency, lifecycle = body.get("concurrency"), body.get("lifecycle")
    if not isinstance(concurrency, dict) or not {"max_concurrent", "queued", "running"} <= set(
        concurrency
    ):
        problems.append("concurrency is not {max_concurrent, queued, running}")
    ids = ("instance_id", "process_id")
    problems += [f"{k} is not a string" for k in ids if not _text(body, k)]
    if not isinstance(lifecycle, dict):
        problems.append("lifecycle is not an object")
    elif not isinstance(lifecycle.get("accepting_rollouts"), bool) or not isinstance(
        lifecycle.get("active_rollouts"), int
    ):
        problems.append("lifecycle needs accepting_rollouts (bool) and active_rollouts (int)")
    return judge(problems, f"200 ok; lifecycle {lifecycle}")


def _text(body: dict[str, Any], key: str) -> bool:
    return isinstance(body.get(key), str) and bool(body[key])


async def admit(session: OsmosisSession, label: str, delay: float = 0.0, **fields: Any) -> Any:
    """POST a scripted rollout: (rollout_id, response, lease token or None)."""
    rollout_id = session.new_id(label)
    session.plan(rollout_id, [answer()], delay)
    response = await session.post("/rollout", session.body(rollout_id, **fields))
    body = body_of(response)
    lease = body.get("polling_lease_token") if isinstance(body, dict) else None
    return rollout_id, response, lease if isinstance(lease, str) and lease else None


async def poll(session: OsmosisSession, rollout_id: str, lease: str) -> list[tuple[Any, float]]:
    """GET the result until a terminal status: (body, seconds it took) per GET."""
    answers: list[tuple[Any, float]] = []
    deadline = time.monotonic() + session.options.timeout
    while time.monotonic() < deadline:
        started = time.monotonic()
        response = await session.get_result(rollout_id, lease)
        body = body_of(response)
        answers.append((body, time.monotonic() - started))
        if response.status_code != 200 or not isinstance(body, dict):
            break
        if body.get("status") in TERMINAL or len(answers) > 200:
            break
    return answers


async def admission(session: OsmosisSession) -> Verdict:
    rollout_id, response, lease = await admit(session, "admission")
    body = body_of(response)
    if response.status_code != 202 or not isinstance(body, dict):
        return Verdict(CheckStatus.FAIL, f"POST /rollout answered HTTP {response.status_code}")
    problems = admission_problems(body, rollout_id)
    if lease is not None:
        final = (await poll(session, rollout_id, lease))[-1][0]
        status = final.get("status") if isinstance(final, dict) else None
        if status != "success":
            problems.append(f"the result's status is {status!r}, expected 'success'")
        elif not isinstance(final.get("sample"), dict) or "trajectory_messages" in final["sample"]:
            problems.append("the result's sample is missing or carries trajectory_messages")
    return judge(problems, "202 queued with a lease token; the result came back success")


def admission_problems(body: dict[str, Any], rollout_id: str) -> list[str]:
    problems = [] if body.get("rollout_id") == rollout_id else ["the 202 names another rollout"]
    if body.get("status") != "queued":
        problems.append(f"the 202's status is {body.get('status')!r}, expected 'queued'")
    if not _text(body, "polling_lease_token"):
        problems.append("the 202 has no polling_lease_token")
    wait, lease = body.get("result_wait_timeout_sec"), body.get("polling_lease_timeout_sec")
    if not _sane_timeouts(wait, lease):
        problems.append("the 202 needs result_wait_timeout_sec > 0 and a longer lease timeout")
    return problems


def _sane_timeouts(wait: Any, lease: Any) -> bool:
    """Both positive numbers, the lease longer than one wait."""
    numbers = [v for v in (wait, lease) if isinstance(v, int | float) and not isinstance(v, bool)]
    return len(numbers) == 2 and 0 < numbers[0] < numbers[1]


async def duplicate_409(session: OsmosisSession) -> Verdict:
    rollout_id, first, lease = await admit(session, "duplicate")
    if first.status_code != 202:
        return Verdict(CheckStatus.FAIL, f"the first POST answered HTTP {first.status_code}")
    again = await session.post("/rollout", session.body(rollout_id))
    if lease is not None:
        await poll(session, rollout_id, lease)
    problems = [] if again.status_code == 409 else [f"the repeat answered HTTP {again.status_code}"]
    return judge(problems, "a repeated rollout_id is refused with 409")


BAD_BODIES: list[tuple[str, dict[str, Any] | None]] = [  # None: drop that field
    ("initial_messages missing", {"initial_messages": None}),
    ("initial_messages not a list", {"initial_messages": "hello"}),
    ("rollout_id missing", {"rollout_id": None}),
    ("rollout_id with a slash", {"rollout_id": "a/b"}),
    ("chat_completions_url missing", {"chat_completions_url": None}),
    ("llm_api_key empty", {"llm_api_key": ""}),
    ("grade not a boolean", {"grade": "maybe"}),
    ("agent_timeout_sec not a number", {"agent_timeout_sec": "soon"}),
]


async def refusals(session: OsmosisSession) -> list[tuple[str, httpx.Response]]:
    """Each bad body (with the session's secret as llm_api_key) and its answer; once per run,
    shared by the two checks that read them."""
    if session.refusals is None:
        session.refusals = asyncio.ensure_future(_send_bad_bodies(session))
    return await asyncio.shield(session.refusals)


async def _send_bad_bodies(session: OsmosisSession) -> list[tuple[str, httpx.Response]]:
    answers = []
    for what, change in BAD_BODIES:
        body = session.body(session.new_id("bad"), llm_api_key=session.secret)
        for key, value in (change or {}).items():
            body.pop(key) if value is None else body.__setitem__(key, value)
        answers.append((what, await session.post("/rollout", body)))
    answers.append(("a body that is not an object", await session.post("/rollout", [1, 2])))
    return answers


async def bad_body_422(session: OsmosisSession) -> Verdict:
    answers = await refusals(session)
    problems = [
        f"{what}: HTTP {response.status_code}, expected 422"
        for what, response in answers
        if response.status_code != 422
    ]
    return judge(problems, f"{len(answers)} bad bodies refused with 422")


async def no_key_echo(session: OsmosisSession) -> Verdict:
    """A security advisory, not a rule of the protocol: the SDK's own default 422 (FastAPI's)
    echoes a body missing a field, `llm_api_key` included."""
    answers = await refusals(session)
    echoes = [
        f"{what}: the HTTP {response.status_code} answer echoes llm_api_key"
        for what, response in answers
        if session.secret in response.text
    ]
    return judge(
        [], f"no answer to {len(answers)} bad bodies echoes llm_api_key", advisories=echoes
    )


async def lease(session: OsmosisSession) -> Verdict:
    rollout_id, response, token = await admit(session, "lease")
    if token is None:
        return Verdict(CheckStatus.FAIL, f"POST /rollout answered HTTP {response.status_code}")
    expected = [(None, rollout_id, 422), ("wrong-lease", rollout_id, 403)]
    expected.append((token, session.new_id("unknown"), 404))
    problems = []
    for header, target, status in expected:
        got = (await session.get_result(target, header)).status_code
        if got != status:
            what = "no lease header" if header is None else "a wrong lease" if status == 403 else ""
            what = what or "an unknown rollout_id"
            problems.append(f"GET result with {what}: HTTP {got}, expected {status}")
    final = (await poll(session, rollout_id, token))[-1][0]
    if not isinstance(final, dict) or final.get("status") not in TERMINAL:
        problems.append("GET result with the right lease did not return the result")
    return judge(problems, "missing 422, wrong 403, unknown 404; the right lease reads the result")


async def long_poll(session: OsmosisSession) -> Verdict:
    rollout_id, response, token = await admit(session, "long-poll", delay=HOLD)
    if token is None:
        return Verdict(CheckStatus.FAIL, f"POST /rollout answered HTTP {response.status_code}")
    wait = body_of(response).get("result_wait_timeout_sec") or 30.0
    started = time.monotonic()
    answers = await poll(session, rollout_id, token)
    elapsed, (final, _) = time.monotonic() - started, answers[-1]
    problems = []
    if not isinstance(final, dict) or final.get("status") not in TERMINAL:
        problems.append("the rollout did not reach a terminal status")
    if len(answers) > MAX_POLLS:
        problems.append(f"{len(answers)} GETs answered while the model was held {HOLD:g} s")
    if elapsed >= wait:
        problems.append(f"the result took {elapsed:.1f} s: the poll did not return on the change")
    shown = ", ".join(f"{(b or {}).get('status')} after {s:.1f} s" for b, s in answers)
    return judge(problems, f"{len(answers)} GET(s): {shown}")


async def cancel(session: OsmosisSession) -> Verdict:
    """Run last: `all` cancels whatever else is in flight."""
    held = [await admit(session, f"cancel-{n}", delay=CANCEL_HOLD) for n in range(3)]
    if any(token is None for _, _, token in held):
        return Verdict(CheckStatus.FAIL, "POST /rollout was not accepted for the cancel rollouts")
    await asyncio.gather(*(_chatting(session, rid) for rid, _, _ in held))
    (a, _, a_lease), (b, _, _), (c, _, _) = held
    unknown = session.new_id("unknown")
    problems = await _cancelled(session, {"ids": [a, unknown]}, {a}, {unknown})
    problems += await _cancelled(session, {"prefix": b}, {b}, set())
    problems += await _cancelled(session, {"all": True}, {c}, set())
    for selector in ({}, {"ids": [a], "all": True}):
        got = (await session.post("/rollout/cancel", selector)).status_code
        if got != 422:
            problems.append(f"cancel with {selector}: HTTP {got}, expected 422")
    final = (await poll(session, a, a_lease))[-1][0]
    if not isinstance(final, dict) or final.get("status") != "cancelled":
        problems.append(f"a cancelled rollout's result is {(final or {}).get('status')!r}")
    problems += await _cancelled(session, {"ids": [a]}, set(), {a})
    return judge(problems, "by ids, prefix and all; unknown and finished ids are not_found")


async def _chatting(session: OsmosisSession, rollout_id: str) -> None:
    """Until the rollout's first chat call reaches the trainer (it is then running)."""
    deadline = time.monotonic() + session.options.timeout
    while rollout_id not in session.trainer.records.rollouts and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _cancelled(
    session: OsmosisSession, selector: dict[str, Any], cancelled: set[str], missing: set[str]
) -> list[str]:
    response = await session.post("/rollout/cancel", selector)
    body = body_of(response)
    found = body.get("dispositions") if isinstance(body, dict) else None
    if response.status_code != 200 or not isinstance(found, dict):
        return [f"cancel {selector}: HTTP {response.status_code} without dispositions"]
    problems = [
        f"cancel {selector}: {rid} is {found.get(rid)!r}"
        for rid in sorted(cancelled)
        if found.get(rid) not in ("cancelled_queued", "cancelled_running")
    ]
    problems += [
        f"cancel {selector}: {rid} is {found.get(rid)!r}, expected 'not_found'"
        for rid in sorted(missing)
        if found.get(rid) != "not_found"
    ]
    if "prefix" in selector and set(found) - cancelled:
        problems.append(f"cancel {selector} touched other rollouts")
    return problems


async def shutdown_503(session: OsmosisSession) -> Verdict:
    """Observable only while /health says the server is not accepting rollouts."""
    health = body_of(await session.http.get(session.url + "/health", headers=session.headers()))
    lifecycle = health.get("lifecycle") if isinstance(health, dict) else None
    if not isinstance(lifecycle, dict) or lifecycle.get("accepting_rollouts") is not False:
        return Verdict(CheckStatus.SKIP, "not observable: the server is accepting rollouts")
    _, response, _ = await admit(session, "shutdown")
    problems = [] if response.status_code == 503 else [f"POST answered {response.status_code}"]
    return judge(problems, "not accepting rollouts, and POST /rollout answers 503")
