"""Deterministic stand-ins for a tokenizer's output: token ids and logprobs.

Real trainers return `token_ids`, `logprobs` and `prompt_token_ids` with each chat
answer. The mock has no tokenizer, so each whitespace-separated word becomes one id
from a stable hash: the same text always gives the same ids, in any process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zlib import crc32

__all__ = ["VOCAB_SIZE", "content_text", "logprobs_for", "message_ids", "prompt_ids", "text_ids"]

VOCAB_SIZE = 32000
_ROLE_IDS = {"system": 1, "user": 2, "assistant": 3, "tool": 4}


@lru_cache(maxsize=16384)
def text_ids(text: str) -> tuple[int, ...]:
    """One id per word, from CRC-32 (stable across processes, unlike hash()); cached
    because system prompts and questions repeat across the rollouts of a run."""
    return tuple(crc32(word.encode()) % VOCAB_SIZE + 100 for word in text.split())


def content_text(content: Any) -> str:
    """The text of an OpenAI message content: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def message_ids(message: dict[str, Any]) -> list[int]:
    """Ids of one message: a role marker, its content, then its tool calls."""
    ids = [_ROLE_IDS.get(str(message.get("role")), 5)]
    ids += text_ids(content_text(message.get("content")))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        ids += text_ids(f"{function.get('name', '')} {function.get('arguments', '')}")
    return ids


def prompt_ids(messages: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for message in messages:
        ids += message_ids(message)
    return ids


def logprobs_for(ids: list[int]) -> list[float]:
    """One plausible negative logprob per token, derived from the id."""
    return [-((token * 2654435761) % 4096) / 1024.0 for token in ids]
