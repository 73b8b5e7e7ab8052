"""`try`'s live view in a real terminal, and how it ends: closed pipes, Ctrl-C, timeouts."""

from __future__ import annotations

import io
import json
import re
import textwrap

import pexpect

from tests.helpers import CLI_BOUND, refused_url, rolloutctl_bin, run_cli, run_cli_batch

RED = "\x1b[1;31m"
SLOW_AGENT = textwrap.dedent("""
    import asyncio

    from rolloutctl import ToolLoopAgent, tool

    @tool
    async def add(a: float, b: float) -> str:
        \"\"\"Add two numbers, slowly.\"\"\"
        await asyncio.sleep(float(a))
        return str(a + b)

    class Slow(ToolLoopAgent):
        name = "slow"
        tool_list = (add,)

    agent = Slow()
""")


def spawn(*args: str, timeout: float = CLI_BOUND) -> tuple[pexpect.spawn, io.StringIO]:
    child = pexpect.spawn(
        rolloutctl_bin(), list(args), encoding="utf-8", timeout=timeout, dimensions=(50, 120)
    )
    child.logfile_read = transcript = io.StringIO()
    return child, transcript


def test_piping_into_head_prints_one_line_and_exits_0_in_a_terminal(tmp_path):
    saved = tmp_path / "run.json"
    script = (
        f"{rolloutctl_bin()} try --example calculator --save {saved} | head -1; "
        "echo rc=${PIPESTATUS[0]}"
    )
    child = pexpect.spawn("bash", ["-c", script], encoding="utf-8", timeout=CLI_BOUND)
    child.expect(pexpect.EOF)
    lines = child.before.replace("\r\n", "\n").strip().splitlines()
    assert lines == ["agent calculator | policy calculator | server in-process", "rc=0"]
    assert json.loads(saved.read_text())["completion"]["status"] == "COMPLETED"


def test_a_failing_tool_is_red_under_its_call_and_counted():
    child, transcript = spawn("try", "--example", "calculator", "--prompt", "What is 7 / 0?")
    child.expect(pexpect.EOF)
    child.close()
    text = transcript.getvalue()
    assert re.search(
        r"→ divide\(a=7, b=0\)[^\n]*\n[^\n]*tool[^\n]*" + re.escape(RED) + "Error:", text
    )
    assert RED + "1 of 1 tool calls failed" in text
    assert child.exitstatus == 0  # a failing tool does not fail the rollout


def test_a_slow_tool_shows_a_spinner_and_ctrl_c_summarises_and_saves(tmp_path):
    agent, saved = tmp_path / "slow.py", tmp_path / "run.json"
    agent.write_text(SLOW_AGENT)
    child, transcript = spawn(
        "try", f"{agent}:agent", "--prompt", "What is 60 + 1?", "--save", str(saved)
    )
    child.expect(r"running add\(a=60, b=1\)\s+\d+\.\d s")
    child.expect(r"running add\(a=60, b=1\)\s+[1-9]\d*\.\d s")  # the clock moves on
    child.sendintr()
    child.expect("summary")
    child.expect("interrupted")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    traj = json.loads(saved.read_text())
    assert traj["interrupted"] is True
    assert traj["init"]["messages"] == [{"role": "user", "content": "What is 60 + 1?"}]
    assert traj["turns"][0]["assistant"]["tool_calls"][0]["function"]["name"] == "add"
    assert "Traceback" not in transcript.getvalue()


def test_timeout_summary_names_the_real_cause(tmp_path):
    agent = tmp_path / "slow.py"
    agent.write_text(SLOW_AGENT)
    result = run_cli("try", f"{agent}:agent", "--prompt", "What is 30 + 1?", "--timeout", "1")
    assert result.returncode == 1
    assert re.search(r"cause\s+no completion within 1 s", result.stdout), result.stdout
    assert "Traceback" not in result.stderr


def test_control_characters_are_visible_in_plain_output_too():
    prompt = "\x1b[31mred\x1b]0;title\x07 after"
    result = run_cli("try", "--example", "echo", "--policy", "echo", "--prompt", prompt, "--plain")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\e[31mred\\e]0;title\\x07 after" in result.stdout


def test_max_chars_and_full():
    prompt = "z" * 5000
    echo = ["try", "--example", "echo", "--policy", "echo", "--prompt", prompt, "--plain"]
    short, tight, full = run_cli_batch(echo, [*echo, "--max-chars", "10"], [*echo, "--full"])
    assert "3,000 more characters; --full shows all" in short.stdout
    assert len(short.stdout) < 8000
    assert "4,990 more characters" in tight.stdout
    assert "more characters" not in full.stdout and full.stdout.count("z") == 10000


def test_system_prompt_only_for_the_calculator_and_an_empty_prompt_is_sent():
    echo = ["try", "--example", "echo", "--policy", "echo", "--json"]
    calc, echoed, empty = run_cli_batch(
        ["try", "--example", "calculator", "--json"], echo, [*echo, "--prompt", ""]
    )
    assert json.loads(calc.stdout)["init"]["messages"][0]["role"] == "system"
    assert [m["role"] for m in json.loads(echoed.stdout)["init"]["messages"]] == ["user"]
    assert json.loads(empty.stdout)["init"]["messages"] == [{"role": "user", "content": ""}]


def test_input_errors_before_any_work(tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text('{"content": "hi"}\n')
    cases = [
        (["--save", str(tmp_path)], "is a directory"),
        (["--script", str(script)], "--script needs --policy script"),
        (["--upstream", "http://127.0.0.1:1"], "--upstream needs --policy proxy"),
    ]
    lines = (["try", "--example", "echo", *args] for args, _ in cases)
    for (args, words), result in zip(cases, run_cli_batch(*lines), strict=True):
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr and result.stderr.count("\n") == 1
        assert result.stdout == ""


def test_an_unreachable_server_is_one_line():
    with refused_url() as url:
        result = run_cli("try", "--server-url", url)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"rolloutctl: error: cannot reach the RolloutServer at {url}")
    assert "ConnectError(" not in result.stderr
