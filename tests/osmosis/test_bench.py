"""`bench --protocol osmosis` drives both servers: rolloutctl's adapter and an SDK-only one."""

from __future__ import annotations

import json
import subprocess

from tests.helpers import rolloutctl_bin
from tests.osmosis.servers import sdk_server


def bench(*args: str) -> dict:
    done = subprocess.run(
        [rolloutctl_bin(), "bench", "--protocol", "osmosis", "--json", "--rollouts", "40",
         "--concurrency", "4", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_bench_spawns_the_adapter_server_and_samples_it() -> None:
    result = bench("--example", "calculator")
    assert result["completed"] == 40
    assert result["errors"] == result["lost"] == result["violations"] == 0
    assert result["server_cpu_ms_per_rollout"] > 0
    assert result["bench_cpu_ms_per_rollout"] > 0
    assert result["latency_ms"]["p50"] > 0


def test_bench_drives_a_server_written_on_the_sdk_alone() -> None:
    with sdk_server() as url:
        result = bench("--server-url", url)
    assert result["completed"] == 40
    assert result["errors"] == result["lost"] == result["violations"] == 0
    assert result["server_cpu_ms_per_rollout"] is None  # not ours to sample
