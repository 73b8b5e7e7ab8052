"""The proxy policy: forwards chat calls to a real OpenAI-compatible model server.

The upstream key comes from an environment variable named by an option, so it never
sits on a command line. The rollout's tools (learned from the init's 202) are passed
on, since the RolloutServer does not send them with chat calls.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from rolloutctl.errors import PolicyError, UpstreamError, UpstreamUnreachable
from rolloutctl.net.http_pool import SHORT_KEEPALIVE
from rolloutctl.protocol import CHAT_FIELDS
from rolloutctl.trainer.policies.base import Policy, Reply, Turn

__all__ = ["ProxyPolicy", "upstream_endpoint"]


def upstream_endpoint(upstream: str) -> str:
    """Accepts a bare host URL, a base ending in /v1, or the full chat completions URL."""
    base = upstream.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


class ProxyPolicy(Policy):
    name = "proxy"

    def __init__(self, upstream: str, model: str | None = None, key_env: str | None = None):
        if not upstream.startswith(("http://", "https://")):
            raise PolicyError(f"upstream must be an http(s) URL, got {upstream!r}")
        self.endpoint = upstream_endpoint(upstream)
        self.model = model
        self._key = os.environ.get(key_env, "").strip() if key_env else ""
        if key_env and not self._key:
            raise PolicyError(f"environment variable {key_env} (the upstream key) is not set")
        self._headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        self._client: httpx.AsyncClient | None = None

    def describe(self) -> str:
        return f"proxy to {self.endpoint} (model {self.model or 'as requested'})"

    async def check_reachable(self) -> None:
        """UpstreamUnreachable (exit 3) when nothing answers at the upstream: one look
        before a run, rather than every rollout failing after its retries."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
            try:
                await client.get(self.endpoint, headers=self._headers)
            except httpx.HTTPError as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise UpstreamUnreachable(
                    f"cannot reach the upstream model at {self.endpoint}: {reason}"
                ) from None

    async def reply(self, turn: Turn) -> Reply:
        data = await self._post(self.request_body(turn))
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            message = None
        if not isinstance(message, dict):
            raise UpstreamError(502, "upstream answer has no choices[0].message object")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        finish = choice.get("finish_reason") or "stop"
        return Reply(message, finish, usage, data.get("model") or self.model)

    def request_body(self, turn: Turn) -> dict[str, Any]:
        """The chat request as the upstream gets it: sampling params kept, tools added."""
        body = {k: v for k, v in turn.body.items() if k not in CHAT_FIELDS}
        body["model"] = self.model or turn.body.get("model") or "default"
        body["messages"] = turn.messages
        if turn.tools:
            body["tools"] = turn.tools
        return body

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._client is None:
            timeout = httpx.Timeout(300.0, connect=10.0)
            self._client = httpx.AsyncClient(timeout=timeout, limits=SHORT_KEEPALIVE)
        try:
            response = await self._client.post(self.endpoint, json=body, headers=self._headers)
        except httpx.TimeoutException:
            raise UpstreamError(504, f"upstream {self.endpoint} timed out") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(502, f"upstream {self.endpoint} unreachable: {exc!r}") from None
        code = response.status_code
        if code >= 300:
            snippet = (
                response.text[:300].replace(self._key, "***") if self._key else response.text[:300]
            )
            status = code if 400 <= code < 600 else 502
            raise UpstreamError(status, f"upstream answered {code}: {snippet}")
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(502, "upstream answer is not JSON") from None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
