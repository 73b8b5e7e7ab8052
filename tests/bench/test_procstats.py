"""The server's CPU as bench reads it: a whole process tree (`serve --workers N` does its
work in forked workers, not in the parent bench started)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from rolloutctl.bench.procstats import sample, sample_tree

# a parent that spends no CPU, and a child that burns 0.3 s of it, then both wait
TREE = textwrap.dedent(
    """
    import os, sys, time
    if os.fork() == 0:
        end = time.process_time() + 0.3
        while time.process_time() < end:
            pass
        print("burnt", flush=True)
        sys.stdin.read()
        os._exit(0)
    sys.stdin.read()
    """
)


def test_sample_tree_counts_the_cpu_of_a_forked_child() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"burnt\n"
        alone, tree = sample(parent.pid), sample_tree(parent.pid)
        assert alone is not None and tree is not None
        assert tree.cpu_s >= alone.cpu_s + 0.25  # the child's 0.3 s, in clock ticks
        assert tree.rss_bytes > alone.rss_bytes
    finally:
        parent.communicate(b"", timeout=30)
    assert sample_tree(parent.pid) is None  # gone
