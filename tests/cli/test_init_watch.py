"""`rolloutctl init` and `rolloutctl watch` against a separately running server and trainer."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator

import httpx
import pexpect
import pytest

from rolloutctl.attach.init import start_through_trainer
from rolloutctl.trainer import MockTrainer, TrainerConfig
from rolloutctl.trial import TryOptions, build_init
from tests.helpers import (
    CLI_BOUND,
    refused_url,
    rolloutctl_bin,
    run_cli,
    run_cli_batch,
    run_server,
    wait_for,
)

KEY = "sk-canary-init-77c1"


@pytest.fixture
def mock_trainer() -> Iterator[str]:
    trainer = MockTrainer(TrainerConfig())
    with run_server(trainer.app) as url:
        trainer.url = url
        yield url


def spawn(*args: str) -> tuple[pexpect.spawn, io.StringIO]:
    child = pexpect.spawn(
        rolloutctl_bin(), list(args), encoding="utf-8", timeout=CLI_BOUND, dimensions=(50, 120)
    )
    child.logfile_read = transcript = io.StringIO()
    return child, transcript


def test_init_watch_shows_the_rollout_live_in_a_terminal(start_server, mock_trainer):
    server = start_server()
    child, transcript = spawn(
        "init", server, "--trainer-url", mock_trainer, "--watch", "--callback-key", KEY,
        "--metadata", '{"ground_truth": "16"}',
    )  # fmt: skip
    for pattern in [
        r"server .*" + server.split("//")[1],
        r"tools .*add, subtract, multiply, divide",
        r"What is \(5 \+ 3\) \* 2\?",
        r"→ add\(a=5, b=3\)",
        r"→ multiply\(a=8, b=2\)",
        "The answer is 16.",
        "COMPLETED",
    ]:
        child.expect(pattern)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert KEY not in transcript.getvalue()


def test_init_then_watch_a_rollout_that_already_ended(start_server, mock_trainer):
    server = start_server()
    sent = run_cli("init", server, "--trainer-url", mock_trainer, "--rollout-id", "r-div",
               "--prompt", "What is 9 / 0?")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert "accepted r-div: tools add, subtract, multiply, divide" in sent.stdout
    assert f"rolloutctl watch {mock_trainer} --rollout-id r-div" in sent.stdout
    completed = f"{mock_trainer}/v1/rollout/completed/r-div"
    wait_for(lambda: httpx.get(completed).is_success, "the trainer's receipt of the completion")
    watched = run_cli("watch", mock_trainer, "--rollout-id", "r-div", "--plain")
    assert watched.returncode == 0, watched.stderr
    assert "status" in watched.stdout
    assert "-> divide(a=9, b=0)\ntool       Error:" in watched.stdout
    assert "1 of 1 tool calls failed" in watched.stdout
    assert "0.00 s" not in watched.stdout  # the init was not seen: no span to show
    assert "server says" in watched.stdout  # the server's own figures stand in


def test_watch_every_rollout_until_ctrl_c(start_server, mock_trainer):
    server = start_server()
    child, _ = spawn("watch", mock_trainer)
    child.expect("until Ctrl-C")
    for rollout_id, prompt in (("w-1", "What is 1 + 2?"), ("w-2", "What is 4 * 5?")):
        init = build_init(rollout_id, TryOptions(prompt=prompt)) | {"server_url": mock_trainer}
        asyncio.run(start_through_trainer(mock_trainer, server, init, None))
        child.expect(f"turn 1 · {rollout_id}")
        child.expect(rf"rollout(?:\x1b\[[0-9;]*m|\s)+{rollout_id}")  # its summary
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_init_errors(start_server, mock_trainer, tmp_path):
    keyed = start_server(api_key="inbound-k")
    accepted = run_cli("init", keyed, "--trainer-url", mock_trainer, "--server-key", "inbound-k",
                       "--json")  # fmt: skip
    assert accepted.returncode == 0 and json.loads(accepted.stdout)["tools"]
    usage = [
        (["--metadata", "[1]"], "--metadata must be a JSON object"),
        (["--messages", str(tmp_path / "none.json")], "--messages: cannot read"),
        (["--messages", "m.json", "--prompt", "x"], "not both"),
    ]
    with refused_url() as nowhere:
        refused, unreachable, no_trainer, no_callback_target, *bad_input = run_cli_batch(
            ["init", keyed, "--trainer-url", mock_trainer],
            ["init", nowhere, "--trainer-url", mock_trainer],
            ["watch", nowhere],
            ["init", keyed, "--trainer-url", nowhere, "--server-key", "inbound-k"],
            *(["init", keyed, "--trainer-url", mock_trainer, *args] for args, _ in usage),
        )
    assert refused.returncode == 1 and "HTTP 401" in refused.stderr
    assert "cannot reach the trainer" in no_callback_target.stderr
    for result in (unreachable, no_trainer, no_callback_target):
        assert result.returncode == 3 and result.stderr.count("\n") == 1, result.stderr
    for (args, words), result in zip(usage, bad_input, strict=True):
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)


def test_init_sends_messages_from_a_file(start_server, mock_trainer, tmp_path):
    server = start_server()
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps([{"role": "system", "content": "S"},
                                {"role": "user", "content": "What is 2 + 2?"}]))  # fmt: skip
    result = run_cli("init", server, "--trainer-url", mock_trainer, "--messages", str(chat),
                 "--watch", "--plain")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "system     S\nuser       What is 2 + 2?" in result.stdout
    assert "-> add(a=2, b=2)" in result.stdout


def test_init_watch_json_prints_one_trajectory_document(start_server, mock_trainer):
    server = start_server()
    bare = [url.removeprefix("http://") for url in (server, mock_trainer)]  # as httpie takes them
    result = run_cli("init", bare[0], "--trainer-url", bare[1], "--watch", "--json",
                 "--callback-key", KEY)  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["completion"]["status"] == "COMPLETED"
    assert document["init"]["server_url"] == mock_trainer and len(document["turns"]) == 3
    assert KEY not in result.stdout


def test_init_watch_gives_up_after_timeout_when_the_trainer_refuses_the_completion(
    start_server,
):
    trainer = MockTrainer(TrainerConfig(expect_api_key="sk-not-sent"))  # every callback: 401
    with run_server(trainer.app) as refusing:
        trainer.url = refusing
        result = run_cli(
            "init", start_server(), "--trainer-url", refusing, "--watch", "--plain",
            "--timeout", "3",
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "no completion of init-" in result.stderr and "within 3 s (--timeout)" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_trainer_plays_with_the_tools_the_rollout_offers(start_server, mock_trainer):
    """init has the mock trainer send the init, so it knows the 202's tools: against an
    agent without calculator tools, the calculator policy calls none it does not have."""
    from rolloutctl import ToolLoopAgent, tool

    @tool
    def forecast(city: str) -> str:
        """Forecast the weather.

        Args:
            city: the city
        """
        return "sunny"

    class Weather(ToolLoopAgent):
        name = "weather"
        tool_list = (forecast,)

    server = start_server(Weather())
    result = run_cli("init", server, "--trainer-url", mock_trainer, "--watch", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    calls = [c for t in document["turns"] for c in t["assistant"].get("tool_calls") or []]
    assert calls == [] and document["violations"] == []
    assert [t["function"]["name"] for t in document["tools"]] == ["forecast"]
