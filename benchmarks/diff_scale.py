"""`rolloutctl diff` of two large trajectory files: wall time, CPU time and peak RSS.

Two trajectories of --size MB each are written to a temporary folder under /tmp (their
turns differ from the first on, so every line of both is in the diff) and the real
binary diffs them with `--json` to /dev/null, once per shape:

- many turns: 400-character messages, as in the earlier measurement in BENCHMARKS.md;
- few turns: 20,000-character messages.

Peak RSS and CPU time (user + system) are the kernel's figures for that one child
(`wait4`); on a shared machine read CPU, not wall time. The files are deleted at the
end. `--bin` runs another build, e.g. an older checkout's `.venv/bin/rolloutctl`.

    uv run python benchmarks/diff_scale.py [--size 200] [--bin PATH] [--timeout 900]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.trajectory.large_files import write_trajectory

SHAPES = {"many turns (400-char messages)": 400, "few turns (20,000-char messages)": 20_000}


def measure(binary: str, a: Path, b: Path, timeout: float) -> tuple[str, float, float, float]:
    """(exit status or 'killed', wall seconds, CPU seconds, peak RSS in MB) of one diff."""
    started = time.perf_counter()
    child = subprocess.Popen([binary, "diff", str(a), str(b), "--json"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    _, status, usage = os.wait4(child.pid, 0)
    timer.cancel()
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return ("killed" if code < 0 else str(code)), wall, cpu, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="MB per file")
    parser.add_argument("--bin", default=str(Path(sys.executable).with_name("rolloutctl")))
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per diff")
    args = parser.parse_args()
    print(f"{'shape':34} {'A + B':>14} {'status':>7} {'wall':>9} {'CPU':>9} {'peak RSS':>10}")
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="diff-scale-") as folder:
        for shape, chars in SHAPES.items():
            a, b = Path(folder) / "a.json", Path(folder) / "b.json"
            write_trajectory(a, args.size << 20, chars, "alpha")
            write_trajectory(b, args.size << 20, chars, "beta")
            sizes = f"2 x {a.stat().st_size / 1e6:.1f} MB"
            status, wall, cpu, peak = measure(args.bin, a, b, args.timeout)
            figures = f"{status:>7} {wall:>8.1f}s {cpu:>8.1f}s {peak:>7.1f} MB"
            print(f"{shape:34} {sizes:>14} {figures}", flush=True)


if __name__ == "__main__":
    main()
