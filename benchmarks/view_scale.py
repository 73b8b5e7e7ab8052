"""`rolloutctl view` over a 100,000-row eval run: start-up, page times, memory.

A real `rolloutctl eval` of 50 arithmetic rows (some graded wrong, one dividing by
zero) gives the record shapes; its records are repeated, renumbered and varied
(rewards, latencies, every 37th an ERROR with a message) into a run of --rows rows.
The real `rolloutctl view` binary then serves it, and each page is timed from the
client as a browser would fetch it:

- run page: the HTML shell, /api/runs/RUN (config and summary) and the first rows page;
- rows pages: first, middle and last page, sorted by reward and by latency, filtered
  by status, category, reward range and free text;
- one rollout page, and the live poll after 1,000 rows are appended.

Each request is made --repeat times; the first (cold: the summary is computed) and the
median are printed. Memory: VmRSS of the viewer over the big run, minus that of a
viewer over an empty directory after the same requests; VmHWM is its peak.

    uv run python benchmarks/view_scale.py [--rows 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BIN = str(Path(sys.executable).with_name("rolloutctl"))
ROWS_PAGES = {
    "rows: first page": "",
    "rows: page 1000": "page=1000",
    "rows: last page": "page=LAST",
    "rows: sort reward desc": "sort=reward&order=desc",
    "rows: sort latency, page 500": "sort=latency&page=500",
    "rows: status=ERROR": "status=ERROR",
    "rows: category=low_reward": "category=low_reward",
    "rows: 0.5 <= reward <= 1": "min_reward=0.5&max_reward=1",
    "rows: search 'what is 7'": "q=what+is+7",
}


def template_records(work: Path) -> list[dict[str, Any]]:
    rng = random.Random(3)
    rows = []
    for i in range(50):
        a, b = rng.randint(1, 99), rng.randint(1, 99)
        truth = a + b + (1 if i % 7 == 0 else 0)
        rows.append({"id": f"t{i}", "prompt": f"What is {a} + {b}?", "ground_truth": truth})
    rows.append({"id": "z", "prompt": "What is 7 / 0?", "ground_truth": 0})
    data = work / "template.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    subprocess.run([BIN, "eval", str(data), "--example", "calculator", "-o", str(work / "t"),
                    "--json"], check=False, capture_output=True, timeout=600)  # fmt: skip
    lines = (work / "t" / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def big_run(work: Path, rows: int, templates: list[dict[str, Any]]) -> Path:
    run = work / "big"
    run.mkdir()
    config = json.loads((work / "t" / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config))
    rng = random.Random(5)
    with (run / "results.jsonl").open("w") as out:
        for row in range(rows):
            out.write(json.dumps(varied(templates[row % len(templates)], row, rng)) + "\n")
    (run / "summary.json").write_text(json.dumps({"rollouts": rows}))
    return run


def varied(template: dict[str, Any], row: int, rng: random.Random) -> dict[str, Any]:
    record = dict(template, row=row, id=f"r{row}", rollout_id=f"bench-{row}-0")
    record["latency_ms"] = round(rng.lognormvariate(2.5, 0.6), 3)
    if row % 37 == 0:
        message = f"RuntimeError: tool backend {row % 5} unavailable"
        record |= {"status": "ERROR", "error_category": "agent_error", "reward": None}
        record["error_message"] = message
    return record


class Viewer:
    """`rolloutctl view PATH` as a user starts it; the start-up is timed to the URL."""

    def __init__(self, path: Path) -> None:
        started = time.perf_counter()
        self.process = subprocess.Popen([BIN, "view", str(path)], stdout=subprocess.PIPE,
                                        text=True)  # fmt: skip
        assert self.process.stdout is not None
        self.banner = self.process.stdout.readline().strip()
        self.url = self.process.stdout.readline().strip()
        self.startup_s = time.perf_counter() - started
        self.base = self.url.split("/run/")[0].rstrip("/")

    def memory_mib(self) -> dict[str, float]:
        status = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in status)
        return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def timed(client: httpx.Client, paths: list[str]) -> float:
    started = time.perf_counter()
    for path in paths:
        response = client.get(path)
        response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def measure(viewer: Viewer, key: str, rows: int, repeat: int) -> dict[str, list[float]]:
    last = (rows + 49) // 50
    pages = {"run page (shell + summary + rows)":
             [f"/run/{key}", f"/api/runs/{key}", f"/api/runs/{key}/rows"]}  # fmt: skip
    for name, query in ROWS_PAGES.items():
        pages[name] = [f"/api/runs/{key}/rows?{query.replace('LAST', str(last))}"]
    pages["rollout page (row 50000)"] = [f"/run/{key}/row/{rows // 2}/0",
                                         f"/api/runs/{key}/rollouts/{rows // 2}/0"]  # fmt: skip
    times: dict[str, list[float]] = {}
    with httpx.Client(base_url=viewer.base, timeout=600) as client:
        for _ in range(repeat):
            for name, paths in pages.items():
                times.setdefault(name, []).append(timed(client, paths))
    return times


def appended(
    viewer: Viewer, run: Path, key: str, templates: list[dict[str, Any]], rows: int
) -> float:
    rng = random.Random(9)
    with (run / "results.jsonl").open("a") as out:
        for row in range(rows, rows + 1000):
            out.write(json.dumps(varied(templates[row % len(templates)], row, rng)) + "\n")
    with httpx.Client(base_url=viewer.base, timeout=600) as client:
        return timed(client, [f"/api/runs/{key}/state", f"/api/runs/{key}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        templates = template_records(work)
        run = big_run(work, args.rows, templates)
        size_mib = (run / "results.jsonl").stat().st_size / 2**20
        (work / "empty").mkdir()
        empty = Viewer(work / "empty")
        with httpx.Client(base_url=empty.base, timeout=600) as client:
            timed(client, ["/", "/api/runs"])
        baseline = empty.memory_mib()
        empty.stop()
        viewer = Viewer(run)
        try:
            times = measure(viewer, "big", args.rows, args.repeat)
            live_ms = appended(viewer, run, "big", templates, args.rows)
            memory = viewer.memory_mib()
        finally:
            viewer.stop()
    print(f"{args.rows:,} rows, results.jsonl {size_mib:,.0f} MiB; {viewer.banner}")
    print(f"start-up to the URL (imports + index + bind): {viewer.startup_s:.2f} s")
    print(f"{'page':40} {'first ms':>9} {'median ms':>10} {'max ms':>8}")
    for name, values in times.items():
        print(f"{name:40} {values[0]:9.1f} {statistics.median(values):10.1f} {max(values):8.1f}")
    print(f"{'live: 1,000 rows appended, next poll':40} {live_ms:9.1f}")
    growth = memory["VmRSS"] - baseline["VmRSS"]
    print(f"RSS: empty viewer {baseline['VmRSS']:.0f} MiB, over the run {memory['VmRSS']:.0f} MiB "
          f"(growth {growth:.0f} MiB), peak {memory['VmHWM']:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
