"""`key=value` arguments, as `--param` and the human policy's `/set` take them."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["json_pairs"]


def json_pairs(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; a value that reads as JSON (0.7, true, ["x"]) is taken as such.

    ValueError names the first pair without `=`.
    """
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r} must look like key=value")
        try:
            values[key] = json.loads(text)
        except ValueError:
            values[key] = text
    return values
