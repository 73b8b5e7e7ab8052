"""What a newcomer meets following the README and docs/: the real binary in a pseudo-terminal."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.helpers import CLI_BOUND, cli_group, free_port, rolloutctl_bin, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def terminal(*args: str, cwd: str | None = None, columns: int = 200) -> tuple[int, str]:
    """Run `rolloutctl ARGS` in a pseudo-terminal to its end: (exit status, its text)."""
    child = pexpect.spawn(
        rolloutctl_bin(), list(args), encoding="utf-8", timeout=CLI_BOUND,
        dimensions=(50, columns), cwd=cwd,
    )  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before.replace("\r\n", "\n")


def test_every_command_says_what_it_does_whole_in_an_80_column_terminal():
    """`init`'s line once ended 'called back by a...' in `rolloutctl --help` (and the README)."""
    status, text = terminal("--help", columns=80)
    commands = text[text.index("Commands:") :].splitlines()[1:]
    assert status == 0 and len(commands) == 14
    assert [line for line in commands if line.endswith("...")] == []


def test_serve_help_names_the_variables_its_options_really_read():
    """`serve --help` once said --host and --port read ROLLOUTCTL_SERVE_*, yet --host reads
    ROLLOUTCTL_HOST and --max-concurrent ROLLOUTCTL_SERVE_MAX_CONCURRENT."""
    status, text = terminal("serve", "--help")
    assert status == 0
    flat = " ".join(text.split())
    read = set(re.findall(r"\[env var: (ROLLOUTCTL_SERVE_\w+)", flat))
    assert read == {"ROLLOUTCTL_SERVE_PORT", "ROLLOUTCTL_SERVE_MAX_CONCURRENT"}
    environment = flat[flat.index("Environment:") : flat.index("Precedence:")]
    assert set(re.findall(r"ROLLOUTCTL_SERVE_\w+", environment)) == read
    assert "ROLLOUTCTL_HOST" in flat and "ROLLOUTCTL_SERVE_HOST" not in flat


def test_export_help_names_its_argument_as_the_usage_line_does():
    status, text = terminal("export", "--help")
    assert status == 0 and "{source}" in text
    assert "SOURCE is a trajectory file" in " ".join(text.split())
    assert "FILE_OR_RUN" not in text


@pytest.fixture(scope="module")
def readme_eval(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The README's `eval` example, run as written from the repository's root (its run
    directory under a temporary folder): (the run, what it printed)."""
    row = next(
        line
        for line in README.read_text().splitlines()
        if "(docs/commands.md#rolloutctl-eval)" in line
    )
    command = shlex.split(row.split("`")[-2].removeprefix("uv run rolloutctl "))
    run = tmp_path_factory.mktemp("readme") / "run"
    status, text = terminal(*command, "--output", str(run), "--plain", cwd=str(ROOT))
    assert status == 0, text
    return run, text


def test_the_readme_eval_example_runs_on_the_bundled_dataset(readme_eval):
    run, text = readme_eval
    assert "outcomes        passed 3" in text
    results = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in results) == ["add-1", "add-2", "mul-1"]  # -k 'add or mul'


def test_view_of_a_row_the_run_does_not_have_is_one_line_and_exit_2(readme_eval, tmp_path):
    """`view RUN:ROW` once printed a URL to a page that found nothing; `replay` said why."""
    run, _ = readme_eval
    status, text = terminal("view", f"{run}:99")
    assert status == 2 and text.strip() == f"rolloutctl: error: {run}: no result for row 99 epoch 0"
    shutil.copytree(run, tmp_path / "a")
    shutil.copytree(run, tmp_path / "b")
    status, text = terminal("view", f"{tmp_path}:0")
    assert (
        status == 2
        and text.strip() == f"rolloutctl: error: {tmp_path}: holds 2 runs; RUN:ROW names one"
    )


def test_eval_rows_past_the_datasets_end_are_named_not_silently_dropped():
    dataset = str(ROOT / "examples" / "arith.jsonl")
    status, text = terminal("eval", dataset, "--example", "calculator", "--rows", "5,9-12")
    assert status == 2
    assert text.splitlines() == [
        f"rolloutctl: --rows: {dataset} has rows 0-4, so 5 of the rows named are left out"
        " (from row 5 on)",
        f"rolloutctl: error: {dataset}: no rows to run",
    ]
    status, text = terminal("eval", dataset, "--example", "calculator", "-k", "nowhere")
    assert status == 2 and text.strip().endswith("no row matches -k 'nowhere' to run")


def test_a_server_wanting_its_key_is_said_in_one_line_by_try_bench_and_eval(tmp_path):
    """Without the server's inbound key, `try --server-url` said only 'missing or wrong
    Authorization bearer key' (which reads like the api_key), `bench` printed a report of
    refused inits and `eval` a run of init_refused errors; `check` already said it in one line."""
    key, port = "sk-canary-firsthour-7d1e", free_port()
    server = pexpect.spawn(
        rolloutctl_bin(), ["serve", "--example", "echo", "--port", str(port)], encoding="utf-8",
        timeout=CLI_BOUND, env={**os.environ, "ROLLOUTCTL_SERVER_KEY": key},
    )  # fmt: skip
    url, dataset = f"http://127.0.0.1:{port}", str(ROOT / "examples" / "arith.jsonl")
    try:
        server.expect("inbound Bearer key required")
        server.expect("Application startup complete")
        tried = terminal("try", "--server-url", url, "--plain")
        benched = terminal("bench", "--server-url", url, "--rollouts", "2")
        evaluated = terminal("eval", dataset, "--server-url", url, "-o", str(tmp_path / "run"))
        wrong = terminal("bench", "--server-url", url, "--server-key", "not-it")
    finally:
        server.sendintr()
        server.expect(pexpect.EOF)
    assert tried[0] == 1 and tried[1].splitlines()[-1] == (
        "rolloutctl: error: init refused with HTTP 401: missing or wrong Authorization bearer"
        " key (the server wants its inbound key: give it with --server-key or"
        " ROLLOUTCTL_SERVER_KEY)"
    )
    missing = f"rolloutctl: error: {url} answers HTTP 401: it wants its inbound key; give it"
    missing += " with --server-key"
    assert benched == evaluated == (2, missing + "\n")
    assert not (tmp_path / "run").exists()
    assert wrong[0] == 2 and "401 to the key given with --server-key" in wrong[1]
    assert key not in tried[1] + benched[1] + evaluated[1] + wrong[1]


def test_the_key_table_names_every_command_that_takes_each_key():
    """docs/configuration.md said only check, try and bench send --server-key, and only try
    takes --callback-key; init and eval take them too."""
    table = (ROOT / "docs" / "configuration.md").read_text().split("Two keys, two names")[1]
    for flag in ("--server-key", "--callback-key", "--expect-callback-key"):
        row = next(line for line in table.splitlines() if line.startswith(f"| `{flag}`"))
        named = set(re.findall(r"`([a-z-]+)`", row.split("|")[3]))
        takers = {
            name
            for name, command in cli_group().commands.items()
            if any(flag in param.opts for param in command.params)
        }
        assert takers <= named, (flag, takers - named)


@pytest.fixture(scope="module")
def mock_trainer() -> Iterator[str]:
    """`rolloutctl mock-trainer` (the real binary) on a free port: its URL."""
    port = free_port()
    trainer = pexpect.spawn(
        rolloutctl_bin(), ["mock-trainer", "--port", str(port)], encoding="utf-8",
        timeout=CLI_BOUND,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        trainer.expect("mock trainer")
        wait_healthy(url)
        yield url
    finally:
        trainer.sendintr()
        trainer.expect(pexpect.EOF)


def test_watching_a_rollout_not_seen_yet_says_what_it_waits_for(mock_trainer):
    """`watch URL --rollout-id ID` for a rollout the trainer has not seen (a typo, or one
    not started yet) showed a blank terminal until Ctrl-C."""
    watch = pexpect.spawn(
        rolloutctl_bin(), ["watch", mock_trainer, "--rollout-id", "r-typo"], encoding="utf-8",
        timeout=CLI_BOUND, dimensions=(50, 120),
    )  # fmt: skip
    watch.expect(f"watching {mock_trainer}: rollout r-typo, until its completion")
    watch.sendintr()
    watch.expect(pexpect.EOF)
    watch.close()
    assert watch.exitstatus == 130


def test_an_init_sent_to_the_trainers_url_says_it_found_no_init_route(mock_trainer):
    """The two URLs swapped (`init TRAINER --trainer-url SERVER`, `try --server-url TRAINER`)
    ended in a bare 'init refused with HTTP 404: Not Found'."""
    status, text = terminal("try", "--server-url", mock_trainer, "--plain")
    assert status == 1
    assert text.splitlines()[-1] == (
        "rolloutctl: error: init refused with HTTP 404: Not Found (no init route there: is"
        " that the RolloutServer's URL, and does it speak this protocol?)"
    )


def test_a_mistyped_command_gets_one_readable_line():
    """It read "Did you mean 'try'?; try 'rolloutctl --help'"."""
    status, text = terminal("tyr")
    assert status == 2 and text.strip() == (
        "rolloutctl: error: No such command 'tyr'. Did you mean 'try'? (see 'rolloutctl --help')"
    )


def test_view_counts_in_good_english_and_stops_on_ctrl_c(readme_eval):
    """It said `1 runs (3 rollouts), 0 trajectory files`."""
    run, _ = readme_eval
    child = pexpect.spawn(
        rolloutctl_bin(), ["view", str(run)], encoding="utf-8", timeout=CLI_BOUND,
        dimensions=(50, 200),
    )  # fmt: skip
    child.expect(r"rolloutctl view: ([^\r\n]*)\r\n")
    assert child.match[1] == "1 run (3 rollouts), 0 trajectory files"
    child.expect(f"http://127.0.0.1:[0-9]+/run/{run.name}")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def served(*args: str) -> tuple[pexpect.spawn, str]:
    """`rolloutctl serve ARGS` (the real binary) on a free port, up: the process, its URL."""
    port = free_port()
    child = pexpect.spawn(
        rolloutctl_bin(), ["serve", *args, "--port", str(port)], encoding="utf-8",
        timeout=CLI_BOUND,
    )  # fmt: skip
    child.expect("Application startup complete")
    return child, f"http://127.0.0.1:{port}"


def test_check_of_a_server_of_the_other_protocol_says_which_protocol_it_speaks():
    """`check URL` of an Osmosis SDK 0.3 server (or `--protocol osmosis` of a v1 one) failed
    with `status is 'ok'` and a column of refused inits, not saying why."""
    osmosis, osmosis_url = served("--example", "echo", "--protocol", "osmosis")
    v1, v1_url = served("--example", "echo")
    try:
        as_v1 = terminal("check", osmosis_url, "--only", "health", "--plain")
        as_osmosis = terminal(
            "check", v1_url, "--protocol", "osmosis", "--only", "health", "--plain"
        )
    finally:
        for child in (osmosis, v1):
            child.sendintr()
            child.expect(pexpect.EOF)
    assert as_v1[0] == as_osmosis[0] == 1
    first = as_v1[1].splitlines()[0]
    assert "status is 'ok' (an Osmosis SDK 0.3 server's /health: check it with" in first
    assert "(a v1 server's /health: check it without --protocol osmosis)" in as_osmosis[1]


def test_a_deeply_nested_file_names_the_place_with_a_mark_where_it_is_cut(tmp_path):
    """The place was cut mid-index with no mark: `deep.json: [0][0]...[0][0: nested ...`."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 150 + "]" * 150)
    status, text = terminal("replay", str(deep))
    assert status == 2
    assert (
        text.strip() == f"rolloutctl: error: {deep}: {'[0]' * 26}…: nested deeper than 100 levels"
    )


def test_a_refused_init_names_the_field_not_a_python_list():
    """A 422 read `init refused with HTTP 422: [{'loc': ['body', 'server_url'], 'msg': ...`."""
    server, url = served("--example", "echo", "--allow-callback-host", "trainer.internal")
    try:
        status, text = terminal("try", "--server-url", url, "--plain")
    finally:
        server.sendintr()
        server.expect(pexpect.EOF)
    assert status == 1 and text.splitlines()[-1] == (
        "rolloutctl: error: init refused with HTTP 422: server_url: callback host '127.0.0.1'"
        " is not on this server's allowlist (--allow-callback-host)"
    )


def test_a_target_without_its_attribute_is_told_what_the_file_defines(tmp_path):
    """`try mine.py` of a file defining `class Mine(ToolLoopAgent)` and no `agent` said only
    "'mine.py' has no attribute 'agent'"; `x = 1` was "a int"."""
    (tmp_path / "mine.py").write_text(
        "from rolloutctl import ToolLoopAgent\n\n\nclass Mine(ToolLoopAgent):\n"
        "    name = 'mine'\n\n\nx = 1\n"
    )
    missing = terminal("try", "mine.py", cwd=str(tmp_path))
    not_agent = terminal("validate", "mine.py:x", cwd=str(tmp_path))
    assert missing == (
        2,
        "rolloutctl: error: 'mine.py' has no attribute 'agent' (it defines Mine: name one, as"
        " in mine.py:Mine)\n",
    )
    assert not_agent[0] == 2 and "mine.py:x is an int, not an Agent" in not_agent[1]


def test_try_of_a_raising_agent_says_how_to_see_where_it_raised(tmp_path):
    """The summary's `agent_error: ZeroDivisionError: ...` gave no pointer to --debug, the
    one way to get the traceback of the agent's own line."""
    (tmp_path / "raises.py").write_text(
        "from rolloutctl import Agent\n\n\nclass Raises(Agent):\n    name = 'raises'\n\n"
        "    async def run(self, ctx):\n        return 1 / 0\n\n\nagent = Raises()\n"
    )
    status, text = terminal("try", "raises.py", "--plain", cwd=str(tmp_path))
    assert status == 1 and "agent_error: ZeroDivisionError: division by zero" in text
    assert text.splitlines()[-1] == (
        "rolloutctl: the agent or a tool raised an exception; --debug shows where (your file"
        " and line)"
    )
    status, text = terminal("--debug", "try", "raises.py", "--plain", cwd=str(tmp_path))
    assert status == 1 and 'raises.py", line 8, in run' in text and "--debug shows" not in text
