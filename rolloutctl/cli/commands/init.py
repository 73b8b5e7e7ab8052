"""`rolloutctl init`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rolloutctl.cli.options import (
    CallbackKey,
    FullFlag,
    JsonFlag,
    MaxChars,
    MaxTokensTotal,
    MaxTurns,
    MetadataJson,
    Params,
    PlainFlag,
    Prompt,
    ServerKey,
    System,
    VerboseFlag,
    checked_url,
    env_names,
    make_renderer,
    parse_metadata,
    parse_params,
)
from rolloutctl.errors import InputError
from rolloutctl.trajectory.text import DEFAULT_MAX_CHARS

__all__ = ["EPILOG", "init"]


EPILOG = (
    "Sends one init to the RolloutServer at SERVER_URL naming TRAINER_URL (a running "
    "'rolloutctl mock-trainer') as its server_url, so the server calls that trainer back. "
    "With --watch --json it prints the trajectory document at the end instead of the live "
    "view. Exit status: 0 accepted (with --watch: COMPLETED with no violation); 1 refused, or "
    "with --watch ERROR or a violation; 2 usage error; 3 the server or the trainer cannot "
    "be reached; 130 interrupted.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl init http://127.0.0.1:9000 --trainer-url http://127.0.0.1:9001 --watch\n"
    "  rolloutctl init http://127.0.0.1:9000 --trainer-url http://127.0.0.1:9001 "
    '--messages chat.json --metadata \'{"ground_truth": "16"}\''
)


def init(
    server_url: Annotated[
        str, typer.Argument(help="Base URL of the RolloutServer.", show_default=False)
    ],
    trainer_url: Annotated[
        str,
        typer.Option(
            envvar=env_names("TRAINER_URL"),
            show_default=False,
            help="Base URL of the running mock trainer: the init's server_url.",
        ),
    ],
    prompt: Prompt = None,
    system: System = None,
    messages: Annotated[
        Path | None,
        typer.Option(
            envvar=env_names("MESSAGES"),
            show_default=False,
            help="A JSON file with the init's whole message list (instead of --prompt and "
            "--system).",
        ),
    ] = None,
    metadata: MetadataJson = None,
    rollout_id: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("ROLLOUT_ID"),
            show_default=False,
            help="The rollout's id (default: a new init-<random> id).",
        ),
    ] = None,
    server_key: ServerKey = None,
    callback_key: CallbackKey = None,
    max_turns: MaxTurns = None,
    max_tokens_total: MaxTokensTotal = None,
    param: Params = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            envvar=env_names("WATCH"),
            help="Show the rollout live from the trainer's events until it completes.",
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            envvar=env_names("TIMEOUT", scope="INIT"),
            help="With --watch: seconds to wait for the completion before giving up (exit 1).",
            min=0.1,
        ),
    ] = 600.0,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
    verbose: VerboseFlag = False,
    max_chars: MaxChars = DEFAULT_MAX_CHARS,
    full: FullFlag = False,
) -> int:
    """Start one rollout on a running server. A running mock trainer gets its callbacks."""
    import json
    import uuid

    from rolloutctl import trial
    from rolloutctl.attach.init import read_messages
    from rolloutctl.cli.commands.watch import watch_one

    if messages is not None and (prompt is not None or system is not None):
        raise InputError("give --messages or --prompt/--system, not both")
    server_url = checked_url(server_url, "SERVER_URL")
    trainer_url = checked_url(trainer_url, "--trainer-url")
    rollout_id = rollout_id or f"init-{uuid.uuid4().hex[:12]}"
    options = trial.TryOptions(
        prompt=trial.DEFAULT_PROMPT if prompt is None else prompt,
        system=system,
        api_key=callback_key,
        max_turns=max_turns,
        max_tokens_total=max_tokens_total,
        completion_params=parse_params(param),
    )
    body = trial.build_init(rollout_id, options) | {"server_url": trainer_url}
    if messages is not None:
        body["messages"] = read_messages(messages)
    if metadata is not None:
        body["metadata"] = parse_metadata(metadata)
    if watch:
        renderer = make_renderer(plain, verbose, max_chars, full, server=server_url)
        send = (server_url, body, server_key)
        return watch_one(trainer_url, rollout_id, renderer, send, json_output, timeout)
    accepted = _send(server_url, trainer_url, body, server_key)
    if json_output:
        typer.echo(json.dumps(accepted))
        return 0
    tools = ", ".join(str((t.get("function") or {}).get("name")) for t in accepted["tools"])
    typer.echo(f"accepted {rollout_id}: tools {tools or '(none)'}")
    typer.echo(f"watch it: rolloutctl watch {trainer_url} --rollout-id {rollout_id}")
    return 0


def _send(
    server_url: str, trainer_url: str, body: dict[str, Any], server_key: str | None
) -> dict[str, Any]:
    from rolloutctl.attach.init import start_through_trainer
    from rolloutctl.eventloop import run_interruptible

    accepted = run_interruptible(start_through_trainer(trainer_url, server_url, body, server_key))
    tools = accepted.get("tools")
    return accepted | {
        "tools": [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []
    }
