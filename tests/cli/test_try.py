"""`rolloutctl try` and `rolloutctl replay` as a user runs them, end to end."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap

import httpx
import pexpect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.helpers import CLI_BOUND, rolloutctl_bin, run_cli, run_cli_batch, run_server

KEY = "sk-canary-try-31d2"


def styled(*words: str) -> str:
    """A pattern for `words` in order, with colour codes, spaces or an arrow between them."""
    gap = r"(?:\x1b\[[0-9;]*m|\s|→)*"
    return gap.join(re.escape(word) for word in words)


def test_try_calculator_live_in_a_terminal():
    child = pexpect.spawn(
        rolloutctl_bin(),
        ["try", "--example", "calculator"],
        encoding="utf-8",
        timeout=CLI_BOUND,
        dimensions=(50, 120),
    )
    for words in [
        ["agent", "calculator", "·", "policy", "calculator", "·", "server", "in-process"],
        ["tools", "add, subtract, multiply, divide"],
        ["Use the tools for every arithmetic step."],
        ["What is (5 + 3) * 2?"],
        ["call", "add(a=5, b=3)", "tool", "8"],
        ["call", "multiply(a=8, b=2)", "tool", "16"],
        ["The answer is 16."],
        ["summary"],
        ["COMPLETED"],
    ]:
        child.expect(styled(*words))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_try_save_then_replay_gives_the_same_messages(tmp_path):
    saved = tmp_path / "t.json"
    prompt = "calculate 12 divided by 4 then add 1"
    result, replayed, plain = run_cli_batch(
        ["try", "--example", "calculator", "--save", str(saved), "--callback-key", KEY,
         "--prompt", prompt],
        ["replay", str(saved), "--json"],
        ["replay", str(saved), "--plain", "--role", "tool"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "The answer is 4" in result.stdout
    assert KEY not in result.stdout + result.stderr + saved.read_text()
    replayed_doc, original = json.loads(replayed.stdout), json.loads(saved.read_text())
    assert replayed_doc["completion"]["final_messages"] == original["completion"]["final_messages"]
    assert replayed_doc["init"]["api_key"] == "***"
    assert "-> divide(a=12, b=4)\ntool       3\n" in plain.stdout
    assert "assistant" not in plain.stdout


def test_try_json_prints_one_trajectory_document():
    result = run_cli("try", "--example", "echo", "--prompt", "[bold red]hello[/]", "--json")
    assert result.returncode == 0, result.stderr
    traj = json.loads(result.stdout)
    assert traj["format"] == "rolloutctl.trajectory" and traj["version"] == 1
    assert traj["completion"]["status"] == "COMPLETED"


def test_try_escapes_markup_in_messages():
    result = run_cli(
        "try", "--example", "echo", "--policy", "echo", "--prompt", "[bold red]hello[/]"
    )
    assert result.stdout.count("[bold red]hello[/]") >= 2  # the prompt and its echo


BROKEN_AGENT = textwrap.dedent("""
    from rolloutctl import Agent, RolloutResult

    class Rewriter(Agent):
        name = "rewriter"

        async def run(self, ctx):
            await ctx.chat()
            ctx.messages[0] = {"role": "system", "content": "rewritten"}
            await ctx.chat()
            return RolloutResult()
""")


def test_try_exits_1_when_the_agent_rewrites_history(tmp_path):
    (tmp_path / "broken.py").write_text(BROKEN_AGENT)
    result = run_cli("try", f"{tmp_path / 'broken.py'}:Rewriter", "--policy", "echo", "--plain")
    assert result.returncode == 1
    assert "append" in result.stdout.lower()


def double_completion_server(pause: float = 0.0) -> Starlette:
    """A RolloutServer that does one chat turn and then posts its completion twice,
    `pause` seconds apart."""

    async def rollout(body: dict) -> None:
        async with httpx.AsyncClient(base_url=body["server_url"]) as client:
            chat = {
                "model": "default",
                "rollout_id": body["rollout_id"],
                "messages": body["messages"],
            }
            reply = (await client.post("/v1/chat/completions", json=chat)).json()
            final = [*body["messages"], reply["choices"][0]["message"]]
            done = {
                "rollout_id": body["rollout_id"],
                "status": "COMPLETED",
                "finish_reason": "stop",
                "final_messages": final,
                "metrics": {},
                "extra_fields": {},
            }
            await client.post("/v1/rollout/completed", json=done)
            await asyncio.sleep(pause)
            await client.post("/v1/rollout/completed", json=done)

    async def init(request: Request) -> JSONResponse:
        body = await request.json()
        asyncio.get_running_loop().create_task(rollout(body))
        return JSONResponse({"rollout_id": body["rollout_id"], "tools": []}, status_code=202)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "healthy"})

    return Starlette(
        routes=[Route("/v1/rollout/init", init, methods=["POST"]), Route("/health", health)]
    )


def test_try_server_url_catches_a_second_completion():
    with run_server(double_completion_server()) as url:
        result = run_cli("try", "--server-url", url, "--plain")
    assert result.returncode == 1
    assert "second completion" in result.stdout.lower() or "duplicate" in result.stdout.lower()


def test_try_server_url_catches_a_late_second_completion_within_the_linger():
    with run_server(double_completion_server(pause=0.5)) as url:
        result = run_cli("try", "--server-url", url, "--linger", "20", "--plain")
    assert result.returncode == 1
    assert "second completion" in result.stdout.lower() or "duplicate" in result.stdout.lower()


def test_try_server_url_against_our_own_server(start_server):
    result = run_cli("try", "--server-url", start_server(), "--plain")
    assert result.returncode == 0, result.stdout
    assert "The answer is 16" in result.stdout


def test_usage_errors_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    for result in run_cli_batch(
        ["try"],
        ["try", "--example", "nope"],
        ["replay", str(bad)],
        ["replay", str(tmp_path / "missing.json")],
        ["try", "--bogus-option"],
    ):
        assert result.returncode == 2, (result.args, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("rolloutctl: error:")


def test_replay_reads_a_bare_completion_payload(tmp_path):
    saved = tmp_path / "t.json"
    assert run_cli("try", "--example", "calculator", "--save", str(saved)).returncode == 0
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(json.loads(saved.read_text())["completion"]))
    result = run_cli("replay", str(payload), "--plain")
    assert result.returncode == 0, result.stderr
    assert "The answer is 16." in result.stdout and "COMPLETED" in result.stdout


def echoing_422_server() -> Starlette:
    """A careless RolloutServer whose 422 echoes the whole init body, key included."""

    async def init(request: Request) -> JSONResponse:
        return JSONResponse({"detail": [{"input": await request.json()}]}, status_code=422)

    return Starlette(routes=[Route("/v1/rollout/init", init, methods=["POST"])])


def test_try_never_shows_a_key_that_a_server_echoes():
    with run_server(echoing_422_server()) as url:
        result = run_cli("try", "--server-url", url, "--callback-key", KEY, "--plain")
    assert result.returncode == 1
    assert "422" in result.stdout + result.stderr
    assert KEY not in result.stdout + result.stderr


def test_cli_input_errors_and_unreachable_servers(tmp_path):
    from tests.helpers import refused_url

    for result in run_cli_batch(
        ["serve", "--example", "echo", "--port", "99999"],
        ["serve", "--example", "echo", "--log-level", "loud"],
        ["try", "--example", "echo", "--save", str(tmp_path / "no" / "t.json")],
        ["try", "--server-url", "ftp://host"],
        ["replay", str(tmp_path), "--role", "robot"],
    ):
        assert result.returncode == 2, (result.args, result.stderr)
        assert result.stderr.count("\n") == 1 and "env var: '[" not in result.stderr
    with refused_url() as url:
        result = run_cli("try", "--server-url", url)
    assert result.returncode == 3 and "Traceback" not in result.stderr


def test_replay_json_honours_the_filters_and_rejects_bad_latencies(tmp_path):
    saved = tmp_path / "t.json"
    assert run_cli("try", "--example", "calculator", "--save", str(saved)).returncode == 0
    step = json.loads(run_cli("replay", str(saved), "--step", "2", "--json").stdout)
    assert {entry["turn"] for entry in step} == {2}
    assert [e["message"]["role"] for e in step] == ["assistant", "tool"]
    tools = json.loads(run_cli("replay", str(saved), "--role", "tool", "--json").stdout)
    assert [e["message"]["content"] for e in tools] == ["8", "16"]
    traj = json.loads(saved.read_text())
    traj["turns"][0]["latency_ms"] = "slow"
    saved.write_text(json.dumps(traj))
    bad = run_cli("replay", str(saved))
    assert bad.returncode == 2 and "latency_ms" in bad.stderr and "Traceback" not in bad.stderr
