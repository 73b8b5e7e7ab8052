"""Hiding secrets in text a peer sent back: one rule for every place that shows it."""

from __future__ import annotations

from typing import Any

__all__ = ["mask", "one_line"]


def mask(value: Any, *secrets: str | None) -> Any:
    """`value` with each non-empty secret replaced by *** in every string it holds."""
    if isinstance(value, str):
        for secret in secrets:
            if secret:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: mask(v, *secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, *secrets) for v in value]
    return value


def one_line(text: str, *secrets: str | None) -> str:
    """`text` masked and folded onto one line, for error messages and reasons."""
    return " ".join(mask(text, *secrets).split())
