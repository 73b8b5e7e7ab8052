"""Conventions every command keeps: env vars for options, exit codes, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from rolloutctl.cli.app import app
from rolloutctl.cli.options import SCOPES
from tests.helpers import cli_group, rolloutctl_bin, run_cli, run_cli_batch

COMMANDS = {
    "serve", "try", "replay", "mock-trainer", "check", "validate", "bench", "init", "watch",
    "eval", "export", "diff", "view", "completions",
}  # fmt: skip


def _options():
    """(command, click option) for every option of every command."""
    root = cli_group()
    for name, command in root.commands.items():
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                yield name, param


def _flag(param) -> str:
    """`--max-turns` as MAX_TURNS: the option's long name, which its variable is named by."""
    long_names = [opt for opt in param.opts if opt.startswith("--")]
    return long_names[0].removeprefix("--").upper().replace("-", "_")


def test_every_command_exists_and_every_option_reads_the_environment():
    """The rule, stated once in the docs: ROLLOUTCTL_<OPTION>, and ROLLOUTCTL_<COMMAND>_<OPTION>
    only where two commands give the same option different defaults."""
    root = cli_group()
    assert set(root.commands) == COMMANDS
    defaults: dict[str, set[str]] = {}
    for _, param in _options():
        defaults.setdefault(_flag(param), set()).add(repr(param.default))
    for name, param in _options():
        envvars = [param.envvar] if isinstance(param.envvar, str) else param.envvar or []
        flag = _flag(param)
        scope = f"{SCOPES[name]}_" if len(defaults[flag]) > 1 else ""
        assert envvars and envvars[0] == f"ROLLOUTCTL_{scope}{flag}", (name, flag, envvars)


def test_one_variable_name_has_one_meaning_across_commands():
    """Commands sharing a variable share its default, so setting it never surprises one."""
    defaults: dict[str, set[str]] = {}
    for _, param in _options():
        for var in [param.envvar] if isinstance(param.envvar, str) else param.envvar:
            defaults.setdefault(var, set()).add(repr(param.default))
    assert {var: d for var, d in defaults.items() if len(d) > 1} == {}
    assert "ROLLOUTCTL_API_KEY" not in defaults and "ROLLOUTCTL_PORT" not in defaults
    inbound = [(n, p.opts) for n, p in _options() if "ROLLOUTCTL_SERVER_KEY" in p.envvar]
    assert sorted(n for n, opts in inbound if "--server-key" in opts) == sorted(
        ["serve", "check", "try", "bench", "init", "eval"]
    )


def test_version_and_help_are_quick_one_liners():
    result = subprocess.run([rolloutctl_bin(), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("rolloutctl ")
    help_text = subprocess.run([rolloutctl_bin(), "--help"], capture_output=True, text=True).stdout
    for command in COMMANDS:
        assert f"  {command} " in help_text


def test_debug_shows_the_traceback_that_is_otherwise_hidden(tmp_path):
    target = tmp_path / "boom.py"
    target.write_text("raise RuntimeError('boom at import')\n")
    plain = subprocess.run(
        [rolloutctl_bin(), "validate", f"{target}:agent"], capture_output=True, text=True
    )
    debug = subprocess.run(
        [rolloutctl_bin(), "--debug", "validate", f"{target}:agent"], capture_output=True, text=True
    )
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr and "boom at import" in plain.stderr
    assert "Traceback" in debug.stderr


def test_debug_after_the_subcommand_shows_the_users_own_line(tmp_path):
    target = tmp_path / "typo.py"
    target.write_text("x = 1\nif x\n    pass\n")
    *debugged, plain = run_cli_batch(
        ["--debug", "validate", f"{target}:agent"],
        ["validate", f"{target}:agent", "--debug"],
        ["validate", f"{target}:agent"],
    )
    for result in debugged:
        assert result.returncode == 2, result.stderr
        assert f'File "{target}", line 2' in result.stderr and "if x" in result.stderr
    assert plain.stderr.count("\n") == 1 and "line 2" in plain.stderr


def test_a_bad_value_from_the_environment_names_the_variable():
    result = run_cli("serve", "--example", "echo", env={"ROLLOUT_SERVER_PORT": "notanint"})
    assert result.returncode == 2
    assert "ROLLOUT_SERVER_PORT" in result.stderr and ".;" not in result.stderr
    flag = run_cli("serve", "--example", "echo", "--port", "x")
    assert "Invalid value for '--port'" in flag.stderr and ".;" not in flag.stderr


def test_a_directory_target_says_it_is_a_directory(tmp_path):
    result = run_cli("validate", str(tmp_path))
    assert result.returncode == 2
    assert "is a directory" in result.stderr and "no such file" not in result.stderr


def test_every_help_has_exit_codes_and_every_option_help():
    """Every help is rendered in one process by the same click command the binary runs; the
    real binary renders two of them. Examples on their own lines are checked in
    docs/reference.md (test_docs)."""
    for name, param in _options():
        assert param.help, f"{name} {param.opts} has no help text"
    runner = CliRunner()
    for name in COMMANDS:
        rendered = runner.invoke(app, [name, "--help"], env={"COLUMNS": "100"})
        assert rendered.exit_code == 0, rendered.output
        assert "Exit status:" in " ".join(rendered.output.split()), name
        assert ".;" not in rendered.output, name
    try_help = " ".join(run_cli("try", "--help").stdout.split())
    assert "3 the server could not start or be reached" in try_help
    trainer = run_cli("mock-trainer", "--help", env={"COLUMNS": "200"}).stdout
    assert "GET /v1/rollouts?limit=N" in trainer and "GET /v1/events?rollout_id=ID" in trainer


def test_help_and_version_load_no_engine():
    """Hundreds of runs start here: the root, --version and every --help import no HTTP,
    pydantic or server module (the commands import their engines when they run)."""
    script = (
        "import contextlib, io, sys\n"
        "from rolloutctl.cli.core import raw_main\n"
        f"for args in [['--version'], ['--help']] + [[c, '--help'] for c in {sorted(COMMANDS)}]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert raw_main(args) == 0, args\n"
        "heavy = ('httpx', 'pydantic', 'fastapi', 'uvicorn', 'rolloutctl.protocol')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_a_target_on_the_command_line_wins_over_rolloutctl_example(tmp_path):
    agent = tmp_path / "weather.py"
    agent.write_text(
        "from rolloutctl import ToolLoopAgent, tool\n\n\n"
        "@tool\ndef forecast(city: str) -> str:\n"
        '    """Forecast the weather.\n\n    Args:\n        city: the city\n    """\n'
        "    return 'sunny'\n\n\n"
        "class Weather(ToolLoopAgent):\n    name = 'weather'\n    tool_list = (forecast,)\n\n\n"
        "agent = Weather()\n"
    )
    overridden = run_cli("try", f"{agent}:agent", "--policy", "echo", "--plain",
                         env={"ROLLOUTCTL_EXAMPLE": "calculator"})  # fmt: skip
    assert overridden.returncode == 0, overridden.stderr
    assert "agent weather" in overridden.stdout and "tools forecast" in overridden.stdout
    both = run_cli("try", f"{agent}:agent", "--example", "calculator")
    assert both.returncode == 2 and "exactly one of TARGET or --example" in both.stderr
