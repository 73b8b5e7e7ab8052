"""Datasets and a served calculator for the eval, export and diff tests."""

from __future__ import annotations

import json
import random
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, rolloutctl_bin

OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def arithmetic_rows(count: int, seed: int = 7) -> list[dict]:
    """Questions the calculator policy solves with one tool call, with their answers."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        a, b, op = rng.randint(1, 99), rng.randint(1, 99), rng.choice(list(OPS))
        rows.append(
            {"id": f"q{index}", "prompt": f"What is {a} {op} {b}?", "ground_truth": OPS[op](a, b)}
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def arithmetic(tmp_path: Path) -> Callable[[int], Path]:
    return lambda count: write_jsonl(tmp_path / f"arith{count}.jsonl", arithmetic_rows(count))


def records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture
def served_calculator() -> Iterator[str]:
    """`rolloutctl serve --example calculator` on a free port, healthy."""
    port = free_port()
    process = subprocess.Popen(
        [rolloutctl_bin(), "serve", "--example", "calculator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("rolloutctl serve did not become healthy within 30 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def gated_agent(tmp_path: Path, gate: Path) -> Path:
    """An agent whose tool waits past row 2 until `gate` exists."""
    agent = tmp_path / "gated.py"
    agent.write_text(
        textwrap.dedent(f"""
        import asyncio
        from pathlib import Path
        from rolloutctl import ToolLoopAgent, tool

        @tool
        async def add(a: float, b: float) -> str:
            \"\"\"Add two numbers; past row 2, only once the gate is open.\"\"\"
            while a >= 3 and not Path({str(gate)!r}).exists():
                await asyncio.sleep(0.05)
            return str(int(a + b))

        class Gated(ToolLoopAgent):
            name = "gated"
            tool_list = (add,)

        agent = Gated()
    """)
    )
    return agent
