"""The `cluster` fixture: one behavioural suite, run against each record store
(`shared_cluster`: against the stores that processes share).

Clusters are started once per module (a Python process takes seconds to start on a
busy machine); every test uses ids of its own and leaves the cluster healthy: a test
that kills a replica starts it again, one that stops Redis starts it again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
def redis_cluster(replicas_on_redis: Cluster) -> Iterator[Cluster]:
    """Three replicas sharing a real Redis, made whole again after each test."""
    yield replicas_on_redis
    replicas_on_redis.heal()


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
def shared_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Three replicas sharing a durable store, made whole again after each test."""
    cluster: Cluster = request.getfixturevalue(CLUSTERS[request.param])
    yield cluster
    cluster.heal()
