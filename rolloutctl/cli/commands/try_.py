"""`rolloutctl try`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rolloutctl.cli.options import (
    Example,
    JsonFlag,
    Model,
    PlainFlag,
    PolicyName,
    ScriptFile,
    ServerKey,
    Target,
    Upstream,
    UpstreamKeyEnv,
    checked_url,
    env_names,
    parse_params,
    resolve_agent,
    trainer_config,
    use_plain,
)
from rolloutctl.errors import CannotStartError, InputError

__all__ = ["EPILOG", "NAME", "try_"]

NAME = "try"
EPILOG = (
    "Exit status: 0 COMPLETED with no protocol violation; 1 ERROR, a violation, or no "
    "completion in time; 2 usage error.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl try --example calculator --prompt 'What is 12 / 4 + 1?'\n"
    "  rolloutctl try --server-url http://127.0.0.1:9000 --save run.json"
)


def try_(
    target: Target = None,
    example: Example = None,
    prompt: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("PROMPT"),
            show_default=False,
            help="The user message (default: an arithmetic question needing two tool calls).",
        ),
    ] = None,
    system: Annotated[
        str | None,
        typer.Option(envvar=env_names("SYSTEM"), show_default=False, help="The system message."),
    ] = None,
    server_url: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("SERVER_URL"),
            show_default=False,
            help="Try this running RolloutServer (any implementation) instead of starting one.",
        ),
    ] = None,
    server_key: ServerKey = None,
    policy: PolicyName = "calculator",
    script: ScriptFile = None,
    upstream: Upstream = None,
    model: Model = None,
    upstream_key_env: UpstreamKeyEnv = None,
    callback_key: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("CALLBACK_KEY"),
            show_default=False,
            help="The rollout's callback key (the init's api_key); the trainer then checks the "
            "server sends it on both callbacks.",
        ),
    ] = None,
    max_turns: Annotated[
        int | None, typer.Option(min=1, envvar=env_names("MAX_TURNS"), show_default=False)
    ] = None,
    max_tokens_total: Annotated[
        int | None, typer.Option(min=1, envvar=env_names("MAX_TOKENS_TOTAL"), show_default=False)
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            envvar=env_names("PARAM"),
            show_default=False,
            help="A completion parameter key=value (repeatable), e.g. temperature=0.7.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            envvar=env_names("TIMEOUT", scope="TRY"),
            help="Seconds to wait for the completion.",
        ),
    ] = 60.0,
    save: Annotated[
        Path | None,
        typer.Option(
            envvar=env_names("SAVE"), show_default=False, help="Write the trajectory file here."
        ),
    ] = None,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Run one rollout end to end and show it live."""
    import asyncio

    from rolloutctl import trial
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.document import dumps_trajectory, save_trajectory
    from rolloutctl.trajectory.render import Renderer, make_console
    from rolloutctl.trajectory.summary import summarize

    if server_url and (target or example):
        raise InputError("give TARGET/--example or --server-url, not both")
    if save and not save.parent.is_dir():
        raise InputError(f"--save: no such directory: {save.parent}")
    server_url = checked_url(server_url) if server_url else None
    agent = None if server_url else resolve_agent(target, example)
    config = trainer_config(policy, script, upstream, model, upstream_key_env)
    options = trial.TryOptions(
        prompt=prompt or trial.DEFAULT_PROMPT,
        system=trial.DEFAULT_SYSTEM if system is None else system,
        server_url=server_url,
        server_key=server_key,
        api_key=callback_key,
        max_turns=max_turns,
        max_tokens_total=max_tokens_total,
        completion_params=parse_params(param),
        timeout=timeout,
    )
    renderer = Renderer(make_console(use_plain(plain)), plain=use_plain(plain))
    show = (lambda items: None) if json_output else renderer.render_items
    outcome = asyncio.run(trial.run_try(agent, options, config, show))
    if outcome.unreachable:
        raise CannotStartError(outcome.init_error or "server unreachable")
    if save:
        save_trajectory(save, outcome.trajectory)
    if json_output:
        typer.echo(dumps_trajectory(outcome.trajectory), nl=False)
    else:
        renderer.render_summary(outcome.trajectory, outcome.wall_time)
    if outcome.init_error:
        typer.echo(f"rolloutctl: error: {outcome.init_error}", err=True)
    elif outcome.completion is None:
        typer.echo(f"rolloutctl: error: no completion within {timeout:g} s", err=True)
    return ExitStatus.SUCCESS if summarize(outcome.trajectory).ok else ExitStatus.FAILURE
