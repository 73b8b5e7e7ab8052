"""`diff` of two large trajectories holds about a turn of each, not the files.

The real binary diffs two ~48 MB files that differ from their first turn, so every
line of both is in the answer; its peak RSS (the kernel's, for that one child) must
stay below what a diff of two tiny files takes plus half of one file. Loading either
file whole costs several times its size, so this fails for any reader that holds one.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

from tests.helpers import CLI_BOUND, rolloutctl_bin
from tests.trajectory.large_files import write_trajectory

SIZE = 48 << 20


def diff_peak_rss(files: list[Path], out: Path) -> tuple[int, int]:
    """(exit status, peak RSS in bytes) of `rolloutctl diff A B --json > out`."""
    with out.open("w") as stdout:
        child = subprocess.Popen([rolloutctl_bin(), "diff", *map(str, files), "--json"],
                                 stdout=stdout, stderr=subprocess.DEVNULL)  # fmt: skip
    timer = threading.Timer(CLI_BOUND, child.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage.ru_maxrss * 1024


def test_diff_of_two_large_files_stays_in_bounded_memory(tmp_path):
    small = [tmp_path / "s1.json", tmp_path / "s2.json"]
    for path, word in zip(small, ("alpha", "beta"), strict=True):
        write_trajectory(path, 3000, 200, word)
    status, baseline = diff_peak_rss(small, tmp_path / "small.out")
    assert status == 1
    big = [tmp_path / "a.json", tmp_path / "b.json"]
    turns = [write_trajectory(path, SIZE, 20_000, word)
             for path, word in zip(big, ("alpha", "beta"), strict=True)]  # fmt: skip
    status, peak = diff_peak_rss(big, tmp_path / "big.out")
    assert status == 1
    assert peak < baseline + SIZE // 2, (peak >> 20, baseline >> 20)
    body = json.loads((tmp_path / "big.out").read_text())
    assert body["first_difference"] == 1 and body["summary"] == {}
    assert body["diff"][:2] == ["--- A", "+++ B"]
    tags = [line[:1] for line in body["diff"][2:]]
    same = tags.count(" ")  # each turn is a header line, a user line and an assistant line
    assert (tags.count("-") + same, tags.count("+") + same) == (3 * turns[0], 3 * turns[1])
