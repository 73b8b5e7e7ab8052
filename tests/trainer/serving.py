"""A mock trainer served as bench serves it (rolloutctl's lean HTTP server), and the
requests the route tests send it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

from rolloutctl.trainer import MockTrainer
from tests.helpers import CALCULATOR_TOOLS, run_trainer

USER = [{"role": "user", "content": "What is 5 + 3?"}]


@contextlib.contextmanager
def serving(trainer: MockTrainer) -> Iterator[httpx.Client]:
    with run_trainer(trainer.app) as url, httpx.Client(base_url=url, timeout=30) as client:
        trainer.url = url
        yield client


def chat(
    client: httpx.Client, rollout_id: str, messages: list, headers: dict | None = None, **extra
) -> httpx.Response:
    body = {"model": "default", "rollout_id": rollout_id, "messages": messages,
            "tools": CALCULATOR_TOOLS, **extra}  # fmt: skip
    return client.post("/v1/chat/completions", json=body, headers=headers)


def completed(rollout_id: str, final: list, status: str = "COMPLETED") -> dict:
    return {"rollout_id": rollout_id, "status": status, "final_messages": final,
            "finish_reason": "stop", "metrics": {"num_llm_calls": 1}}  # fmt: skip
