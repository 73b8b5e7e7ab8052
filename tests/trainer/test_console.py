"""`serve_trainer` (behind `rolloutctl mock-trainer`): banner, one line per exchange, JSON lines."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time

import httpx
import pexpect
from rich.console import Console

from rolloutctl.events import Event, EventKind
from rolloutctl.trainer import TrainerConfig
from rolloutctl.trainer.console import event_line, trainer_banner
from tests.helpers import CALCULATOR_TOOLS, CLI_BOUND, free_port

SERVE = (
    "import sys; from rolloutctl.trainer import TrainerConfig; "
    "from rolloutctl.trainer.console import serve_trainer; "
    "serve_trainer(TrainerConfig(expect_api_key=sys.argv[3] or None), port=int(sys.argv[1]), "
    "json_lines=sys.argv[2] == 'json')"
)
TRICKY = {"role": "user", "content": "What is [bold red]2+3[/]?"}


def spawn(port: int, mode: str, key: str = "") -> pexpect.spawn:
    """The trainer in a pseudo-terminal, once it answers /health."""
    args, env = ["-c", SERVE, str(port), mode, key], {**os.environ, "NO_COLOR": "1"}
    child = pexpect.spawn(sys.executable, args, env=env, encoding="utf-8", timeout=CLI_BOUND)
    for _ in range(400):
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            return child
        time.sleep(0.05)
    raise AssertionError(f"the mock trainer did not start: {child.read_nonblocking(4096, 0)}")


def post_chat(port: int, headers: dict | None = None) -> None:
    body = {"model": "default", "rollout_id": "cli-1", "messages": [TRICKY],
            "tools": CALCULATOR_TOOLS}  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    httpx.post(url, json=body, headers=headers, timeout=30).raise_for_status()


def stop(child: pexpect.spawn) -> None:
    child.kill(signal.SIGINT)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_banner_then_one_line_per_exchange() -> None:
    port = free_port()
    child = spawn(port, "rich", "sk-console-canary")
    child.expect("mock trainer")
    child.expect(f"http://127.0.0.1:{port}")
    child.expect("expect_api_key=\\*\\*\\*")
    post_chat(port, {"Authorization": "Bearer sk-console-canary"})
    child.expect("chat ← cli-1")
    child.expect_exact("[bold red]2+3[/]?")  # printed literally, never read as markup
    child.expect_exact('add({"a":2,"b":3})')
    stop(child)
    assert "sk-console-canary" not in child.before


def test_json_lines_mode_prints_each_event_as_json() -> None:
    port = free_port()
    child = spawn(port, "json")
    post_chat(port)
    child.expect('\\{"kind":"chat_request"[^\\r\\n]*')
    event = Event.from_dict(json.loads(child.after))
    assert event.kind == EventKind.CHAT_REQUEST and event.data["body"]["messages"] == [TRICKY]
    child.expect('"kind":"chat_response"')
    stop(child)


def test_event_lines_escape_markup_from_the_wire() -> None:
    console = Console(record=True, width=200, color_system=None)
    event = Event(EventKind.VIOLATION, "r[x]", {"rule": "bad[/]", "message": "[red]boom"})
    console.print(event_line(event))
    console.print(trainer_banner(TrainerConfig(), "http://127.0.0.1:1"))
    text = console.export_text()
    assert "r[x]  bad[/]: [red]boom" in text and "calculator" in text


def test_mock_trainer_seed_makes_fault_injection_repeatable() -> None:
    """The real command: the same --seed fails the same chat calls."""
    from tests.helpers import rolloutctl_bin

    ports = [free_port(), free_port()]
    children = [  # the two start at the same time; each is asked on its own
        pexpect.spawn(
            rolloutctl_bin(),
            ["mock-trainer", "--port", str(port), "--fail-rate", "0.5", "--seed", "7"],
            encoding="utf-8", timeout=CLI_BOUND,
        )
        for port in ports
    ]  # fmt: skip
    outcomes = []
    for port, child in zip(ports, children, strict=True):
        child.expect(f"http://127.0.0.1:{port}")
        body = {"model": "default", "messages": [TRICKY]}
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        codes = [
            httpx.post(url, json=body | {"rollout_id": f"s{n}"}, timeout=30).status_code
            for n in range(12)
        ]
        outcomes.append(codes)
        stop(child)
    assert outcomes[0] == outcomes[1] and {200, 503} == set(outcomes[0])
