"""The `cluster` fixture: one behavioural suite, run against each record store
(`shared_cluster`: against the stores that processes share).

Clusters are started once per module (a Python process takes seconds to start on a
busy machine); every test uses ids of its own. A test may leave a replica killed or
Redis stopped: the next test that uses the cluster starts them again first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rolloutctl.server.store import RecordStore
from tests.helpers import RedisServer, running_redis
from tests.server.store.replicas import Cluster, running_cluster


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def replicas_on_redis(
    shared_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with running_cluster(3, "redis", tmp_path_factory.mktemp("replicas"), shared_redis) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def replicas_on_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three processes of one machine sharing one SQLite file."""
    with running_cluster(3, "sqlite", tmp_path_factory.mktemp("sqlite")) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster(replicas_on_redis: Cluster) -> Cluster:
    """Three replicas sharing a real Redis, made whole before each test (what a test
    broke is started again only if another test needs it)."""
    replicas_on_redis.heal()
    return replicas_on_redis


@pytest.fixture(scope="module")
def memory_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The in-memory store is for one process: a cluster of one."""
    with running_cluster(1, "memory", tmp_path_factory.mktemp("memory")) as cluster:
        yield cluster


CLUSTERS = {"memory": "memory_server", "sqlite": "replicas_on_sqlite", "redis": "replicas_on_redis"}


@pytest.fixture(params=list(CLUSTERS))
def cluster(request: pytest.FixtureRequest) -> Cluster:
    cluster: Cluster = request.getfixturevalue(CLUSTERS[request.param])
    return cluster


@pytest.fixture(params=["sqlite", "redis"])
def shared_cluster(request: pytest.FixtureRequest) -> Cluster:
    """Three replicas sharing a durable store, made whole before each test."""
    cluster: Cluster = request.getfixturevalue(CLUSTERS[request.param])
    cluster.heal()
    return cluster


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., RecordStore]:
    """Stores that share one backend, as replicas do: each call is another process's
    view of it (`open(heartbeat_interval=..., owner_timeout=...)`, not yet started)."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        from rolloutctl.server.store.sqlite import SqliteStore

        url = f"sqlite:///{tmp_path / 'records.db'}"
        return lambda **options: SqliteStore(url, prefix=prefix, **options)
    server: RedisServer = request.getfixturevalue("redis_server")

    def open_store(**options: Any) -> RecordStore:
        from rolloutctl.server.store.redis import RedisStore

        return RedisStore(server.url, prefix=prefix, **options)

    return open_store
