"""The checks of `rolloutctl check` that run whole rollouts against scripted trainer answers.

Each one scripts what the model says (and how the trainer's endpoints fail) for its
own rollouts, then compares what the server sent with what PROTOCOL.md requires.
Tool calls are built from the server's own tool schemas, never assumed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rolloutctl.check.base import CheckStatus, Verdict, judge
from rolloutctl.check.outcome import Outcome
from rolloutctl.check.turns import answer, calling, tool_answer, tool_call
from rolloutctl.check.v1.session import Session
from rolloutctl.protocol import CHAT_FIELDS
from rolloutctl.trainer import Reply

__all__ = [
    "CONCURRENT",
    "PARAMS",
    "SAMPLING_KEYS",
    "bearer",
    "chat_4xx",
    "chat_503_retry",
    "completed_503_retry",
    "completion_params",
    "concurrent_20",
    "max_tokens",
    "max_turns",
    "no_tool_rollout",
    "params_problems",
    "tool_rollout",
    "unknown_fields",
    "usual",
    "without_tools",
]

PARAMS = {
    "temperature": 0.25,
    "top_p": 0.8,
    "max_tokens": 77,
    "stop": ["<|end-of-check|>"],
    "logprobs": True,
    "seed": 1234,
    "x_check_param": {"nested": [1, "two", None]},
    "model": "check-must-not-replace-default",
}
SAMPLING_KEYS = frozenset(  # keys a server might add on its own: none may appear unasked
    {
        "temperature", "top_p", "top_k", "min_p", "max_tokens", "max_completion_tokens", "stop",
        "logprobs", "top_logprobs", "n", "seed", "presence_penalty", "frequency_penalty",
        "repetition_penalty", "logit_bias", "stream", "tools", "tool_choice",
        "parallel_tool_calls", "response_format",
    }
)  # fmt: skip
CONCURRENT = 20


def usual(session: Session) -> tuple[list[Reply], int]:
    """The everyday script: one tool call then an answer (just the answer without tools)."""
    if not session.tools:
        return [answer()], 1
    return [calling([tool_call(session.tools[0], "call_usual_1")]), answer()], 2


def without_tools(session: Session) -> Verdict:
    """The verdict of a check that needs a tool when the server offers none to call: not
    tested, and init-tools says why when the tools were unusable."""
    if session.tools_error:
        return Verdict(CheckStatus.SKIP, f"cannot learn the tools: {session.tools_error}")
    if session.lint.errors:
        return Verdict(CheckStatus.SKIP, "no usable tool to call (see init-tools)")
    return Verdict(CheckStatus.SKIP, "server declares no tools")


async def no_tool_rollout(session: Session) -> Verdict:
    reply = answer()
    out = await session.run("no-tool", [reply])
    problems = out.problems() + out.expect("COMPLETED", "stop", 1)
    problems += out.history([reply.message])
    passed = "COMPLETED (stop) after 1 LLM call; final_messages = initial + answer"
    return session.precondition(out) or judge(problems, passed)


async def tool_rollout(session: Session) -> Verdict:
    if not session.tools:
        return without_tools(session)
    first, second = session.tools[0], session.tools[min(1, len(session.tools) - 1)]
    calls = [tool_call(first, "call_check_1"), tool_call(second, "call_check_2")]
    replies = [calling(calls), calling([tool_call(first, "call_check_3")]), answer()]
    out = await session.run("tool", replies)
    tail = [replies[0].message, tool_answer("call_check_1"), tool_answer("call_check_2")]
    tail += [replies[1].message, tool_answer("call_check_3"), replies[2].message]
    problems = out.problems() + out.expect("COMPLETED", "stop", 3) + out.history(tail)
    metrics = (out.completion or {}).get("metrics") or {}
    if out.completion and (metrics.get("num_llm_calls"), metrics.get("num_tool_calls")) != (3, 3):
        problems.append("metrics do not count 3 LLM calls and 3 tool calls")
    names = ", ".join(sorted({first["function"]["name"], second["function"]["name"]}))
    passed = f"3 tool calls ({names}) in 3 LLM turns: append-only, tool messages in call order"
    return session.precondition(out) or judge(problems, passed + _refusals(out))


def _refusals(out: Outcome) -> str:
    """A note when tools refused the arguments built from their schemas: allowed, worth a look."""
    final = (out.completion or {}).get("final_messages") or []
    refused = [
        m for m in final if m.get("role") == "tool" and str(m.get("content")).startswith("Error: ")
    ]
    return f"; note: {len(refused)} tool message(s) start 'Error: '" if refused else ""


async def bearer(session: Session) -> Verdict:
    (with_key, calls), (without, _) = usual(session), usual(session)
    keyed, plain = await asyncio.gather(
        session.run("bearer-key", with_key, api_key=session.secret),
        session.run("bearer-none", without),
    )
    problems = keyed.problems() + plain.problems()
    passed = f"Bearer on {calls} chat + 1 completed call(s); no Authorization without a key"
    return session.precondition(keyed, plain) or judge(problems, passed)


async def completion_params(session: Session) -> Verdict:
    (given, calls), (none, _) = usual(session), usual(session)
    with_params, bare = await asyncio.gather(
        session.run("params", given, completion_params=PARAMS), session.run("params-none", none)
    )
    problems = with_params.problems() + bare.problems()
    for out, params in ((with_params, PARAMS), (bare, {})):
        for body in out.chats:
            problems += params_problems(body, out.rollout_id, params)
    passed = f"{len(PARAMS) - 1} params copied verbatim into {calls} chat request(s)"
    return session.precondition(with_params, bare) or judge(problems, passed + "; no defaults")


def params_problems(body: dict[str, Any], rollout_id: str, params: dict[str, Any]) -> list[str]:
    found = []
    if body.get("model") != "default" or body.get("rollout_id") != rollout_id:
        found.append("a completion_params key replaced the protocol's model or rollout_id")
    lost = [k for k, v in params.items() if k not in CHAT_FIELDS and body.get(k, ...) != v]
    if lost:
        found.append(f"completion_params not copied as given: {', '.join(lost)}")
    added = sorted(k for k in body if k in SAMPLING_KEYS and k not in params)
    if added:
        found.append(f"chat request adds {', '.join(added)} (not in completion_params)")
    return found


async def max_turns(session: Session) -> Verdict:
    if not session.tools:
        return without_tools(session)
    replies = [calling([tool_call(session.tools[0], f"call_turn_{n}")]) for n in (1, 2, 3, 4)]
    out = await session.run("max-turns", [*replies, answer()], max_turns=2)
    tail = [replies[0].message, tool_answer("call_turn_1")]
    tail += [replies[1].message, tool_answer("call_turn_2")]
    problems = out.problems() + out.expect("COMPLETED", "max_turns", 2) + out.history(tail)
    passed = "max_turns=2: 2 LLM calls, finish_reason max_turns, tool messages last"
    return session.precondition(out) or judge(problems, passed)


async def max_tokens(session: Session) -> Verdict:
    if not session.tools:
        return without_tools(session)
    tool = session.tools[0]
    replies = [calling([tool_call(tool, f"call_budget_{n}")], completion_tokens=30) for n in (1, 2)]
    out = await session.run("max-tokens", [*replies, answer()], max_tokens_total=50)
    tail = [replies[0].message, tool_answer("call_budget_1"), replies[1].message]
    problems = out.problems() + out.expect("COMPLETED", "max_tokens", 2) + out.history(tail)
    passed = "max_tokens_total=50: ended after 30+30 tokens, last call not run"
    return session.precondition(out) or judge(problems, passed)


async def chat_4xx(session: Session) -> Verdict:
    out = await session.run("chat-4xx", [400] * 4)
    retried = [f"the chat call was retried after a 400 ({len(out.chats)} requests)"]
    problems = (retried if len(out.chats) > 1 else []) + out.problems()
    problems += out.expect("ERROR", "error", None)
    extra = (out.completion or {}).get("extra_fields") or {}
    if out.completion and extra.get("error_category") != "trainer_client_error":
        problems.append(
            f"error_category {extra.get('error_category')!r}, expected trainer_client_error"
        )
    if out.completion and not out.completion.get("error_message"):
        problems.append("the ERROR completion has no error_message")
    problems += out.history([])  # as much as was built: the initial messages
    passed = "400 not retried; one ERROR completion, category trainer_client_error"
    return session.precondition(out) or judge(problems, passed)


async def chat_503_retry(session: Session) -> Verdict:
    reply = answer()
    out = await session.run("chat-503", [503, reply])
    problems = ["no retry after a 503"] if len(out.chats) < 2 else []
    if len(out.chats) >= 2 and out.chats[1].get("messages") != out.chats[0].get("messages"):
        problems.append("the retry carried other messages than the failed request")
    problems += out.problems() + out.expect("COMPLETED", "stop", 2)
    problems += out.history([reply.message])
    passed = "503 retried with the same request, then COMPLETED"
    return session.precondition(out) or judge(problems, passed)


async def completed_503_retry(session: Session) -> Verdict:
    out = await session.run("completed-503", [answer()], completed=[503])
    problems = ["no retry after the completed post got a 503"] if len(out.posts) < 2 else []
    if len(out.posts) >= 2 and not _same_payload(out.posts[0][1], out.posts[1][1]):
        problems.append("the retried completion differs from the refused one")
    problems += out.problems() + out.expect("COMPLETED", "stop", 1)
    passed = "completed 503 then 200: delivered exactly once, same payload"
    return session.precondition(out) or judge(problems, passed)


def _same_payload(first: dict[str, Any], second: dict[str, Any]) -> bool:
    keys = ("rollout_id", "status", "finish_reason", "final_messages")
    return all(first.get(key) == second.get(key) for key in keys)


async def unknown_fields(session: Session) -> Verdict:
    reply = answer(x_check_extra={"kept": True})
    user = {"role": "user", "content": "Unknown fields ahead.", "x_check_note": "keep me"}
    extras = {"x_check_future_field": {"nested": [1]}, "priority": "high"}
    messages = [{"role": "system", "content": "Checked by rolloutctl check."}, user]
    out = await session.run("unknown-fields", [reply], messages=messages, **extras)
    problems = out.problems() + out.expect("COMPLETED", "stop", 1)
    if out.chats and out.chats[0].get("messages") != messages:
        problems.append("the first chat request does not carry the initial messages verbatim")
    problems += out.history([reply.message])
    passed = "unknown init and message fields ignored, unknown reply fields kept"
    return session.precondition(out) or judge(problems, passed)


async def concurrent_20(session: Session) -> Verdict:
    scripts = [usual(session) for _ in range(CONCURRENT)]
    outs = await asyncio.gather(*(session.run("concurrent", replies) for replies, _ in scripts))
    problems = [
        f"{out.rollout_id}: {problem}"
        for out, (_, calls) in zip(outs, scripts, strict=True)
        for problem in out.problems() + out.expect("COMPLETED", "stop", calls)
    ]
    passed = f"{CONCURRENT} rollouts at once: all COMPLETED, each delivered exactly once"
    return session.precondition(*outs) or judge(problems, passed)
