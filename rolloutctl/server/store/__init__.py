"""Record stores: in memory (one process, the default) or Redis (replicas share records).

`open_store(settings)` picks one from `ServerSettings.store`; the Redis client is only
imported when a Redis URL is given.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from rolloutctl.errors import StoreUrlError
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store.base import RecordStore, RolloutRecord, RolloutState
from rolloutctl.server.store.memory import MemoryStore

__all__ = [
    "MemoryStore",
    "RecordStore",
    "RolloutRecord",
    "RolloutState",
    "check_store_url",
    "open_store",
    "shown_store",
]

REDIS_SCHEMES = ("redis", "rediss", "unix")


def check_store_url(url: str | None) -> str | None:
    """`url` if it names a store (None or `memory`: in memory); StoreUrlError otherwise."""
    if url is None or url == "memory":
        return None
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        raise StoreUrlError(
            f"--store must be 'memory' or a Redis URL (redis://host:port/db, rediss://..., "
            f"unix:///path.sock), not {shown_store(url)!r}"
        )
    return url


def shown_store(url: str | None) -> str:
    """The store for banners and logs, with any password in the URL masked."""
    if url is None:
        return "memory"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def open_store(settings: ServerSettings) -> RecordStore:
    """The store `settings` ask for, not yet started."""
    url = check_store_url(settings.store)
    if url is None:
        return MemoryStore(settings.record_ttl, settings.max_records)
    from rolloutctl.server.store.redis import RedisStore

    return RedisStore(
        url,
        prefix=settings.store_prefix,
        ttl=settings.record_ttl,
        max_records=settings.max_records,
        heartbeat_interval=settings.heartbeat_interval,
    )
