"""The 0.3 checks that look at whole rollouts from the model's side.

Each drives a scripted rollout with the SDK's client; the mock trainer checks what the
server's agent sends it (Bearer `llm_api_key`, append-only history, tool messages, the
tools of every request), and the sample's messages are compared with the script.
"""

from __future__ import annotations

from typing import Any

from rolloutctl.check.base import CheckStatus, Verdict, judge, key_hint
from rolloutctl.check.outcome import Outcome
from rolloutctl.check.turns import answer, calling, tool_answer, tool_call
from rolloutctl.errors import KeyRequired
from rolloutctl.osmosis.check.session import OsmosisSession
from rolloutctl.trainer import Reply

__all__ = [
    "append_only",
    "chat_bearer",
    "discover",
    "outcome_problems",
    "tools_every_request",
    "usual",
]

BEARER_RULES = ("bearer_missing", "bearer_wrong", "bearer_unexpected")


async def discover(session: OsmosisSession) -> None:
    """One plain rollout; its first chat request tells which tools the agent has."""
    session.probe = await session.run("probe", [answer()])
    if session.probe.refused_status == 401:
        raise KeyRequired(key_hint(session.url, session.options.api_key))
    first = session.probe.chats[0] if session.probe.chats else {}
    tools = first.get("tools")
    session.tools = [t for t in tools if _callable(t)] if isinstance(tools, list) else []


def _callable(tool: Any) -> bool:
    function = tool.get("function") if isinstance(tool, dict) else None
    return isinstance(function, dict) and isinstance(function.get("name"), str)


def usual(session: OsmosisSession, label: str) -> tuple[list[Reply], list[dict[str, Any]]]:
    """One tool call then an answer (just the answer without tools), and the messages the
    sample should append to the initial ones."""
    final = answer()
    if not session.tools:
        return [final], [final.message]
    call = tool_call(session.tools[0], f"call_{label}_1")
    first = calling([call])
    return [first, final], [first.message, tool_answer(call["id"]), final.message]


def outcome_problems(out: Outcome, rules: tuple[str, ...] | None = None) -> list[str]:
    """No result, a failed result, the trainer's violations (only `rules`, if given)."""
    if out.error:
        return [out.error]
    problems = [] if out.completion else [f"no result within {out.waited:g} s"]
    status = (out.completion or {}).get("status")
    if out.completion and status != "success":
        problems.append(f"status {status!r}: {out.completion.get('err_message')}")
    chosen = [v for v in out.violations if rules is None or v.rule in rules]
    return problems + [f"{v.rule}: {v.message}" for v in chosen]


async def chat_bearer(session: OsmosisSession) -> Verdict:
    replies, _ = usual(session, "bearer")
    keyed = await session.run("bearer", replies, llm_api_key=session.secret)
    plain = await session.run("no-key", usual(session, "no-key")[0])
    problems = outcome_problems(keyed, BEARER_RULES) + outcome_problems(plain, BEARER_RULES)
    if not keyed.chats:
        problems.append("the agent made no chat call")
    calls = len(keyed.chats)
    return judge(problems, f"{calls} chat call(s) carried Bearer llm_api_key; none without a key")


async def append_only(session: OsmosisSession) -> Verdict:
    replies, appended = usual(session, "history")
    out = await session.run("history", replies)
    problems = outcome_problems(out) + out.history(appended)
    if len(out.chats) != len(replies):
        problems.append(f"{len(out.chats)} chat request(s), expected {len(replies)}")
    return judge(problems, f"{len(out.chats)} chat request(s), each extending the last verbatim")


async def tools_every_request(session: OsmosisSession) -> Verdict:
    if session.probe is not None and session.probe.error:
        return Verdict(CheckStatus.FAIL, f"the probe rollout failed: {session.probe.error}")
    if not session.tools:
        return Verdict(CheckStatus.SKIP, "the agent sends no tools")
    out = await session.run("tools", usual(session, "tools")[0])
    problems = outcome_problems(out, ("tools_missing", "tools_changed"))
    first = out.chats[0].get("tools") if out.chats else None
    problems += [
        f"chat request {n + 1} carries other tools than the first"
        for n, chat in enumerate(out.chats)
        if chat.get("tools") != first
    ]
    return judge(problems, f"{len(session.tools)} tool(s) in each of {len(out.chats)} requests")
