"""Record stores: in memory (one process, the default), SQLite (the processes of one
machine, across restarts) or Redis (replicas on many machines).

`open_store(settings)` picks one from `ServerSettings.store`; the Redis client is only
imported when a Redis URL is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from rolloutctl.errors import StoreUrlError
from rolloutctl.server.settings import ServerSettings
from rolloutctl.server.store.base import Callback, RecordStore, RolloutRecord, RolloutState
from rolloutctl.server.store.memory import MemoryStore

if TYPE_CHECKING:
    from rolloutctl.server.store.redis import RedisStore
    from rolloutctl.server.store.sqlite import SqliteStore

__all__ = [
    "Callback",
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
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _check_sqlite(url)
    if parts.scheme in REDIS_SCHEMES and not (
        parts.path if parts.scheme == "unix" else parts.hostname
    ):
        where = "socket path" if parts.scheme == "unix" else "host"
        raise StoreUrlError(f"--store {shown_store(url)!r} names no {where} (redis://host:port/db)")
    if parts.scheme not in REDIS_SCHEMES:
        raise StoreUrlError(
            f"--store must be 'memory', an SQLite URL (sqlite:///records.db, "
            f"sqlite:////abs/path.db) or a Redis URL (redis://host:port/db, rediss://..., "
            f"unix:///path.sock), not {shown_store(url)!r}"
        )
    return url


def _check_sqlite(url: str) -> str:
    from rolloutctl.server.store.sqlite_sql import sqlite_path

    path = sqlite_path(url)
    if not path.name or path.is_dir():
        raise StoreUrlError(f"--store {url!r} names no file (sqlite:///dir/records.db)")
    if not path.parent.is_dir():
        raise StoreUrlError(f"--store {url!r}: the folder {str(path.parent)!r} does not exist")
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
    shared: type[RedisStore | SqliteStore]
    if url.startswith("sqlite:"):
        from rolloutctl.server.store.sqlite import SqliteStore as shared
    else:
        from rolloutctl.server.store.redis import RedisStore as shared
    return shared(
        url,
        prefix=settings.store_prefix,
        ttl=settings.record_ttl,
        max_records=settings.max_records,
        heartbeat_interval=settings.heartbeat_interval,
        owner_timeout=settings.owner_timeout,
    )
