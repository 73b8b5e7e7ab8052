"""Hiding secrets in text a peer sent back: one rule for every place that shows it.

A key is masked as a whole token: where it stands between characters that cannot
belong to a key (spaces, quotes, `:`, `,`...), never inside an ordinary word, which
would both garble the text and show where the key's letters are. Its surrounding
whitespace does not count: `" sk-1 "` is masked wherever `sk-1` stands alone, because
a peer that strips the header value echoes the bare token.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["mask", "one_line", "without_credentials"]

_KEY_CHARS = r"A-Za-z0-9_.~+/\-"  # RFC 6750 token68 and the underscore; "=" only ends one


@functools.lru_cache(maxsize=64)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    forms = sorted({s.strip() for s in secrets if s and s.strip()}, key=len, reverse=True)
    if not forms:
        return None
    alternatives = "|".join(re.escape(form) for form in forms)
    return re.compile(rf"(?<![{_KEY_CHARS}])(?:{alternatives})(?![{_KEY_CHARS}=])")


def mask(value: Any, *secrets: str | None) -> Any:
    """`value` with each non-empty secret replaced by *** in every string it holds."""
    pattern = _pattern(tuple(s for s in secrets if s))
    return value if pattern is None else _masked(value, pattern)


def _masked(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub("***", value)
    if isinstance(value, dict):
        return {k: _masked(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, pattern) for v in value]
    return value


def one_line(text: str, *secrets: str | None) -> str:
    """`text` masked and folded onto one line, for error messages and reasons."""
    return " ".join(mask(text, *secrets).split())


def without_credentials(url: str) -> str:
    """`url` with any `user:password@` left out, for files and output that outlive it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
