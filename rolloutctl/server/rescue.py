"""The rescue of a lost replica's rollouts: one ERROR `server_lost` each, exactly once.

Every server on a shared store runs `Rescuer.run`: it asks the store for the
in-flight rollouts of owners whose heartbeat is older than `--owner-timeout`
(`RecordStore.scan_lost`, which claims each delivery atomically, so one process
rescues each), and sends each trainer the history the owner last wrote. An owner
that was only paused or cut off claims its own deliveries the same way and finds
them taken, so the trainer gets one completion either way. This is rolloutctl's
behaviour, not the protocol's (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import logging
import time

from rolloutctl.agent.context import RolloutMetrics
from rolloutctl.errors import StoreUnavailable
from rolloutctl.net.http_pool import HttpPool
from rolloutctl.server.callbacks import TrainerClient, encode_body
from rolloutctl.server.completion import kept_payload, lost_payload
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store import RecordStore, RolloutRecord, RolloutState

__all__ = ["Rescuer", "scan_interval"]

log = logging.getLogger("rolloutctl.server")


def scan_interval(settings: ServerSettings) -> float:
    """How often to look for lost owners: detection takes at most the owner timeout
    plus this (a quarter of the timeout, at most one heartbeat interval)."""
    return max(0.1, min(settings.heartbeat_interval, settings.owner_timeout / 4))


class Rescuer:
    """Finds lost owners' rollouts in `store` and delivers their `server_lost` ERRORs."""

    def __init__(self, store: RecordStore, settings: ServerSettings, pool: HttpPool) -> None:
        self.store, self.settings, self.pool = store, settings, pool
        self._deliveries: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Scan for ever (cancel to stop); deliveries run beside the scans."""
        try:
            while True:
                await asyncio.sleep(scan_interval(self.settings))
                try:
                    lost = await self.store.scan_lost()
                except StoreUnavailable:
                    continue
                except Exception:  # a record it cannot read must not end the watch
                    log.exception("looking for lost replicas' rollouts failed")
                    continue
                for record in lost:
                    task = asyncio.create_task(self.rescue(record))
                    self._deliveries.add(task)
                    task.add_done_callback(self._deliveries.discard)
        finally:
            for task in self._deliveries:
                task.cancel()

    async def rescue(self, record: RolloutRecord) -> None:
        """Send `record`'s trainer one ERROR server_lost and note how that went."""
        assert record.callback is not None  # written with every in-flight record
        why = record.lost_reason or (
            f"the server running this rollout ({record.owner}) is gone: its process ended, or "
            f"it was silent for more than {self.settings.owner_timeout:g} s (--owner-timeout)"
        )
        why += f"; {self.store.owner} ended it"
        payload = lost_payload(
            record.rollout_id, record.metrics or RolloutMetrics(), record.history(), why
        )
        body = encode_body(payload)
        client = TrainerClient(
            record.callback.url, record.callback.key, self.settings.retry, self.pool
        )
        delivery = await client.complete(body)
        record.payload = kept_payload(payload, self.settings.max_record_bytes, len(body))
        record.state, record.finished_at = RolloutState.LOST, time.monotonic()
        record.delivered, record.delivery_error = delivery.delivered, delivery.error
        record.callback = None  # the key is kept no longer than needed
        self.store.rescued(record)
        log.warning(
            "rollout %s ERROR category=server_lost owner=%s delivered=%s",
            record.rollout_id,
            record.owner,
            delivery.delivered,
            extra={"rollout_id": record.rollout_id, "category": "server_lost"},
        )
