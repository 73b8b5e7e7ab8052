"""The `cluster` fixture: one behavioural suite, run against each record store.

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
    with running_cluster(3, shared_redis, tmp_path_factory.mktemp("replicas")) as cluster:
        yield cluster


@pytest.fixture
def redis_cluster(replicas_on_redis: Cluster) -> Iterator[Cluster]:
    """Three replicas sharing a real Redis, made whole again after each test."""
    yield replicas_on_redis
    replicas_on_redis.heal()


@pytest.fixture(scope="module")
def memory_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The in-memory store is for one process: a cluster of one."""
    with running_cluster(1, None, tmp_path_factory.mktemp("memory")) as cluster:
        yield cluster


@pytest.fixture(params=["memory", "redis"])
def cluster(request: pytest.FixtureRequest) -> Cluster:
    fixture = "memory_server" if request.param == "memory" else "replicas_on_redis"
    cluster: Cluster = request.getfixturevalue(fixture)
    return cluster
