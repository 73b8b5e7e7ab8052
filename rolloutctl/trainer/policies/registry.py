"""The simple policies (echo, script) and `make_policy`, which builds any policy by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rolloutctl.errors import JsonLimitError, PolicyError
from rolloutctl.jsonlimits import loads
from rolloutctl.trainer.fake_tokens import content_text
from rolloutctl.trainer.policies.base import Policy, Reply, Turn, assistant
from rolloutctl.trainer.policies.calculator import CalculatorPolicy
from rolloutctl.trainer.policies.proxy import ProxyPolicy

__all__ = [
    "END_OF_SCRIPT",
    "POLICY_NAMES",
    "EchoPolicy",
    "ReplyFilePolicy",
    "load_script",
    "make_policy",
]

END_OF_SCRIPT = "(end of script)"


class EchoPolicy(Policy):
    name = "echo"

    def describe(self) -> str:
        return "echo (answers with the last user message)"

    async def reply(self, turn: Turn) -> Reply:
        for message in reversed(turn.messages):
            if message.get("role") == "user":
                return Reply(assistant(content_text(message.get("content"))))
        return Reply(assistant(""))


class ReplyFilePolicy(Policy):
    """Serves the file's replies in order, the n-th chat call of a rollout getting entry n."""

    name = "script"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.replies = load_script(self.path)

    def describe(self) -> str:
        return f"script ({len(self.replies)} replies from {self.path})"

    async def reply(self, turn: Turn) -> Reply:
        if turn.index < len(self.replies):
            return self.replies[turn.index]
        return Reply(assistant(END_OF_SCRIPT))


def load_script(path: Path) -> list[Reply]:
    """A JSON list or JSONL of assistant messages, each with optional usage/finish_reason."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(f"cannot read script {path}: {exc.strerror}") from None
    try:
        stripped = text.lstrip()
        entries = loads(text) if stripped.startswith("[") else _jsonl(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"script {path} is not JSON or JSONL: {exc}") from None
    except JsonLimitError as exc:
        raise PolicyError(f"script {path}: {exc}") from None
    if not isinstance(entries, list) or not entries:
        raise PolicyError(f"script {path} must hold a non-empty list of assistant messages")
    return [_script_reply(entry, number, path) for number, entry in enumerate(entries, 1)]


def _jsonl(text: str) -> list[Any]:
    """One JSON value per non-blank line; an error points at its line and column in `text`."""
    entries, start = [], 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            try:
                entries.append(loads(line))
            except json.JSONDecodeError as exc:
                raise json.JSONDecodeError(exc.msg, text, start + exc.pos) from None
        start += len(line)
    return entries


def _script_reply(entry: Any, number: int, path: Path) -> Reply:
    """Entry: {"role", "content", "tool_calls", "usage"?, "finish_reason"?} or {"message": ...}."""
    if not isinstance(entry, dict):
        raise PolicyError(f"script {path}: entry {number} is not an object")
    entry = dict(entry)
    usage, finish = entry.pop("usage", None), entry.pop("finish_reason", None)
    message = dict(entry.pop("message", entry))
    message.setdefault("role", "assistant")
    message.setdefault("content", None)
    try:
        calls = message.get("tool_calls") or []
        message_calls = [
            _normalise_call(call, f"call_s{number}_{i}") for i, call in enumerate(calls)
        ]
        usage = _full_usage(usage)
    except (TypeError, ValueError, AttributeError):
        raise PolicyError(
            f"script {path}: entry {number} has malformed tool_calls or usage"
        ) from None
    if message_calls:
        message["tool_calls"] = message_calls
    return Reply(message, str(finish or ("tool_calls" if message_calls else "stop")), usage)


def _normalise_call(call: dict[str, Any], default_id: str) -> dict[str, Any]:
    """The call with id, type and a JSON-string `arguments` filled in."""
    call = dict(call)
    call.setdefault("id", default_id)
    call.setdefault("type", "function")
    function = call["function"] = dict(call.get("function") or {})
    arguments = function.get("arguments", "{}")
    function["arguments"] = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return call


def _full_usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    total = int(usage.get("total_tokens", prompt + completion))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


POLICY_NAMES = ("calculator", "echo", "script", "proxy", "human")  # what make_policy builds


def make_policy(
    name: str = "calculator",
    *,
    path: str | Path | None = None,
    upstream: str | None = None,
    model: str | None = None,
    upstream_key_env: str | None = None,
) -> Policy:
    """Build a policy by name; PolicyError (a ValueError) names what is missing or wrong."""
    if name == "calculator":
        return CalculatorPolicy()
    if name == "echo":
        return EchoPolicy()
    if name == "human":
        from rolloutctl.trainer.policies.human import HumanPolicy

        return HumanPolicy()
    if name == "script":
        if path is None:
            raise PolicyError("the script policy needs a file (path)")
        return ReplyFilePolicy(path)
    if name == "proxy":
        if not upstream:
            raise PolicyError("the proxy policy needs an upstream URL")
        return ProxyPolicy(upstream, model=model, key_env=upstream_key_env)
    raise PolicyError(f"unknown policy {name!r}; choose one of: {', '.join(POLICY_NAMES)}")
