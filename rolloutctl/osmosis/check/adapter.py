"""The Osmosis SDK 0.3 protocol's checks as an adapter of the one check engine.

rolloutctl plays the trainer: the mock trainer answers the agent's chat calls from
per-rollout plans. After /health, a probe rollout learns the tools from the agent's
first chat request; the checks then run concurrently, `cancel` last (its `all`
selector cancels whatever else is in flight).
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from rolloutctl.check.base import Check, CheckOptions, ProtocolAdapter, Verdict
from rolloutctl.osmosis.check import rollouts, wire
from rolloutctl.osmosis.check.names import OSMOSIS_CHECK_NAMES
from rolloutctl.osmosis.check.session import OsmosisSession
from rolloutctl.trainer import MockTrainer

__all__ = ["OsmosisAdapter"]

LONG_POLL_MARGIN_S = 15.0  # a result GET may be held up to the server's wait, then answer


class OsmosisAdapter(ProtocolAdapter[OsmosisSession]):
    protocol = "osmosis"
    names = OSMOSIS_CHECK_NAMES
    checks: ClassVar[dict[str, Check[Any]]] = {  # in report order, health apart
        "admission": wire.admission,
        "duplicate-409": wire.duplicate_409,
        "bad-body-422": wire.bad_body_422,
        "no-key-echo": wire.no_key_echo,
        "lease": wire.lease,
        "long-poll": wire.long_poll,
        "chat-bearer": rollouts.chat_bearer,
        "append-only": rollouts.append_only,
        "tools-every-request": rollouts.tools_every_request,
        "shutdown-503": wire.shutdown_503,
        "cancel": wire.cancel,
    }
    last = ("cancel",)

    def http_client(self, options: CheckOptions) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=options.timeout + LONG_POLL_MARGIN_S)

    async def health(self, http: httpx.AsyncClient, url: str, options: CheckOptions) -> Verdict:
        return await wire.health(http, url, options)

    def session(
        self, url: str, trainer: MockTrainer, http: httpx.AsyncClient, options: CheckOptions
    ) -> OsmosisSession:
        return OsmosisSession(url, trainer, http, options)

    async def discover(self, session: OsmosisSession) -> None:
        await rollouts.discover(session)
