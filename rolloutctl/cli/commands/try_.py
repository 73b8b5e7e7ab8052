"""`rolloutctl try`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rolloutctl.cli.options import (
    CallbackKey,
    Example,
    FullFlag,
    JsonFlag,
    MaxChars,
    MaxTokensTotal,
    MaxTurns,
    MetadataJson,
    Model,
    Params,
    PlainFlag,
    PolicyName,
    Prompt,
    Protocol,
    ProtocolOption,
    ScriptFile,
    ServerKey,
    System,
    Target,
    Upstream,
    UpstreamKeyEnv,
    VerboseFlag,
    checked_url,
    env_names,
    make_renderer,
    parse_metadata,
    parse_params,
    resolve_agent,
    trainer_config,
)
from rolloutctl.cli.osmosis_options import (
    AgentTimeout,
    ExtraFields,
    GraderTimeout,
    Label,
    osmosis_fields,
)
from rolloutctl.errors import CannotStartError, InputError, NoCompletion
from rolloutctl.trajectory.text import DEFAULT_MAX_CHARS

__all__ = ["EPILOG", "NAME", "check_save_path", "finish", "run_live", "try_"]
if TYPE_CHECKING:
    from rolloutctl.agent.context import Agent
    from rolloutctl.trainer import TrainerConfig
    from rolloutctl.trajectory.render import Renderer
    from rolloutctl.trial import TryOptions

NAME = "try"
EPILOG = (
    "Exit status: 0 COMPLETED with no protocol violation; 1 ERROR, a violation, or no "
    "completion in time; 2 usage error; 3 the server could not start or be reached; "
    "130 interrupted (the summary and --save still cover what was seen).\n\n"
    "\b\nExamples:\n"
    "  rolloutctl try --example calculator --prompt 'What is 12 / 4 + 1?'\n"
    "  rolloutctl try my_agent.py:agent --policy script --script answers.jsonl --full\n"
    "  rolloutctl try --server-url http://127.0.0.1:9000 --save run.json"
)


def try_(
    ctx: typer.Context,
    target: Target = None,
    example: Example = None,
    prompt: Prompt = None,
    system: System = None,
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
    callback_key: CallbackKey = None,
    max_turns: MaxTurns = None,
    max_tokens_total: MaxTokensTotal = None,
    param: Params = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            envvar=env_names("TIMEOUT", scope="TRY"),
            show_default=False,
            help="Seconds to wait for the completion (default 60; 600 with --policy human).",
        ),
    ] = None,
    metadata: MetadataJson = None,
    linger: Annotated[
        float,
        typer.Option(
            min=0,
            envvar=env_names("LINGER"),
            help="With --server-url: seconds to keep listening after the completion, to catch "
            "late or repeated callbacks (a stopped local server calls back no more).",
        ),
    ] = 1.0,
    save: Annotated[
        Path | None,
        typer.Option(
            envvar=env_names("SAVE"), show_default=False, help="Write the trajectory file here."
        ),
    ] = None,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
    verbose: VerboseFlag = False,
    max_chars: MaxChars = DEFAULT_MAX_CHARS,
    full: FullFlag = False,
    protocol: ProtocolOption = Protocol.V1,
    label: Label = None,
    agent_timeout: AgentTimeout = None,
    grader_timeout: GraderTimeout = None,
    extra_fields: ExtraFields = None,
) -> int:
    """Run one rollout end to end and show it live."""
    from rolloutctl import trial

    if server_url and (target or example):
        raise InputError("give TARGET/--example or --server-url, not both")
    check_save_path(save)
    fields = osmosis_fields(protocol, label, agent_timeout, grader_timeout, extra_fields)
    server_url = checked_url(server_url) if server_url else None
    agent = None if server_url else resolve_agent(target, example)
    config = trainer_config(policy, script, upstream, model, upstream_key_env)
    if system is None and example == "calculator":
        system = trial.CALCULATOR_SYSTEM
    human = policy == "human"  # the policy shows the conversation itself at each turn
    timeout = timeout or (600.0 if human else 60.0)
    options = trial.TryOptions(
        prompt=trial.DEFAULT_PROMPT if prompt is None else prompt,
        system=system,
        server_url=server_url,
        server_key=server_key,
        api_key=callback_key,
        max_turns=max_turns,
        max_tokens_total=max_tokens_total,
        completion_params=parse_params(param),
        metadata=parse_metadata(metadata),
        osmosis=fields,
        timeout=timeout,
        linger=linger,
    )
    renderer = make_renderer(
        plain,
        verbose,
        max_chars,
        full,
        agent=agent.name if agent else None,
        policy=config.policy.name,
        server=server_url or "in-process",
    )
    osmosis = protocol is Protocol.OSMOSIS
    if osmosis and (param or max_turns or max_tokens_total):
        raise InputError("--param, --max-turns and --max-tokens-total are v1 fields")
    from rolloutctl.logs import in_process_logs

    with in_process_logs(tracebacks=bool(ctx.find_root().params.get("debug"))):
        return run_live(options, agent, config, renderer, json_output, save, not human, osmosis)


def check_save_path(save: Path | None) -> None:
    """--save names a file to write: refused before any work when it cannot be one."""
    if save is None:
        return
    if save.is_dir():
        raise InputError(f"--save: {save} is a directory; name a file in it")
    if not save.parent.is_dir():
        raise InputError(f"--save: no such directory: {save.parent}")


def run_live(
    options: TryOptions,
    agent: Agent | None,
    config: TrainerConfig,
    renderer: Renderer,
    json_output: bool,
    save: Path | None,
    live: bool = True,
    osmosis: bool = False,
) -> int:
    """Run the rollout under the live view; interrupted or not, summarise and save.

    `live=False` (the human policy, which prints each turn itself) shows only the summary;
    `osmosis`: over the Osmosis SDK 0.3 protocol instead of v1.
    """
    from rolloutctl import trial
    from rolloutctl.eventloop import run_interruptible
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.builder import TrajectoryBuilder
    from rolloutctl.trajectory.live import LiveView

    spinner = live and not (renderer.plain or json_output) and renderer.console.is_terminal
    view = LiveView(renderer, TrajectoryBuilder(), spinner)
    show = view.show if live and not json_output else (lambda event, items: None)
    try:
        run = trial.run_try
        if osmosis:
            from rolloutctl.osmosis.trial import run_try_osmosis as run
        outcome = run_interruptible(run(agent, options, config, show, view.builder))
    except KeyboardInterrupt:
        view.close()
        traj = view.builder.interrupted()
        finish(traj, renderer, json_output, save, None)
        raise  # cli.core says "interrupted" and exits 130
    finally:
        view.close()
    if outcome.unreachable:
        raise CannotStartError(outcome.init_error or "server unreachable")
    cause = None
    if outcome.completion is None and not outcome.init_error:
        cause = f"no completion within {options.timeout:g} s"
        if outcome.trajectory.get("completion"):
            cause += " (the completion shown came later, when try stopped the server)"
    if view.closed:  # `| head`: keep --save, print nothing more, end as a closed pipe
        finish(outcome.trajectory, None, False, save, cause)
        raise BrokenPipeError("the reader of the output went away")
    ok = finish(outcome.trajectory, renderer, json_output, save, cause)
    if outcome.init_error or cause:
        raise NoCompletion(outcome.init_error or cause)
    return ExitStatus.SUCCESS if ok else ExitStatus.FAILURE


def finish(
    traj: dict[str, Any],
    renderer: Renderer | None,
    json_output: bool,
    save: Path | None,
    cause: str | None,
) -> bool:
    """Save, then print the JSON document or (given a renderer) the summary; whether the
    rollout was clean."""
    from rolloutctl.trajectory.document import dumps_trajectory, save_trajectory
    from rolloutctl.trajectory.summary import summarize

    if save:
        save_trajectory(save, traj)
    if json_output:
        typer.echo(dumps_trajectory(traj), nl=False)
    elif renderer is not None:
        renderer.render_summary(traj, cause)
    return summarize(traj, cause).ok
