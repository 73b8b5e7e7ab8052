"""Shell completions: up to date with the CLI, and working in a real bash.

The scripts ask the `rolloutctl` on PATH at every TAB, so each test puts this
environment's bin folder first on PATH, as an installed rolloutctl would be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest

from tests.helpers import CLI_BOUND, rolloutctl_bin

REPO = Path(__file__).resolve().parents[2]
COMPLETIONS = REPO / "completions"
FILES = ["rolloutctl.bash", "_rolloutctl", "rolloutctl.fish"]
COMMANDS = {"serve", "mock-trainer", "try", "replay", "check", "validate"}
REGENERATE = "uv run python scripts/gen_completions.py"

# Completes the words given as arguments (the last one being typed) with the function
# that the sourced script registered for rolloutctl, as bash itself would call it.
BASH_COMPLETE = """
source "$COMPLETION_SCRIPT"
spec=$(complete -p rolloutctl) || exit 3
func=${spec#*-F }; func=${func%% *}
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
"$func" rolloutctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


def shell_env(**extra: str) -> dict[str, str]:
    bin_dir = str(Path(rolloutctl_bin()).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra}


def bash_complete(*words: str) -> list[str]:
    env = shell_env(COMPLETION_SCRIPT=str(COMPLETIONS / "rolloutctl.bash"))
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", BASH_COMPLETE, "bash", *words],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_BOUND,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_completions_prints_the_committed_scripts():
    """`rolloutctl completions SHELL` prints what completions/ holds, so the real-shell tests
    below test what a user installs either way."""
    shells = {"bash": "rolloutctl.bash", "zsh": "_rolloutctl", "fish": "rolloutctl.fish"}
    stale = []
    for shell, name in shells.items():
        printed = subprocess.run(
            [rolloutctl_bin(), "completions", shell], capture_output=True, timeout=CLI_BOUND
        )
        assert printed.returncode == 0, printed.stderr
        if (
            not (COMPLETIONS / name).is_file()
            or (COMPLETIONS / name).read_bytes() != printed.stdout
        ):
            stale.append(name)
    assert not stale, (
        f"completions/ is out of date with the CLI ({', '.join(stale)}): run `{REGENERATE}`"
    )
    unknown = subprocess.run(
        [rolloutctl_bin(), "completions", "tcsh"], capture_output=True, text=True, timeout=CLI_BOUND
    )
    assert unknown.returncode == 2 and "tcsh" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_bash_offers_every_command():
    offered = set(bash_complete("rolloutctl", ""))
    assert not COMMANDS - offered, f"missing: {sorted(COMMANDS - offered)}"


def test_bash_completes_an_option_of_try():
    assert bash_complete("rolloutctl", "try", "--exa") == ["--example"]


# A prompt no typed line contains: waiting for it means bash itself is reading (readline
# ready, the terminal raw), never just that the terminal echoed what the test typed.
PROMPT = "ready> "


def test_tab_in_an_interactive_bash() -> None:
    """Each keystroke goes to a bash waiting at its prompt: typed ahead while a command still
    ran, or before bash had set up the terminal, the line was cut (`olloutctl`), no
    completion came and the test waited out its bound."""
    bash = pexpect.spawn(
        "bash",
        ["--norc", "--noprofile", "-i"],
        env=shell_env(PS1=PROMPT),
        encoding="utf-8",
        timeout=CLI_BOUND,
        dimensions=(24, 200),
    )
    bash.expect_exact(PROMPT)
    # `$((6 * 7))` is echoed as typed and printed as 42: only the command's output matches.
    bash.sendline(f"source {COMPLETIONS / 'rolloutctl.bash'}; echo sourced-$((6 * 7))")
    bash.expect_exact("sourced-42")
    bash.expect_exact(PROMPT)
    bash.send("rolloutctl try --exa\t")
    # BEL: bash found no single completion (an ambiguous prefix); fail now, not at the bound
    assert bash.expect_exact(["--example ", "\x07"]) == 0, bash.before
    bash.sendcontrol("c")
    bash.expect_exact(PROMPT)
    bash.sendline("exit")
    bash.expect(pexpect.EOF)


def test_the_cli_answers_zsh_and_fish_requests():
    """The protocol the zsh and fish scripts use, asked without those shells."""
    ask = {"_TYPER_COMPLETE_ARGS": "rolloutctl va"}
    zsh = subprocess.run(
        [rolloutctl_bin()],
        env=shell_env(_ROLLOUTCTL_COMPLETE="complete_zsh", **ask),
        capture_output=True,
        text=True,
        timeout=CLI_BOUND,
    )
    assert zsh.stdout.startswith("_arguments") and '"validate":' in zsh.stdout
    fish = subprocess.run(
        [rolloutctl_bin()],
        env=shell_env(
            _ROLLOUTCTL_COMPLETE="complete_fish", _TYPER_COMPLETE_FISH_ACTION="get-args", **ask
        ),
        capture_output=True,
        text=True,
        timeout=CLI_BOUND,
    )
    assert fish.stdout.split("\t")[0] == "validate"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_loads_the_script_and_completes():
    script = f"source {COMPLETIONS / 'rolloutctl.fish'}; complete -C 'rolloutctl va'"
    result = subprocess.run(
        ["fish", "--no-config", "-c", script],
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=CLI_BOUND,
    )
    assert result.stdout.startswith("validate"), result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script():
    script = (
        f"autoload -Uz compinit && compinit -u && source {COMPLETIONS / '_rolloutctl'}"
        " && whence -w _rolloutctl_completion"
    )
    result = subprocess.run(
        ["zsh", "-f", "-c", script],
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=CLI_BOUND,
    )
    assert "function" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("try", "--policy", ""), {"calculator", "echo", "script", "proxy"}),
        (("serve", "--example", ""), {"calculator", "echo"}),
        (("replay", "run.json", "--role", ""), {"system", "user", "assistant", "tool"}),
        (("serve", "--log-level", ""), {"debug", "info", "warning", "error"}),
    ],
)
def test_bash_offers_the_values_of_an_option(words, expected):
    offered = set(bash_complete("rolloutctl", *words))
    assert expected <= offered, offered
