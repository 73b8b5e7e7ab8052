"""Starting rollouts from the trainer side: send the init, learn the tools, await the completion."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from pydantic import ValidationError

from rolloutctl.errors import InitError, InitRefused
from rolloutctl.events import EventKind
from rolloutctl.net.http_pool import HttpPool
from rolloutctl.net.pool_messages import PoolResponse, encode_headers
from rolloutctl.protocol import INIT_PATH, InitResponse
from rolloutctl.redaction import mask
from rolloutctl.trainer.bus import wait_within
from rolloutctl.trainer.records import Records, TrainerRolloutRecord

__all__ = [
    "INIT_TIMEOUT_S",
    "RolloutHandle",
    "Starter",
    "api_key_of",
    "redacted_init",
]

INIT_TIMEOUT_S = 30.0


@dataclass
class RolloutHandle:
    rollout_id: str
    tools: list[dict[str, Any]]
    init_status: int
    _state: TrainerRolloutRecord = field(repr=False)

    @property
    def completion(self) -> dict[str, Any] | None:
        return self._state.completion

    async def wait(self, timeout: float) -> dict[str, Any] | None:
        """The first completion payload, or None if none arrived within `timeout` seconds."""
        if self._state.completion is None:
            waiter = self._state.completed.add()
            if self._state.completion is None and not await wait_within(waiter, timeout):
                return None
        return self._state.completion


def redacted_init(init: dict[str, Any]) -> dict[str, Any]:
    """The init as events and files may show it: a present api_key becomes "***"."""
    shown = dict(init)
    if "api_key" in shown:
        shown["api_key"] = "***" if api_key_of(init) else None
    return shown


def api_key_of(init: dict[str, Any]) -> str | None:
    key = init.get("api_key")
    return key if isinstance(key, str) and key.strip() else None


def _body_of(response: httpx.Response | PoolResponse) -> Any:
    """An answer's JSON, else the start of its text. orjson reads what json reads, but
    NaN, Infinity and integers past 64 bits, at a fraction of json's cost."""
    with contextlib.suppress(orjson.JSONDecodeError):
        return orjson.loads(response.content)
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


class Starter:
    """Sends inits over one connection pool: rolloutctl's HttpPool (its fast `post`) unless
    an httpx.AsyncClient is given, e.g. to compare pools or to add proxies or TLS settings."""

    def __init__(self, records: Records, client: httpx.AsyncClient | HttpPool | None = None):
        self.records, self._owns_client = records, client is None
        self._client = client if client is not None else HttpPool()
        self._urls: dict[str, httpx.URL] = {}
        self._lines: dict[str | None, bytes] = {}  # the init's header lines, per server key
        self._tools: list[dict[str, Any]] = []  # the last 202's tools, shared while they repeat
        self._valid: dict[str, Any] | None = None  # the last valid 202 body, its id blanked

    async def start(
        self, server: str, init: dict[str, Any], server_key: str | None
    ) -> RolloutHandle:
        rollout_id = init.get("rollout_id")
        if not isinstance(rollout_id, str) or not rollout_id:
            raise ValueError("init needs a non-empty string rollout_id")
        state = self._prepare(rollout_id, init)
        url = server.rstrip("/") + INIT_PATH
        try:
            response = await self._post(url, orjson.dumps(init), server_key)
        except httpx.HTTPError as exc:
            self._settle(state, None)
            reason = " ".join(str(exc).split()) or type(exc).__name__
            message = f"cannot reach the RolloutServer at {server}: {reason}"
            self.records.emit(
                EventKind.INIT_RESPONSE, rollout_id, {"status_code": 0, "body": message}
            )
            raise InitError(message) from exc
        return self._accept(state, response, server_key)

    def _prepare(self, rollout_id: str, init: dict[str, Any]) -> TrainerRolloutRecord:
        """Remember what the init promises before sending it: callbacks may beat the 202."""
        state = self.records.state(rollout_id)
        state.started, state.api_key = True, api_key_of(init)
        state.completion_params = init.get("completion_params") or {}
        state.max_turns = init.get("max_turns", 10)
        state.init_pending = True
        if self.records.bus.active:  # else no copy of the init is worth making
            self.records.emit(EventKind.INIT_SENT, rollout_id, {"request": redacted_init(init)})
        return state

    def _accept(
        self,
        state: TrainerRolloutRecord,
        response: httpx.Response | PoolResponse,
        server_key: str | None,
    ) -> RolloutHandle:
        body = mask(
            _body_of(response), state.api_key, server_key
        )  # a refused init's error may echo keys
        self.records.emit(
            EventKind.INIT_RESPONSE,
            state.rollout_id,
            {"status_code": response.status_code, "body": body},
        )
        if response.status_code != 202:
            self._settle(state, None)
            detail = body.get("detail", body) if isinstance(body, dict) else body
            raise InitRefused(response.status_code, detail)
        tools = self._check_accepted(state.rollout_id, body)
        self._settle(state, tools)
        return RolloutHandle(state.rollout_id, tools, response.status_code, state)

    def _check_accepted(self, rollout_id: str, body: Any) -> list[dict[str, Any]]:
        """The 202 body against the protocol; returns its tools ([] when unusable)."""
        accepted_id = self._valid_as_before(body)
        if accepted_id is None:
            try:
                accepted_id = InitResponse.model_validate(body).rollout_id
            except ValidationError as exc:
                self.records.report(
                    rollout_id, "init_response_invalid", f"202 body: {exc.errors()[0]['msg']}"
                )
                tools = body.get("tools") if isinstance(body, dict) else None
                return tools if isinstance(tools, list) else []
            self._valid = {**body, "rollout_id": ""}
        if accepted_id != rollout_id:
            self.records.report(
                rollout_id, "init_response_mismatch", f"202 body names rollout {accepted_id!r}"
            )
        tools = body["tools"] if isinstance(body.get("tools"), list) else []
        if tools != self._tools:
            self._tools = tools
        return self._tools

    def _valid_as_before(self, body: Any) -> str | None:
        """The rollout_id of a 202 body that differs from the last valid one only in its
        (string) rollout_id, so is valid too; else None. Every 202 of a server repeats its
        tools, and validating them costs more than the rest of a start."""
        rollout_id = body.get("rollout_id") if isinstance(body, dict) else None
        if not isinstance(rollout_id, str) or self._valid is None:
            return None
        return rollout_id if {**body, "rollout_id": ""} == self._valid else None

    @staticmethod
    def _settle(state: TrainerRolloutRecord, tools: list[dict[str, Any]] | None) -> None:
        if tools is not None:
            state.tools = tools
        state.init_pending = False
        state.tools_known.fire()

    async def _post(
        self, url: str, content: bytes, server_key: str | None
    ) -> httpx.Response | PoolResponse:
        headers = [(b"content-type", b"application/json")]
        if server_key:
            headers.append((b"authorization", b"Bearer " + server_key.encode()))
        if isinstance(self._client, httpx.AsyncClient):
            return await self._client.post(url, content=content, headers=headers)
        target = self._urls.get(url) or self._urls.setdefault(url, httpx.URL(url))
        lines = self._lines.get(server_key)
        if lines is None:  # encoded once per key: the pool writes these bytes as they are
            lines = self._lines[server_key] = encode_headers(headers)
        return await self._client.post(target, content, lines, timeout=INIT_TIMEOUT_S)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
