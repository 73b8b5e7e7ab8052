"""Options and arguments shared by several commands, each declared once.

Environment variables follow one rule, so that one name has one meaning:

- an option that means the same in every command reads `ROLLOUTCTL_<OPTION>`
  (`--server-key` is the RolloutServer's inbound key in serve, check, try and bench);
- an option whose meaning or default differs between commands is scoped by its command:
  `ROLLOUTCTL_<SCOPE>_<OPTION>`, e.g. `ROLLOUTCTL_SERVE_PORT` (9000) and
  `ROLLOUTCTL_TRAINER_PORT` (9001), `ROLLOUTCTL_TRY_TIMEOUT` and `ROLLOUTCTL_CHECK_TIMEOUT`.

The command line wins over the environment, which wins over the default.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rolloutctl.errors import InputError

if TYPE_CHECKING:
    from rolloutctl.agent.context import Agent
    from rolloutctl.trainer import TrainerConfig
    from rolloutctl.trajectory.render import Renderer

__all__ = [
    "SCOPES",
    "CallbackKey",
    "Example",
    "FullFlag",
    "JsonFlag",
    "LogLevel",
    "MaxChars",
    "MaxTokensTotal",
    "MaxTurns",
    "MetadataJson",
    "Model",
    "NoMetrics",
    "Params",
    "PlainFlag",
    "PolicyName",
    "Prompt",
    "Protocol",
    "Role",
    "ScriptFile",
    "ServerKey",
    "System",
    "Target",
    "Upstream",
    "UpstreamKeyEnv",
    "VerboseFlag",
    "checked_url",
    "env_names",
    "make_renderer",
    "parse_json_object",
    "parse_metadata",
    "parse_params",
    "resolve_agent",
    "trainer_config",
    "use_plain",
]


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class Protocol(StrEnum):
    V1 = "v1"
    OSMOSIS = "osmosis"


# The scope of each command whose options may need scoped variables (see the docstring).
SCOPES = {
    "serve": "SERVE",
    "mock-trainer": "TRAINER",
    "try": "TRY",
    "check": "CHECK",
    "replay": "REPLAY",
    "validate": "VALIDATE",
    "bench": "BENCH",
    "watch": "WATCH",
    "init": "INIT",
    "eval": "EVAL",
    "export": "EXPORT",
    "diff": "DIFF",
    "view": "VIEW",
}


def env_names(name: str, *legacy: str, scope: str | None = None) -> list[str]:
    """`ROLLOUTCTL_[SCOPE_]NAME`, then any deployment variables read after it."""
    prefix = f"ROLLOUTCTL_{scope}_" if scope else "ROLLOUTCTL_"
    return [f"{prefix}{name}", *legacy]


ServerKey = Annotated[
    str | None,
    typer.Option(
        "--server-key",
        envvar=env_names("SERVER_KEY"),
        show_default=False,
        help="The RolloutServer's inbound key ('Authorization: Bearer KEY' on init and every "
        "route but /health). Prefer the environment variable: a command line is visible to "
        "other users.",
    ),
]


def _complete_examples(incomplete: str) -> list[str]:
    from rolloutctl.agent.loader import example_names

    return [name for name in example_names() if name.startswith(incomplete)]


def _complete_policies(incomplete: str) -> list[str]:
    from rolloutctl.trainer.policies.registry import POLICY_NAMES

    return [name for name in POLICY_NAMES if name.startswith(incomplete)]


ProtocolOption = Annotated[
    Protocol,
    typer.Option(
        "--protocol",
        envvar=env_names("PROTOCOL"),
        help="The wire protocol: v1 (docs/protocol.md) or osmosis (the Osmosis SDK 0.3 polling "
        "protocol: POST /rollout, long-polled results, chat at {chat_completions_url}"
        "/chat/completions).",
    ),
]


Target = Annotated[
    str | None,
    typer.Argument(
        help="The agent: 'package.module:attr' or 'path/to/file.py:attr' (attr defaults to "
        "'agent'); an Agent subclass or instance, an app from create_app, or an SDK 0.2 "
        "RolloutAgentLoop subclass or instance (rolloutctl.osmosis.v02).",
        show_default=False,
    ),
]
Example = Annotated[
    str | None,
    typer.Option(
        "--example",
        "-e",
        envvar=env_names("EXAMPLE"),
        autocompletion=_complete_examples,
        help="Use a bundled example agent instead of TARGET: calculator or echo.",
    ),
]


def resolve_agent(target: str | None, example: str | None) -> Agent:
    """The agent named by TARGET or --example (exactly one of them). A TARGET on the
    command line wins over ROLLOUTCTL_EXAMPLE, as the command line wins everywhere."""
    from rolloutctl.agent.loader import load_agent, load_example

    if target and example and _from_environment("example"):
        example = None
    if bool(target) == bool(example):
        raise InputError("give exactly one of TARGET or --example")
    return load_example(example) if example else load_agent(target or "")


def _from_environment(name: str) -> bool:
    """Whether the running command's parameter `name` got its value from a variable."""
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    context = get_current_context(silent=True)
    return context is not None and context.get_parameter_source(name) is ParameterSource.ENVIRONMENT


PolicyName = Annotated[
    str,
    typer.Option(
        envvar=env_names("POLICY"),
        autocompletion=_complete_policies,
        help="How the mock trainer answers: calculator (solves arithmetic with the rollout's "
        "tools), echo, script (--script FILE), proxy (--upstream URL) or human (you type).",
    ),
]
ScriptFile = Annotated[
    Path | None,
    typer.Option(
        "--script",
        envvar=env_names("SCRIPT"),
        show_default=False,
        help="For --policy script: a JSON or JSONL file of assistant messages, served in order.",
    ),
]
Upstream = Annotated[
    str | None,
    typer.Option(
        envvar=env_names("UPSTREAM"),
        show_default=False,
        help="For --policy proxy: an OpenAI-compatible base URL (…/v1/chat/completions is "
        "appended).",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        envvar=env_names("MODEL"), show_default=False, help="For --policy proxy: the model name."
    ),
]
UpstreamKeyEnv = Annotated[
    str | None,
    typer.Option(
        envvar=env_names("UPSTREAM_KEY_ENV"),
        show_default=False,
        help="For --policy proxy: the NAME of the environment variable holding the upstream key.",
    ),
]
NoMetrics = Annotated[
    bool,
    typer.Option(
        "--no-metrics",
        envvar=env_names("NO_METRICS"),
        help="No GET /metrics (Prometheus text format; on by default).",
    ),
]
PlainFlag = Annotated[
    bool,
    typer.Option(
        "--plain",
        envvar=env_names("PLAIN"),
        help="Plain text, no colour or boxes (automatic when stdout is not a terminal or "
        "NO_COLOR is set).",
    ),
]
MetadataJson = Annotated[
    str | None,
    typer.Option(
        "--metadata",
        envvar=env_names("METADATA"),
        show_default=False,
        help='The rollouts\' metadata, a JSON object, e.g. \'{"toolset": "math"}\' '
        "(for agents whose tools(request) read it).",
    ),
]
JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json", envvar=env_names("JSON"), help="Print one JSON document on stdout instead."
    ),
]


def trainer_config(
    policy: str,
    script: Path | None,
    upstream: str | None,
    model: str | None,
    upstream_key_env: str | None,
    **faults: Any,
) -> TrainerConfig:
    """A TrainerConfig from the shared policy and fault options."""
    from rolloutctl.trainer import TrainerConfig, make_policy

    mismatched = [
        (flag, wanted)
        for flag, value, wanted in (
            ("--script", script, "script"),
            ("--upstream", upstream, "proxy"),
        )
        if value is not None and policy != wanted
    ]
    if mismatched:
        flag, wanted = mismatched[0]
        raise InputError(f"{flag} needs --policy {wanted} (the policy is {policy})")
    upstream = checked_url(upstream, "--upstream") if upstream else None
    try:
        chosen = make_policy(
            policy, path=script, upstream=upstream, model=model, upstream_key_env=upstream_key_env
        )
        return TrainerConfig(policy=chosen, **faults)
    except (ValueError, OSError) as exc:
        raise InputError(str(exc)) from None


def use_plain(plain: bool) -> bool:
    import os
    import sys

    return plain or "NO_COLOR" in os.environ or not sys.stdout.isatty()


def checked_url(url: str, name: str = "--server-url") -> str:
    """An http(s) base URL (http:// when the scheme is left out), or a usage error naming
    the option (`name`) and the problem."""
    from rolloutctl.net.urls import base_url

    try:
        return base_url(url)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None


def parse_metadata(text: str | None) -> dict[str, object]:
    """--metadata as a dict, or a usage error saying why it is not a JSON object."""
    return parse_json_object(text, "--metadata") or {}


def parse_json_object(text: str | None, name: str) -> dict[str, Any] | None:
    """An option's JSON object (None when not given), held to the JSON limits; else a
    usage error naming the option (`name`) and the problem."""
    from rolloutctl.errors import JsonLimitError
    from rolloutctl.jsonlimits import loads

    if text is None:
        return None
    try:
        value = loads(text, finite=True)
    except JsonLimitError as exc:
        raise InputError(f"{name}: {exc}") from None
    except ValueError as exc:  # not JSON, or an integer past Python's digits limit
        raise InputError(f"{name} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"{name} must be a JSON object, not {type(value).__name__}")
    return value


def parse_params(pairs: list[str] | None) -> dict[str, object]:
    """`key=value` pairs; a value that reads as JSON (0.7, true, ["x"]) is taken as such."""
    from rolloutctl.keyvalue import json_pairs

    try:
        return json_pairs(pairs or [])
    except ValueError as exc:
        raise InputError(f"--param {exc}") from None


Prompt = Annotated[
    str | None,
    typer.Option(
        envvar=env_names("PROMPT"),
        show_default=False,
        help="The user message, sent as given (default: an arithmetic question needing two "
        "tool calls).",
    ),
]

System = Annotated[
    str | None,
    typer.Option(
        envvar=env_names("SYSTEM"),
        show_default=False,
        help="The system message (default: none; try --example calculator sends one "
        "asking to use the tools).",
    ),
]

CallbackKey = Annotated[
    str | None,
    typer.Option(
        envvar=env_names("CALLBACK_KEY"),
        show_default=False,
        help="The rollout's callback key (the init's api_key): the server must send it as "
        "'Authorization: Bearer KEY' on both callbacks.",
    ),
]

MaxTurns = Annotated[
    int | None,
    typer.Option(
        min=1,
        envvar=env_names("MAX_TURNS"),
        show_default=False,
        help="The init's max_turns: at most this many LLM calls (server default: 10).",
    ),
]

MaxTokensTotal = Annotated[
    int | None,
    typer.Option(
        min=1,
        envvar=env_names("MAX_TOKENS_TOTAL"),
        show_default=False,
        help="The init's max_tokens_total: completion tokens allowed over the rollout "
        "(server default: 8192).",
    ),
]

Params = Annotated[
    list[str] | None,
    typer.Option(
        envvar=env_names("PARAM"),
        show_default=False,
        help="A completion parameter key=value (repeatable), e.g. temperature=0.7.",
    ),
]


VerboseFlag = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        envvar=env_names("VERBOSE"),
        help="Show every tool call's arguments as indented JSON, not as one line.",
    ),
]
MaxChars = Annotated[
    int,
    typer.Option(
        "--max-chars",
        min=1,
        envvar=env_names("MAX_CHARS"),
        help="Cut each message, argument list and tool result to N characters (a marker "
        "says how many were left out).",
    ),
]
FullFlag = Annotated[
    bool,
    typer.Option(
        "--full", envvar=env_names("FULL"), help="Never cut texts (overrides --max-chars)."
    ),
]


def make_renderer(
    plain: bool, verbose: bool, max_chars: int, full: bool, **context: str | None
) -> Renderer:
    """The Renderer of the view options shared by try, watch and replay."""
    from rolloutctl.trajectory.render import Renderer, make_console

    shown = {key: value for key, value in context.items() if value}
    return Renderer(
        make_console(use_plain(plain)),
        plain=use_plain(plain),
        verbose=verbose,
        max_chars=None if full else max_chars,
        context=shown,
    )
