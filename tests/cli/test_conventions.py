"""Conventions every command keeps: env vars for options, exit codes, no tracebacks."""

from __future__ import annotations

import subprocess

import typer

from rolloutctl.cli.app import app
from tests.helpers import rolloutctl_bin

COMMANDS = {"serve", "try", "replay", "mock-trainer", "check", "validate", "bench"}


def test_every_command_exists_and_every_option_reads_the_environment():
    root = typer.main.get_command(app)
    assert set(root.commands) == COMMANDS
    for name, command in root.commands.items():
        for param in command.params:
            if param.param_type_name != "option" or param.name == "help":
                continue
            envvars = [param.envvar] if isinstance(param.envvar, str) else param.envvar or []
            expected = f"ROLLOUTCTL_{param.name.upper()}".replace("_OUTPUT", "")
            assert any(v.startswith("ROLLOUTCTL_") for v in envvars), (name, param.name)
            assert expected in envvars or param.name.endswith("_output"), (name, param.name)


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
