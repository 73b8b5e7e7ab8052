"""The v1 protocol's checks (PROTOCOL.md) as an adapter of the one check engine.

rolloutctl plays the trainer: inits go to the server, its chat and completion calls come
back to the mock trainer. After GET /health, one probe init learns the server's tools;
the checks then run concurrently, so a full run takes about as long as the slowest one
(the retry checks wait for the server's backoff).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import httpx

from rolloutctl.check.base import Check, CheckOptions, ProtocolAdapter, Verdict
from rolloutctl.check.v1 import requests, rollouts
from rolloutctl.check.v1.names import CHECK_NAMES
from rolloutctl.check.v1.session import Session
from rolloutctl.net.http_pool import SHORT_KEEPALIVE
from rolloutctl.trainer import MockTrainer

__all__ = ["V1Adapter"]


class V1Adapter(ProtocolAdapter[Session]):
    protocol = "v1"
    names = CHECK_NAMES
    checks: ClassVar[dict[str, Check[Any]]] = {  # CHECK_NAMES' order, health apart
        "init-tools": requests.init_tools,
        "init-defaults": requests.init_defaults,
        "no-tool-rollout": rollouts.no_tool_rollout,
        "tool-rollout": rollouts.tool_rollout,
        "bearer": rollouts.bearer,
        "completion-params": rollouts.completion_params,
        "idempotency": requests.idempotency,
        "max-turns": rollouts.max_turns,
        "max-tokens": rollouts.max_tokens,
        "chat-4xx": rollouts.chat_4xx,
        "chat-503-retry": rollouts.chat_503_retry,
        "completed-503-retry": rollouts.completed_503_retry,
        "bad-init-422": requests.bad_init_422,
        "unknown-fields": rollouts.unknown_fields,
        "concurrent-20": rollouts.concurrent_20,
        "status-endpoint": requests.status_endpoint,
    }

    def http_client(self, options: CheckOptions) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=options.timeout, limits=SHORT_KEEPALIVE)

    async def health(self, http: httpx.AsyncClient, url: str, options: CheckOptions) -> Verdict:
        return await requests.health(http, url)

    def session(
        self, url: str, trainer: MockTrainer, http: httpx.AsyncClient, options: CheckOptions
    ) -> Session:
        return Session(url, trainer, http, options)

    async def discover(self, session: Session) -> None:
        await session.discover()

    async def release(self, session: Session) -> None:
        """The probe is only awaited by init-tools; unless chosen, it is let go."""
        if session.probe is not None:
            session.probe.cancel()
            await asyncio.gather(session.probe, return_exceptions=True)
