"""Every command and option of `rolloutctl`, declared in one place.

Each command turns its options into library calls and nothing more; heavy modules
are imported inside the commands so that `rolloutctl --help` stays fast.
Options read `ROLLOUTCTL_<OPTION>` from the environment; the command line wins over
the environment, which wins over the default.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rolloutctl import __version__

app = typer.Typer(
    name="rolloutctl",
    help="Build, try and debug servers of the Remote Rollout Protocol v1.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl try --example calculator\n"
    "  rolloutctl serve --example calculator --port 9000\n"
    "  rolloutctl serve my_agent.py:agent --max-concurrent 500\n"
    "  rolloutctl mock-trainer --port 9001 --policy echo\n"
    "  rolloutctl replay run.json --step 2\n"
    "  rolloutctl check http://127.0.0.1:9000\n"
    "  rolloutctl validate my_agent.py:agent\n"
    "  rolloutctl bench --example calculator --rollouts 2000 --concurrency 32",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


def _env(name: str, *legacy: str) -> list[str]:
    return [f"ROLLOUTCTL_{name}", *legacy]


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"rolloutctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", envvar=_env("DEBUG"), help="Show tracebacks of errors.")
    ] = False,
) -> None:
    """Build, try and debug servers of the Remote Rollout Protocol v1."""


Target = Annotated[
    str | None,
    typer.Argument(
        help="The agent: 'package.module:attr' or 'path/to/file.py:attr' (attr defaults to "
        "'agent'); an Agent subclass or instance.",
        show_default=False,
    ),
]
Example = Annotated[
    str | None,
    typer.Option(
        "--example",
        "-e",
        envvar=_env("EXAMPLE"),
        help="Use a bundled example agent instead of TARGET: calculator or echo.",
    ),
]


def resolve_agent(target: str | None, example: str | None):
    """The agent named by TARGET or --example (exactly one of them)."""
    from rolloutctl.cli.core import CommandError
    from rolloutctl.loader import load_agent, load_example

    if bool(target) == bool(example):
        raise CommandError("give exactly one of TARGET or --example")
    return load_example(example) if example else load_agent(target or "")


@app.command(
    epilog="Environment: every option reads ROLLOUTCTL_<OPTION> (e.g. ROLLOUTCTL_PORT);"
    " --port, --max-concurrent, --rollout-timeout and --http-timeout also read "
    "ROLLOUT_SERVER_PORT, MAX_CONCURRENT_ROLLOUTS, ROLLOUT_TIMEOUT_SECONDS and "
    "HTTP_CLIENT_TIMEOUT. Precedence: command line, then ROLLOUTCTL_*, then those "
    "deployment variables, then the default."
)
def serve(
    target: Target = None,
    example: Example = None,
    host: Annotated[
        str, typer.Option(envvar=_env("HOST"), help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            envvar=_env("PORT", "ROLLOUT_SERVER_PORT"),
            help="Port to listen on (0: any free port).",
        ),
    ] = 9000,
    max_concurrent: Annotated[
        int,
        typer.Option(
            min=1,
            envvar=_env("MAX_CONCURRENT", "MAX_CONCURRENT_ROLLOUTS"),
            help="Rollouts running at once; the rest wait in a bounded queue.",
        ),
    ] = 100,
    max_queue: Annotated[
        int,
        typer.Option(
            min=0,
            envvar=_env("MAX_QUEUE"),
            help="Rollouts waiting for a slot before init answers 503.",
        ),
    ] = 10_000,
    max_records: Annotated[
        int,
        typer.Option(
            min=1,
            envvar=_env("MAX_RECORDS"),
            help="Finished rollouts remembered (for an hour) for idempotency and status; "
            "past this the oldest are forgotten first.",
        ),
    ] = 100_000,
    rollout_timeout: Annotated[
        float,
        typer.Option(
            min=0.001,
            envvar=_env("ROLLOUT_TIMEOUT", "ROLLOUT_TIMEOUT_SECONDS"),
            help="Seconds a rollout may run before it ends as ERROR timeout.",
        ),
    ] = 600.0,
    http_timeout: Annotated[
        float,
        typer.Option(
            min=0.001,
            envvar=_env("HTTP_TIMEOUT", "HTTP_CLIENT_TIMEOUT"),
            help="Seconds one call to the trainer may take.",
        ),
    ] = 300.0,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=_env("API_KEY"),
            show_default=False,
            help="Require 'Authorization: Bearer KEY' on every route but /health. Prefer the "
            "environment variable: a command line is visible to other users.",
        ),
    ] = None,
    allow_callback_host: Annotated[
        list[str] | None,
        typer.Option(
            envvar=_env("ALLOW_CALLBACK_HOST"),
            show_default=False,
            help="Only call back trainers on this host (repeatable; '*.example.com' allowed). "
            "Default: any host.",
        ),
    ] = None,
    shutdown_grace: Annotated[
        float,
        typer.Option(
            min=0,
            envvar=_env("SHUTDOWN_GRACE"),
            help="Seconds to let running rollouts finish on shutdown before ending them "
            "as ERROR shutdown.",
        ),
    ] = 10.0,
    log_level: Annotated[
        LogLevel, typer.Option(envvar=_env("LOG_LEVEL"), help="How much to log.")
    ] = LogLevel.INFO,
    json_logs: Annotated[
        bool, typer.Option(envvar=_env("JSON_LOGS"), help="Log JSON lines to stdout.")
    ] = False,
) -> None:
    """Run a RolloutServer for an agent."""
    from dataclasses import replace

    from rolloutctl import serve as serving
    from rolloutctl.client import RetryPolicy
    from rolloutctl.settings import ServerSettings

    agent = resolve_agent(target, example)
    settings = ServerSettings(
        max_concurrent=max_concurrent,
        max_queue=max_queue,
        max_records=max_records,
        rollout_timeout=rollout_timeout,
        retry=replace(RetryPolicy(), call_timeout=http_timeout),
        shutdown_grace=shutdown_grace,
        api_key=api_key or None,
        allow_callback_hosts=tuple(allow_callback_host or ()),
    )
    serving.run(
        agent,
        serving.ServeConfig(
            host=host,
            port=port,
            log_level=log_level.value,
            json_logs=json_logs,
            settings=settings,
        ),
    )


Policy = Annotated[
    str,
    typer.Option(
        envvar=_env("POLICY"),
        help="How the mock trainer answers: calculator (solves arithmetic with the rollout's "
        "tools), echo, script (--script FILE) or proxy (--upstream URL).",
    ),
]
ScriptFile = Annotated[
    Path | None,
    typer.Option(
        "--script",
        envvar=_env("SCRIPT"),
        show_default=False,
        help="For --policy script: a JSON or JSONL file of assistant messages, served in order.",
    ),
]
Upstream = Annotated[
    str | None,
    typer.Option(
        envvar=_env("UPSTREAM"),
        show_default=False,
        help="For --policy proxy: an OpenAI-compatible base URL (…/v1/chat/completions is "
        "appended).",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        envvar=_env("MODEL"), show_default=False, help="For --policy proxy: the model name."
    ),
]
UpstreamKeyEnv = Annotated[
    str | None,
    typer.Option(
        envvar=_env("UPSTREAM_KEY_ENV"),
        show_default=False,
        help="For --policy proxy: the NAME of the environment variable holding the upstream key.",
    ),
]
PlainFlag = Annotated[
    bool,
    typer.Option(
        "--plain",
        envvar=_env("PLAIN"),
        help="Plain text, no colour or boxes (automatic when stdout is not a terminal or "
        "NO_COLOR is set).",
    ),
]
JsonFlag = Annotated[
    bool,
    typer.Option("--json", envvar=_env("JSON"), help="Print one JSON document on stdout instead."),
]


def trainer_config(
    policy: str,
    script: Path | None,
    upstream: str | None,
    model: str | None,
    upstream_key_env: str | None,
    **faults: object,
):
    """A TrainerConfig from the shared policy and fault options."""
    from rolloutctl.cli.core import CommandError
    from rolloutctl.trainer import PolicyError, TrainerConfig, make_policy

    try:
        chosen = make_policy(
            policy, path=script, upstream=upstream, model=model, upstream_key_env=upstream_key_env
        )
        return TrainerConfig(policy=chosen, **faults)
    except (PolicyError, ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None


def use_plain(plain: bool) -> bool:
    import os
    import sys

    return plain or "NO_COLOR" in os.environ or not sys.stdout.isatty()


def checked_url(url: str) -> str:
    """A RolloutServer base URL, or a usage error naming what is wrong with it."""
    from rolloutctl.check import server_base_url
    from rolloutctl.cli.core import CommandError

    try:
        return server_base_url(url)
    except ValueError as exc:
        raise CommandError(f"--server-url: {exc}") from None


def parse_params(pairs: list[str] | None) -> dict[str, object]:
    """`key=value` pairs; a value that reads as JSON (0.7, true, ["x"]) is taken as such."""
    import json

    from rolloutctl.cli.core import CommandError

    params: dict[str, object] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--param {pair!r} must look like key=value")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


@app.command(
    "try",
    epilog="Exit status: 0 COMPLETED with no protocol violation; 1 ERROR, a "
    "violation, or no completion in time; 2 usage error. Examples: rolloutctl try "
    "--example calculator --prompt 'What is 12 / 4 + 1?';  rolloutctl try --server-url "
    "http://127.0.0.1:9000 --save run.json",
)
def try_(
    target: Target = None,
    example: Example = None,
    prompt: Annotated[
        str | None,
        typer.Option(
            envvar=_env("PROMPT"),
            show_default=False,
            help="The user message (default: an arithmetic question needing two tool calls).",
        ),
    ] = None,
    system: Annotated[
        str | None,
        typer.Option(envvar=_env("SYSTEM"), show_default=False, help="The system message."),
    ] = None,
    server_url: Annotated[
        str | None,
        typer.Option(
            envvar=_env("SERVER_URL"),
            show_default=False,
            help="Try this running RolloutServer (any implementation) instead of starting one.",
        ),
    ] = None,
    server_key: Annotated[
        str | None,
        typer.Option(
            envvar=_env("SERVER_KEY"),
            show_default=False,
            help="Inbound Bearer key of the --server-url server, if it needs one.",
        ),
    ] = None,
    policy: Policy = "calculator",
    script: ScriptFile = None,
    upstream: Upstream = None,
    model: Model = None,
    upstream_key_env: UpstreamKeyEnv = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=_env("API_KEY"),
            show_default=False,
            help="The rollout's callback key; the trainer then checks the server sends it.",
        ),
    ] = None,
    max_turns: Annotated[
        int | None, typer.Option(min=1, envvar=_env("MAX_TURNS"), show_default=False)
    ] = None,
    max_tokens_total: Annotated[
        int | None, typer.Option(min=1, envvar=_env("MAX_TOKENS_TOTAL"), show_default=False)
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            envvar=_env("PARAM"),
            show_default=False,
            help="A completion parameter key=value (repeatable), e.g. temperature=0.7.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(min=0.1, envvar=_env("TIMEOUT"), help="Seconds to wait for the completion."),
    ] = 60.0,
    save: Annotated[
        Path | None,
        typer.Option(
            envvar=_env("SAVE"), show_default=False, help="Write the trajectory file here."
        ),
    ] = None,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Run one rollout end to end and show it live."""
    import asyncio

    from rolloutctl import trial
    from rolloutctl.cli.core import CommandError
    from rolloutctl.render import Renderer, make_console
    from rolloutctl.status import ExitStatus
    from rolloutctl.summary import summarize
    from rolloutctl.trajectory import dumps_trajectory, save_trajectory

    if server_url and (target or example):
        raise CommandError("give TARGET/--example or --server-url, not both")
    if save and not save.parent.is_dir():
        raise CommandError(f"--save: no such directory: {save.parent}")
    server_url = checked_url(server_url) if server_url else None
    agent = None if server_url else resolve_agent(target, example)
    config = trainer_config(policy, script, upstream, model, upstream_key_env)
    options = trial.TryOptions(
        prompt=prompt or trial.DEFAULT_PROMPT,
        system=trial.DEFAULT_SYSTEM if system is None else system,
        server_url=server_url,
        server_key=server_key,
        api_key=api_key,
        max_turns=max_turns,
        max_tokens_total=max_tokens_total,
        completion_params=parse_params(param),
        timeout=timeout,
    )
    renderer = Renderer(make_console(use_plain(plain)), plain=use_plain(plain))
    show = (lambda items: None) if json_output else renderer.render_items
    outcome = asyncio.run(trial.run_try(agent, options, config, show))
    if outcome.unreachable:
        raise CommandError(outcome.init_error or "server unreachable", ExitStatus.CANNOT_START)
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


@app.command(
    epilog="Checks: health, init-tools, no-tool-rollout, tool-rollout, bearer, "
    "completion-params, idempotency, max-turns, max-tokens, chat-4xx, chat-503-retry, "
    "completed-503-retry, bad-init-422, unknown-fields, concurrent-20, status-endpoint. "
    "Exit status: 0 no check failed (skipped checks and an absent status endpoint are fine); "
    "1 a check failed; 2 usage error; 3 the server cannot be reached. Examples: rolloutctl "
    "check http://127.0.0.1:9000;  rolloutctl check http://10.0.0.5:9000 --trainer-host "
    "10.0.0.7 --only bearer,idempotency --json"
)
def check(
    url: Annotated[
        str, typer.Argument(help="Base URL of the RolloutServer to check.", show_default=False)
    ],
    only: Annotated[
        str | None,
        typer.Option(
            envvar=_env("ONLY"),
            show_default=False,
            help="Run only these checks: comma-separated names (listed below).",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=_env("API_KEY"),
            show_default=False,
            help="The server's inbound key, sent as 'Authorization: Bearer KEY' on init and "
            "status requests. Prefer the environment variable.",
        ),
    ] = None,
    trainer_host: Annotated[
        str,
        typer.Option(
            envvar=_env("TRAINER_HOST"),
            help="Address the in-process mock trainer listens on; the server under test must "
            "reach it there for callbacks.",
        ),
    ] = "127.0.0.1",
    timeout: Annotated[
        float,
        typer.Option(
            min=0.1, envvar=_env("TIMEOUT"), help="Seconds to wait for each rollout's completion."
        ),
    ] = 30.0,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Check any running RolloutServer for conformance."""
    import asyncio

    from rolloutctl import check as checking
    from rolloutctl.check_report import render_report, report_json
    from rolloutctl.cli.core import CommandError
    from rolloutctl.render import make_console
    from rolloutctl.status import ExitStatus

    try:
        base_url = checking.server_base_url(url)
        options = checking.CheckOptions(
            api_key=api_key or None,
            timeout=timeout,
            trainer_host=trainer_host,
            only=checking.parse_only(only),
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    try:
        report = asyncio.run(checking.run_checks(base_url, options))
    except checking.ServerUnreachable as exc:
        raise CommandError(str(exc), ExitStatus.CANNOT_START) from None
    if json_output:
        typer.echo(report_json(report))
    else:
        render_report(report, make_console(use_plain(plain)), use_plain(plain))
    return ExitStatus.SUCCESS if report.passed else ExitStatus.FAILURE


@app.command(
    epilog="Reads rolloutctl trajectory files, bare completion payloads (GET "
    "/v1/rollout/completed/ID) and Osmosis SDK ATIF trajectory.json files. Example: "
    "rolloutctl replay run.json --step 2"
)
def replay(
    file: Annotated[Path, typer.Argument(help="The file to render.", show_default=False)],
    step: Annotated[
        int | None,
        typer.Option(min=1, envvar=_env("STEP"), show_default=False, help="Show only turn N."),
    ] = None,
    last: Annotated[
        int | None,
        typer.Option(
            min=1, envvar=_env("LAST"), show_default=False, help="Show only the last K messages."
        ),
    ] = None,
    role: Annotated[
        Role | None,
        typer.Option(
            envvar=_env("ROLE"),
            show_default=False,
            help="Show only messages of this role (system, user, assistant, tool).",
        ),
    ] = None,
    no_tools: Annotated[
        bool, typer.Option("--no-tools", envvar=_env("NO_TOOLS"), help="Hide tool results.")
    ] = False,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Render a saved trajectory again."""
    from rolloutctl.cli.core import CommandError
    from rolloutctl.render import Renderer, make_console
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory import TrajectoryFormatError, dumps_trajectory, load_trajectory

    try:
        traj = load_trajectory(file)
    except TrajectoryFormatError as exc:
        raise CommandError(str(exc)) from None
    if json_output:
        typer.echo(dumps_trajectory(traj), nl=False)
        return ExitStatus.SUCCESS
    renderer = Renderer(make_console(use_plain(plain)), plain=use_plain(plain))
    try:
        renderer.render_trajectory(
            traj, step=step, last=last, role=role and role.value, show_tools=not no_tools
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    renderer.render_summary(traj)
    return ExitStatus.SUCCESS


@app.command(
    "mock-trainer",
    epilog="Example: rolloutctl mock-trainer --port 9001 --policy echo --fail-rate 0.1",
)
def mock_trainer(
    host: Annotated[
        str, typer.Option(envvar=_env("HOST"), help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, envvar=_env("PORT"), help="Port to listen on.")
    ] = 9001,
    policy: Policy = "calculator",
    script: ScriptFile = None,
    upstream: Upstream = None,
    model: Model = None,
    upstream_key_env: UpstreamKeyEnv = None,
    latency_ms: Annotated[
        float, typer.Option(min=0, envvar=_env("LATENCY_MS"), help="Added to every chat answer.")
    ] = 0.0,
    fail_rate: Annotated[
        float,
        typer.Option(
            min=0, max=1, envvar=_env("FAIL_RATE"), help="Fraction of chat calls answered 503."
        ),
    ] = 0.0,
    fail_completed_rate: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            envvar=_env("FAIL_COMPLETED_RATE"),
            help="Fraction of completions answered 503 (and not recorded).",
        ),
    ] = 0.0,
    expect_api_key: Annotated[
        str | None,
        typer.Option(
            envvar=_env("EXPECT_API_KEY"),
            show_default=False,
            help="Refuse callbacks without 'Authorization: Bearer KEY' (401).",
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", envvar=_env("JSON"), help="One JSON line per exchange on stdout."),
    ] = False,
) -> None:
    """Run a mock trainer: chat answers without a model."""
    from rolloutctl.trainer.console import serve_trainer

    config = trainer_config(
        policy,
        script,
        upstream,
        model,
        upstream_key_env,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        fail_completed_rate=fail_completed_rate,
        expect_api_key=expect_api_key,
    )
    serve_trainer(config, host=host, port=port, json_lines=json_output)


@app.command(
    epilog="Exit status: 0 valid, 1 invalid (an error finding, including a failed dry "
    "rollout), 2 the agent cannot be loaded, 3 the dry run's servers could not start. "
    "Example: rolloutctl validate my_agent.py:agent --json"
)
def validate(
    target: Target = None,
    example: Example = None,
    timeout: Annotated[
        float,
        typer.Option(min=0.1, envvar=_env("TIMEOUT"), help="Seconds the dry rollout may take."),
    ] = 30.0,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Check an agent before serving it.

    Loads TARGET the way serve does; checks its name, each tool's schema and that run is
    async; then runs one dry rollout in this process against the mock trainer's echo policy.
    """
    import asyncio
    import json

    from rolloutctl.render import make_console
    from rolloutctl.status import ExitStatus
    from rolloutctl.validate import validate_agent
    from rolloutctl.validate_report import render_report

    report = asyncio.run(validate_agent(resolve_agent(target, example), timeout))
    if json_output:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=repr))
    else:
        render_report(report, make_console(use_plain(plain)))
    return ExitStatus.SUCCESS if report.valid else ExitStatus.FAILURE


def _bench_opt(name: str, help_text: str, **kwargs: object) -> typer.models.OptionInfo:
    return typer.Option(envvar=_env(name), help=help_text, **kwargs)


@app.command(
    epilog="Without --server-url the server under test runs as a separate process "
    "(rolloutctl serve, --log-level warning) whose CPU and RSS are sampled. Exit status: 0 "
    "every accepted rollout delivered exactly once with no violation; 1 otherwise; 3 the "
    "server did not start. Example: rolloutctl bench --example calculator --rollouts 5000 "
    "--concurrency 32 --warmup 200"
)
def bench(
    target: Target = None,
    example: Example = None,
    server_url: Annotated[
        str | None,
        _bench_opt(
            "SERVER_URL",
            "Bench this running RolloutServer instead of starting one.",
            show_default=False,
        ),
    ] = None,
    server_key: Annotated[
        str | None,
        _bench_opt(
            "SERVER_KEY", "Inbound Bearer key of the --server-url server.", show_default=False
        ),
    ] = None,
    rollouts: Annotated[int, _bench_opt("ROLLOUTS", "Rollouts to measure.", min=1)] = 1000,
    concurrency: Annotated[
        int, _bench_opt("CONCURRENCY", "Rollouts kept in flight (closed loop).", min=1)
    ] = 32,
    llm_latency_ms: Annotated[
        float,
        _bench_opt("LLM_LATENCY_MS", "Delay the mock trainer adds to each chat answer.", min=0),
    ] = 0.0,
    fail_rate: Annotated[
        float, _bench_opt("FAIL_RATE", "Fraction of chat calls answered 503.", min=0, max=1)
    ] = 0.0,
    fail_completed_rate: Annotated[
        float,
        _bench_opt("FAIL_COMPLETED_RATE", "Fraction of completions answered 503.", min=0, max=1),
    ] = 0.0,
    warmup: Annotated[int, _bench_opt("WARMUP", "Rollouts run first and not counted.", min=0)] = 0,
    max_concurrent: Annotated[
        int | None,
        _bench_opt(
            "MAX_CONCURRENT",
            "--max-concurrent of the spawned server (default: --concurrency, at least 100).",
            min=1,
            show_default=False,
        ),
    ] = None,
    server_log_level: Annotated[
        LogLevel, _bench_opt("SERVER_LOG_LEVEL", "--log-level of the spawned server.")
    ] = LogLevel.WARNING,
    timeout: Annotated[
        float, _bench_opt("TIMEOUT", "Seconds to wait for one rollout's completion.", min=0.1)
    ] = 120.0,
    final_wait: Annotated[
        float,
        _bench_opt(
            "FINAL_WAIT",
            "Extra seconds at the end for missing completions before they count as lost.",
            min=0,
        ),
    ] = 10.0,
    seed: Annotated[
        int | None, _bench_opt("SEED", "Seed of the fault injection.", show_default=False)
    ] = None,
    trainer_host: Annotated[
        str,
        _bench_opt(
            "TRAINER_HOST",
            "Address the mock trainer listens on (the server under test calls it back there).",
        ),
    ] = "127.0.0.1",
    init_connections: Annotated[
        int,
        _bench_opt(
            "INIT_CONNECTIONS",
            "Inits in flight at once, like a trainer's pooled HTTP client.",
            min=1,
        ),
    ] = 100,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
) -> int:
    """Measure a RolloutServer under load."""
    import json
    import sys

    from rolloutctl import bench as benching
    from rolloutctl.bench_report import passed, progress_bar, result_table
    from rolloutctl.bench_server import ServerSpec, ServerStartError
    from rolloutctl.cli.core import CommandError
    from rolloutctl.render import make_console
    from rolloutctl.status import ExitStatus

    if server_url and (target or example):
        raise CommandError("give TARGET/--example or --server-url, not both")
    if not server_url and bool(target) == bool(example):
        raise CommandError("give exactly one of TARGET, --example or --server-url")
    config = benching.BenchConfig(
        rollouts=rollouts,
        concurrency=concurrency,
        llm_latency_ms=llm_latency_ms,
        fail_rate=fail_rate,
        fail_completed_rate=fail_completed_rate,
        warmup=warmup,
        timeout=timeout,
        final_wait=final_wait,
        seed=seed,
        server_key=server_key,
        trainer_host=trainer_host,
        init_connections=init_connections,
    )
    spec = (
        None
        if server_url
        else ServerSpec(
            target=target,
            example=example,
            log_level=server_log_level.value,
            max_concurrent=max_concurrent or max(concurrency, 100),
        )
    )
    console = make_console(use_plain(plain) or json_output, file=sys.stderr)
    try:
        with progress_bar(console) as progress:
            result = benching.run_blocking(benching.run_bench(config, server_url, spec, progress))
    except ServerStartError as exc:
        raise CommandError(str(exc), ExitStatus.CANNOT_START) from None
    if json_output:
        typer.echo(json.dumps(result.to_json()))
    else:
        make_console(use_plain(plain)).print(result_table(result))
    return ExitStatus.SUCCESS if passed(result) else ExitStatus.FAILURE
