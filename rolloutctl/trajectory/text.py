"""Making untrusted text safe and short enough to print: the live view's text rules.

Everything a view prints from a message (content, tool arguments, tool results) comes
from the model, a tool or a remote server. An escape sequence in it would recolour the
terminal or swallow the rest of a line, so every control character is shown as a
visible escape instead; and a 100 KB prompt is cut to `max_chars` with a marker saying
how much was left out.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "COMPACT_CALL_LIMIT",
    "DEFAULT_MAX_CHARS",
    "clip",
    "compact_call",
    "decode_arguments",
    "display_content",
    "has_controls",
    "is_error_result",
    "shown",
    "visible",
]

DEFAULT_MAX_CHARS = 2000  # about a screenful; --full shows everything
COMPACT_CALL_LIMIT = 100  # a longer `name(a=1, ...)` line is shown as indented JSON

# C0 controls except tab and newline, DEL, and the C1 controls (0x80-0x9f, e.g. CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NAMED = {"\x1b": "\\e", "\r": "\\r", "\x00": "\\0"}


def visible(text: str) -> str:
    """`text` with every control character but tab and newline shown as an escape."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def has_controls(text: str) -> bool:
    """Whether `visible` would change `text`."""
    return _CONTROL.search(text) is not None


def clip(text: str, max_chars: int | None) -> str:
    """`text` cut to `max_chars` (None: no limit) with a marker naming what was left out."""
    if max_chars is None or len(text) <= max_chars:
        return text
    hidden = len(text) - max_chars
    return f"{text[:max_chars]}… [{hidden:,} more characters; --full shows all]"


def shown(text: str, max_chars: int | None) -> str:
    """What a view prints for untrusted `text`: clipped, then made visible."""
    return visible(clip(text, max_chars))


def display_content(content: Any) -> str:
    """Message content as text to show: a string, the text parts of a list of parts, or its
    JSON (unlike the trainer's `content_text`, which keeps only text, for token ids)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "\n".join(str(p.get("text", json.dumps(p))) for p in content)
    return json.dumps(content, ensure_ascii=False, default=str)


def decode_arguments(arguments: Any) -> tuple[Any, bool]:
    """Tool-call arguments parsed from their JSON string, and whether that worked."""
    try:
        return (json.loads(arguments) if isinstance(arguments, str) else arguments), True
    except ValueError:
        return arguments, False


def compact_call(name: str, arguments: Any) -> str | None:
    """`add(a=5, b=3)`, or None when the arguments are not a short JSON object."""
    data, valid = decode_arguments(arguments)
    if not valid or not isinstance(data, dict):
        return None
    if any(isinstance(value, dict | list) for value in data.values()):
        return None
    pairs = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in data.items()
    )
    line = f"{name}({pairs})"
    return line if len(line) <= COMPACT_CALL_LIMIT else None


def is_error_result(content: Any) -> bool:
    """A tool result reporting failure: the protocol starts those with `Error: `."""
    return display_content(content).startswith("Error:")
