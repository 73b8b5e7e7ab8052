"""What the rescue of a lost replica costs, and how long a trainer waits for it.

Starts a real redis-server and two `serve --store redis://` replicas with a short
--owner-timeout, holds N rollouts in flight on the first (their chat answers wait in
a recording trainer), kills it with SIGKILL (or pauses it with SIGSTOP: --pause), and
measures: the seconds from then to the first and last `server_lost` completion (a
killed replica of this machine is known by its pid, a paused one by its silence for
the owner timeout); the Redis round-trips the survivor spent on the rescue (its
/health count, before and after), per rescued rollout; and the round-trips per
rollout of ordinary rollouts, where the owner's heartbeat and delivery claim are the
ownership machinery's cost.

    uv run python -m benchmarks.rescue [--rollouts 30] [--owner-timeout 5] [--pause]
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path

from tests.helpers import RedisServer, run_server
from tests.recording_trainer import RecordingTrainer
from tests.server.store.replicas import Cluster, running_cluster, send_all


def body(trainer: RecordingTrainer, rollout_id: str) -> dict:
    messages = [{"role": "user", "content": "What is 5 + 3?"}]
    return {"rollout_id": rollout_id, "server_url": trainer.url, "messages": messages}


def round_trips(cluster: Cluster, index: int) -> int:
    return int(cluster.replicas[index].health()["store"]["round_trips"])


def ordinary(cluster: Cluster, trainer: RecordingTrainer, count: int) -> float:
    """Round-trips per rollout of `count` rollouts that simply complete, on replica 1."""
    before = round_trips(cluster, 1)
    ids = [f"plain-{i}" for i in range(count)]
    send_all([(cluster.urls[1], body(trainer, i)) for i in ids])
    for rollout_id in ids:
        trainer.wait(rollout_id, timeout=120)
    cluster.wait_for(
        "writes done", lambda: cluster.replicas[1].health()["store"]["pending_writes"] == 0
    )
    return (round_trips(cluster, 1) - before) / count


def rescue(
    cluster: Cluster, trainer: RecordingTrainer, count: int, pause: bool
) -> tuple[float, float, float]:
    """SIGKILL replica 0 (its pid is gone: known at the next scan) or, with `pause`,
    SIGSTOP it (its pid lives on: only its silence, --owner-timeout, tells)."""
    ids = [f"lost-{i}" for i in range(count)]
    trainer.held.update(ids)
    send_all([(cluster.urls[0], body(trainer, i)) for i in ids])
    cluster.wait_for("all in flight", lambda: all(trainer.chats[i] for i in ids))
    before = round_trips(cluster, 1)
    victim = cluster.replicas[0]
    if pause:
        os.kill(victim.pid, signal.SIGSTOP)
    else:
        victim.kill()
    lost_at = time.monotonic()
    arrivals = []
    for rollout_id in ids:
        trainer.wait(rollout_id, timeout=600)
        arrivals.append(time.monotonic() - lost_at)
    if pause:
        trainer.release()
        os.kill(victim.pid, signal.SIGCONT)
    cluster.wait_for(
        "rescues written", lambda: cluster.replicas[1].health()["store"]["pending_writes"] == 0
    )
    return min(arrivals), max(arrivals), (round_trips(cluster, 1) - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=30)
    parser.add_argument("--owner-timeout", type=float, default=5.0)
    parser.add_argument("--heartbeat-interval", type=float, default=1.0)
    parser.add_argument("--pause", action="store_true", help="SIGSTOP instead of SIGKILL")
    options = parser.parse_args()
    flags = ["--owner-timeout", str(options.owner_timeout),
             "--heartbeat-interval", str(options.heartbeat_interval)]  # fmt: skip
    trainer = RecordingTrainer()
    with tempfile.TemporaryDirectory() as directory, run_server(trainer.app) as url:
        trainer.url = url
        redis = RedisServer(Path(directory))
        redis.start()
        try:
            with running_cluster(2, "redis", Path(directory), redis, flags) as cluster:
                per_rollout = ordinary(cluster, trainer, 500)
                lost = rescue(cluster, trainer, options.rollouts, options.pause)
        finally:
            redis.stop()
    print(f"owner timeout {options.owner_timeout:g} s, heartbeat {options.heartbeat_interval:g} s")
    print(f"ordinary rollouts: {per_rollout:.2f} Redis round-trips per rollout")
    first, last, rescue_trips = lost
    how = "SIGSTOP" if options.pause else "SIGKILL"
    print(f"{how} to first server_lost: {first:.2f} s, to last: {last:.2f} s "
          f"({options.rollouts} rollouts)")  # fmt: skip
    print(f"rescue: {rescue_trips:.2f} Redis round-trips per rescued rollout (the rescuer's)")


if __name__ == "__main__":
    main()
