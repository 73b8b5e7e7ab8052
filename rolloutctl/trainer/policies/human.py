"""The human policy: a person at the keyboard plays the model, one turn at a time.

At every chat call it prints what the model would see (the conversation so far, the
tools on the first turn) and reads the reply: plain text answers, `/call NAME ARGS`
calls a tool, its arguments checked against the tool's schema before they go out.
TAB completes commands and tool names (readline). Input is read in a thread, so the
servers in this process keep running while the person thinks; a lock keeps
concurrent rollouts from asking at once.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Callable
from typing import Any

from rolloutctl.keyvalue import json_pairs
from rolloutctl.schema.fit import argument_problems
from rolloutctl.trainer.fake_tokens import content_text
from rolloutctl.trainer.policies.base import Policy, Reply, Turn, assistant

COMMANDS = ("/call", "/tools", "/show", "/help")
HELP = (
    "Type the assistant's reply and press Enter, or:\n"
    '  /call NAME {"a": 1}   call a tool with JSON arguments\n'
    "  /call NAME a=1 b=x    the same with key=value pairs\n"
    "  /tools                list the tools and their parameters\n"
    "  /show                 show the whole conversation again\n"
    "  TAB completes commands and tool names; Ctrl-D answers with nothing."
)

__all__ = [
    "HumanPolicy",
    "message_line",
    "parse_arguments",
    "tools_text",
]
PROMPT = "assistant> "


class HumanPolicy(Policy):
    name = "human"

    def __init__(
        self,
        read: Callable[[str], str] = input,
        write: Callable[[str], None] = lambda text: print(text, flush=True),
    ) -> None:
        self._read, self._write = read, write
        self._lock = asyncio.Lock()
        self._tools: list[dict[str, Any]] = []

    def describe(self) -> str:
        return "human (you type each assistant turn)"

    async def reply(self, turn: Turn) -> Reply:
        async with self._lock:
            self._tools = turn.tools or []
            _install_completion(self._tools)
            self._write(_turn_header(turn) + "\n" + "\n".join(_shown(turn)))
            if turn.index == 0:
                self._write(tools_text(self._tools) + "\n" + HELP)
            while True:
                try:
                    line = await asyncio.to_thread(self._read, PROMPT)
                except EOFError:
                    return Reply(assistant(""))
                reply = self._answer(line.strip(), turn)
                if reply is not None:
                    return reply

    def _answer(self, line: str, turn: Turn) -> Reply | None:
        """The reply `line` asks for, or None after printing help or a problem."""
        if not line:
            return None
        if not line.startswith("/"):
            return Reply(assistant(line))
        command, _, rest = line.partition(" ")
        if command == "/call":
            return self._call(rest.strip(), turn)
        if command == "/tools":
            self._write(tools_text(self._tools))
        elif command == "/show":
            self._write("\n".join(message_line(m, turn.messages) for m in turn.messages))
        else:
            self._write(HELP)
        return None

    def _call(self, text: str, turn: Turn) -> Reply | None:
        name, _, raw = text.partition(" ")
        schema = next((t for t in self._tools if _tool_name(t) == name), None)
        if schema is None:
            known = ", ".join(_tool_name(t) for t in self._tools) or "none"
            self._write(f"no tool {name!r}; tools: {known}")
            return None
        try:
            arguments = parse_arguments(raw)
        except ValueError as exc:
            self._write(f"cannot read the arguments: {exc}")
            return None
        problems = argument_problems(arguments, (schema.get("function") or {}).get("parameters"))
        if problems:
            self._write(f"{name}: " + "; ".join(problems))
            return None
        call = {
            "id": f"call_h{turn.index}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        return Reply(assistant(None, [call]), "tool_calls")


def parse_arguments(raw: str) -> dict[str, Any]:
    """`{"a": 1}` or `a=1 b="two words"`; values that read as JSON are taken as such."""
    raw = raw.strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError("JSON arguments must be an object")
        return value
    return json_pairs(shlex.split(raw))


def _turn_header(turn: Turn) -> str:
    return f"\n== {turn.rollout_id}: model turn {turn.index + 1} =="


def _shown(turn: Turn) -> list[str]:
    """The first turn shows everything; later ones what came after the last reply."""
    messages = turn.messages
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    start = 0 if turn.index == 0 else last + 1
    return [message_line(m, messages) for m in messages[start:]]


def message_line(message: dict[str, Any], history: list[dict[str, Any]]) -> str:
    role = message.get("role", "?")
    text = content_text(message.get("content"))
    if role == "tool":
        name = _call_name(message.get("tool_call_id"), history)
        return f"tool {name} -> {text}"
    calls = [
        f"{role} -> call {(c.get('function') or {}).get('name')} "
        f"{(c.get('function') or {}).get('arguments')}"
        for c in message.get("tool_calls") or []
    ]
    return "\n".join([f"{role}: {text}"] * bool(text) + calls) or f"{role}: (empty)"


def _call_name(call_id: Any, history: list[dict[str, Any]]) -> str:
    for message in history:
        for call in message.get("tool_calls") or []:
            if call.get("id") == call_id:
                return str((call.get("function") or {}).get("name"))
    return "?"


def tools_text(tools: list[dict[str, Any]]) -> str:
    if not tools:
        return "tools: none"
    lines = ["tools:"]
    for tool in tools:
        function = tool.get("function") or {}
        parameters = function.get("parameters") or {}
        required = set(parameters.get("required") or [])
        params = ", ".join(
            f"{name}: {(spec or {}).get('type', 'any')}{'' if name in required else '?'}"
            for name, spec in (parameters.get("properties") or {}).items()
        )
        lines.append(f"  {function.get('name')}({params})  {function.get('description', '')}")
    return "\n".join(lines)


def _tool_name(tool: dict[str, Any]) -> str:
    return str((tool.get("function") or {}).get("name"))


def _install_completion(tools: list[dict[str, Any]]) -> None:
    """TAB: commands at the start of the line, tool names after `/call `."""
    try:
        import readline
    except ImportError:  # no readline (e.g. Windows): typing still works
        return
    names = [_tool_name(t) for t in tools]

    def complete(text: str, state: int) -> str | None:
        line = readline.get_line_buffer()
        pool = names if line.startswith("/call ") else COMMANDS
        matches = [f"{word} " for word in pool if word.startswith(text)]
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" ")
    readline.parse_and_bind("tab: complete")
