"""`rolloutctl bench` on small numbers: the counts, the JSON record, lost and duplicate rollouts.

Real servers throughout: a spawned `rolloutctl serve` process, or a RolloutServer on
uvicorn in a thread for --server-url. No test here asserts a speed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
from typing import Any

import pexpect

from rolloutctl.agent.loader import load_example
from rolloutctl.bench.config import BenchConfig
from rolloutctl.bench.load import run_bench
from rolloutctl.bench.procstats import machine_cpu, sample
from rolloutctl.bench.result import BenchResult, passed
from rolloutctl.bench.server_process import ServerSpec
from rolloutctl.bench.tally import percentiles
from rolloutctl.protocol import INIT_PATH
from rolloutctl.server.app import create_app
from rolloutctl.server.callbacks import RetryPolicy
from rolloutctl.server.settings import ServerSettings
from tests.helpers import CLI_BOUND, assert_plain_text, rolloutctl_bin, run_cli_batch, run_server

SMALL = BenchConfig(rollouts=20, concurrency=4, warmup=2, timeout=60.0, final_wait=1.0)
PATIENT_RETRY = RetryPolicy(max_retries=8, initial_delay=0.01, window=30.0, call_timeout=30.0)
FIELDS = {
    "server", "rollouts", "concurrency", "warmup", "llm_latency_ms", "fail_rate",
    "fail_completed_rate", "init_connections", "wall_s", "accepted", "completed", "errors",
    "lost", "refused",
    "init_errors", "duplicates", "violations", "violation_rules", "error_categories",
    "rollouts_per_s", "latency_ms", "server_cpu_ms_per_rollout", "server_cpu_share",
    "server_rss_before_mib", "server_rss_after_mib", "server_rss_peak_mib",
    "bench_cpu_ms_per_rollout", "bench_cpu_share", "cpu_count", "machine_cpu_busy",
    "other_cpu_busy", "delivered", "bound", "replicas", "store", "turn_ms", "server_metrics",
    "store_round_trips_per_rollout",
}  # fmt: skip


class DropsOneRollout:
    """A broken RolloutServer: it answers one init with 202 and then never runs it."""

    def __init__(self, app: Any, victim: str) -> None:
        self.app, self.victim = app, victim

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != INIT_PATH:
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        rollout_id = json.loads(body)["rollout_id"]
        if rollout_id != self.victim:
            return await self.app(scope, _replay(body), send)
        answer = json.dumps({"rollout_id": rollout_id, "tools": []}).encode()
        await send({"type": "http.response.start", "status": 202,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": answer})


def _replay(body: bytes) -> Any:
    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def calculator_server(**settings: Any) -> Any:
    return create_app(load_example("calculator"), ServerSettings(**settings))


def assert_counts_add_up(result: BenchResult) -> None:
    assert result.rollouts == result.accepted + result.refused + result.init_errors
    assert result.accepted == result.completed + result.errors + result.lost
    assert result.delivered == result.completed + result.errors


def test_bench_spawns_our_server_and_measures_it() -> None:
    result = asyncio.run(run_bench(SMALL, spec=ServerSpec(example="calculator")))
    assert_counts_add_up(result)
    assert (result.accepted, result.completed, result.errors, result.lost) == (20, 20, 0, 0)
    assert result.duplicates == result.violations == 0 and passed(result)
    assert set(result.latency_ms) == {"p50", "p95", "p99", "max"}
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p99"] <= result.latency_ms["max"]
    assert result.server_cpu_ms_per_rollout is not None and result.server_cpu_ms_per_rollout >= 0
    assert result.server_rss_before_mib and result.server_rss_after_mib
    assert result.server_rss_peak_mib >= result.server_rss_after_mib  # type: ignore[operator]
    assert result.rollouts_per_s > 0 and result.server == "--example calculator"
    # the server's own /metrics, read before and after, count the same rollouts
    assert result.server_metrics["accepted"] == result.server_metrics["completed"] == 20
    assert result.server_metrics["llm_call_ms_mean"] is not None
    assert set(result.turn_ms) == {"llm", "tool", "overhead", "protocol"}


def test_bench_a_server_url_twice_leaves_server_figures_empty() -> None:
    threshold = gc.get_threshold()
    with run_server(calculator_server()) as url:
        asyncio.run(run_bench(SMALL, server_urls=[url]))
        result = asyncio.run(run_bench(SMALL, server_urls=[url]))  # new rollout ids
    assert gc.get_threshold() == threshold  # set back after each run
    assert_counts_add_up(result)
    assert result.completed == 20 and result.lost == 0 and passed(result)
    assert result.server == url and result.server_cpu_ms_per_rollout is None
    assert result.server_rss_before_mib is None and result.bench_cpu_ms_per_rollout >= 0
    assert result.to_json()["server_cpu_share"] is None


def test_a_rollout_the_server_never_completes_is_lost() -> None:
    # The victim costs timeout + final_wait; the others get that long even on a busy machine.
    config = BenchConfig(rollouts=20, concurrency=4, timeout=10.0, final_wait=2.0, run_id="r1")
    with run_server(DropsOneRollout(calculator_server(), "bench-r1-7")) as url:
        result = asyncio.run(run_bench(config, server_urls=[url]))
    assert_counts_add_up(result)
    assert (result.accepted, result.completed, result.lost) == (20, 19, 1)
    assert not passed(result)


def test_fail_rates_still_deliver_every_rollout_exactly_once() -> None:
    config = BenchConfig(rollouts=20, concurrency=4, fail_rate=0.2, fail_completed_rate=0.2,
                         seed=7, timeout=60.0)  # fmt: skip
    with run_server(calculator_server(retry=PATIENT_RETRY)) as url:
        result = asyncio.run(run_bench(config, server_urls=[url]))
    assert_counts_add_up(result)
    assert result.delivered == result.accepted == 20
    assert result.lost == result.duplicates == result.violations == 0


def test_cli_json_record_has_every_field() -> None:
    command = [rolloutctl_bin(), "bench", "--example", "calculator", "--rollouts", "20",
               "--concurrency", "4", "--json"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=CLI_BOUND, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar, nor the blank line rich ends one with
    record = json.loads(done.stdout)
    assert set(record) == FIELDS
    assert record["rollouts_per_s"] == record["delivered"] / record["wall_s"]
    assert record["completed"] == record["accepted"] == record["delivered"] == 20
    assert record["lost"] == record["duplicates"] == 0


def test_cli_table_against_a_server_url() -> None:
    with run_server(calculator_server()) as url:
        argv = ["bench", "--server-url", url, "--rollouts", "10", "--concurrency", "2"]
        child = pexpect.spawn(rolloutctl_bin(), argv, timeout=CLI_BOUND)
        child.expect("throughput")
        child.expect("rollouts/s")
        # the table's last rows are read from the plain run below: a pty may drop the
        # tail of what a child wrote just before it exited (seen once: cut mid-table)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        plain = subprocess.run(
            [rolloutctl_bin(), *argv, "--plain"], capture_output=True, text=True, timeout=CLI_BOUND
        )
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr == ""  # stderr is a pipe: no bar and no blank line
    assert "10 accepted: 10 completed" in plain.stdout
    assert "10 rollouts at 2 concurrent (+0 warm-up)," in plain.stdout
    assert "rollouts/s: 10 of 10 delivered in " in plain.stdout
    assert_plain_text(plain.stdout)


def test_refused_inits_are_no_throughput_and_workers_are_at_most_the_rollouts() -> None:
    # every init is refused (422: the callback host is not on the allowlist)
    app = calculator_server(allow_callback_hosts=("trainer.internal",))
    with run_server(app) as url:
        argv = [rolloutctl_bin(), "bench", "--server-url", url, "--rollouts", "3"]
        runs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for command in ([*argv, "--plain"], [*argv, "--json"])
        ]
        (text, text_err), (record_out, record_err) = (
            r.communicate(timeout=CLI_BOUND) for r in runs
        )
    assert [r.returncode for r in runs] == [1, 1], text_err + record_err
    assert text_err == record_err == ""
    record = json.loads(record_out)
    assert (record["refused"], record["delivered"], record["rollouts_per_s"]) == (3, 0, 0.0)
    assert record["concurrency"] == 3  # --concurrency 32 asked, three workers ran
    assert "3 rollouts at 3 concurrent (+0 warm-up)," in text
    assert "throughput    none: 0 of 3 rollouts delivered" in text
    assert "0 accepted: 0 completed, 0 ERROR, 0 lost; 3 refused" in text


def test_cli_errors_are_one_line() -> None:
    neither, broken = run_cli_batch(["bench"], ["bench", "no/such/file.py:agent"])
    assert neither.returncode == 2
    assert neither.stderr.strip() == (
        "rolloutctl: error: give exactly one of TARGET, --example or --server-url"
    )
    assert broken.returncode == 3 and "Traceback" not in broken.stderr
    assert "no such file" in broken.stderr and len(broken.stderr.strip().splitlines()) == 1


def test_percentiles_by_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentiles(values) == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert percentiles([3.0]) == {"p50": 3.0, "p95": 3.0, "p99": 3.0, "max": 3.0}
    assert percentiles([]) == {}


def test_proc_readings_of_this_process() -> None:
    own = sample()
    assert own is not None and own.cpu_s > 0 and own.rss_bytes > 1024 * 1024
    busy, total = machine_cpu() or (0.0, 0.0)
    assert 0 < busy <= total
    assert sample(2**22 + 1) is None  # no such process


def test_nothing_listening_at_server_url_is_exit_3_like_check_and_try() -> None:
    from tests.helpers import refused_url

    with refused_url() as url:
        result = subprocess.run(
            [rolloutctl_bin(), "bench", "--server-url", url, "--rollouts", "5"],
            capture_output=True, text=True, timeout=CLI_BOUND,
        )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert "rollouts/s" not in result.stdout and result.stderr.count("\n") == 1
