"""`rolloutctl eval`."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rolloutctl.cli.options import (
    Example,
    JsonFlag,
    Model,
    PlainFlag,
    PolicyName,
    Protocol,
    ProtocolOption,
    ScriptFile,
    ServerKey,
    Target,
    Upstream,
    UpstreamKeyEnv,
    checked_url,
    env_names,
    resolve_agent,
    trainer_config,
    use_plain,
)
from rolloutctl.errors import InputError
from rolloutctl.status import ExitStatus

if TYPE_CHECKING:
    from rolloutctl.eval.evaluation import EvalOutcome
    from rolloutctl.eval.workers import EvalRunner

NAME = "eval"
EPILOG = (
    "Rows are numbered from 0 in file order. Each rollout is one line of results.jsonl in "
    "the run directory, written as it finishes.\n\n"
    "Each rollout is passed, failed (the answer), error (trainer, connection, timeout, lost "
    "server: kept out of the pass rate) or grader_error; the run ends with a list of those "
    "that did not pass.\n\n"
    "With --protocol osmosis each row is one POST /rollout of the Osmosis SDK 0.3 protocol "
    "(sent and polled with the SDK's client), its ground_truth sent as the label the "
    "server's grader reads. The columns of an osmosis eval dataset (user_prompt, "
    "system_prompt, ground_truth, metadata) are read as they are; --column overrides.\n\n"
    "Exit status: 0 every rollout COMPLETED with no error, grader error or protocol "
    "violation; 1 otherwise (or stopped by -x); 2 usage or dataset error, or the server "
    "wants another key (401); 3 the server did not start; 130 interrupted (what finished is "
    "kept; rerun with --resume DIR).\n\n"
    "\b\nExamples:\n"
    "  rolloutctl eval data.jsonl --example calculator\n"
    "  rolloutctl eval data.jsonl my_agent.py:agent -k 'add and not slow' -x\n"
    "  rolloutctl eval data.csv my_agent.py:agent --policy proxy --upstream "
    "http://localhost:11434/v1 --model qwen3 --epochs 4"
)

__all__ = ["eval_", "resume_command"]


def _opt(
    name: str, help_text: str, *flags: str, scope: str | None = None, **kwargs: Any
) -> typer.models.OptionInfo:
    return typer.Option(..., *flags, envvar=env_names(name, scope=scope), help=help_text, **kwargs)


def eval_(
    dataset: Annotated[
        Path,
        typer.Argument(help="JSONL, CSV or Parquet file of rows.", show_default=False),
    ],
    target: Target = None,
    example: Example = None,
    server_url: Annotated[
        str | None,
        _opt("SERVER_URL", "Evaluate this running RolloutServer.", show_default=False),
    ] = None,
    server_key: ServerKey = None,
    policy: PolicyName = "calculator",
    script: ScriptFile = None,
    upstream: Upstream = None,
    model: Model = None,
    upstream_key_env: UpstreamKeyEnv = None,
    column: Annotated[
        list[str] | None,
        _opt(
            "COLUMN",
            "FIELD=COLUMN: read a row field from another column (repeatable), e.g. "
            "prompt=question.",
            show_default=False,
        ),
    ] = None,
    skip_bad_rows: Annotated[
        bool,
        _opt(
            "SKIP_BAD_ROWS",
            "Warn about unusable rows and go on (default: stop).",
            "--skip-bad-rows",
        ),
    ] = False,
    rows: Annotated[
        str | None,
        _opt("ROWS", "Only these rows, e.g. '3,7,10-20' (from 0).", show_default=False),
    ] = None,
    limit: Annotated[
        int | None, _opt("LIMIT", "Only the first K rows chosen.", min=1, show_default=False)
    ] = None,
    keyword: Annotated[
        str | None,
        _opt(
            "KEYWORD",
            "Only rows whose id or text match EXPR, as pytest's -k: words (case ignored) "
            "with and, or, not and parentheses, e.g. 'add and not q1'.",
            "-k",
            "--keyword",
            show_default=False,
        ),
    ] = None,
    fail_fast: Annotated[
        bool,
        _opt(
            "FAIL_FAST",
            "Stop at the first rollout that does not pass (failed, error or grader error): "
            "start nothing more, keep what finishes; --resume goes on.",
            "-x",
            "--fail-fast",
        ),
    ] = False,
    epochs: Annotated[
        int, _opt("EPOCHS", "Samples per row (pass@k up to this).", "--epochs", "--repeat", min=1)
    ] = 1,
    seed: Annotated[
        int | None,
        _opt(
            "SEED",
            "Sent as completion_params.seed (plus the epoch) unless the row sets one.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        _opt(
            "TIMEOUT",
            "Seconds one rollout may take before it counts as ERROR.",
            scope="EVAL",
            min=0.1,
        ),
    ] = 300.0,
    retry_errors: Annotated[
        int,
        _opt(
            "RETRY_ERRORS",
            "Run a rollout again, up to N times, while it ends in an infrastructure error "
            "(trainer, connection, timeout, lost server); the row keeps every attempt.",
            min=0,
        ),
    ] = 0,
    concurrency: Annotated[
        int, _opt("CONCURRENCY", "Rollouts in flight at once.", scope="EVAL", min=1)
    ] = 8,
    grader: Annotated[
        str | None,
        _opt(
            "GRADER",
            "module:fn or file.py:fn called as fn(completion, row) -> float; replaces the "
            "agent's reward.",
            show_default=False,
        ),
    ] = None,
    run_dir: Annotated[
        Path | None,
        _opt(
            "OUTPUT",
            "Run directory (default runs/<timestamp>-<dataset name>/).",
            "--output",
            "-o",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        _opt(
            "RESUME",
            "Continue the run in DIR: run only what has no result yet.",
            show_default=False,
        ),
    ] = None,
    retry_failed: Annotated[
        Path | None,
        _opt(
            "RETRY_FAILED", "Rerun only the ERROR rollouts of the run in DIR.", show_default=False
        ),
    ] = None,
    json_output: JsonFlag = False,
    plain: PlainFlag = False,
    protocol: ProtocolOption = Protocol.V1,
) -> int:
    """Run an agent over a dataset and sum up the results."""
    from rolloutctl.eval.evaluation import Evaluation
    from rolloutctl.trajectory.render import make_console

    if server_url and (target or example):
        raise InputError("give TARGET/--example or --server-url, not both")
    if sum(x is not None for x in (run_dir, resume, retry_failed)) > 1:
        raise InputError("give at most one of --output, --resume and --retry-failed")
    url = checked_url(server_url) if server_url else None
    agent_name = None if url else resolve_agent(target, example).name
    plain = use_plain(plain)
    live = not plain and sys.stderr.isatty()
    evaluation = Evaluation(
        dataset=dataset,
        agent=agent_name,
        target=target,
        example=example,
        server_url=url,
        server_key=server_key,
        trainer=trainer_config(policy, script, upstream, model, upstream_key_env, seed=seed),
        columns=column or [],
        rows=rows,
        limit=limit,
        keyword=keyword,
        fail_fast=fail_fast,
        skip_bad_rows=skip_bad_rows,
        epochs=epochs,
        seed=seed,
        timeout=timeout,
        retry_errors=retry_errors,
        concurrency=concurrency,
        grader=grader,
        run_dir=run_dir,
        resume=resume,
        retry_failed=retry_failed,
        progress=make_console(not live, file=sys.stderr),
        live=live,
        warn=_warn,
        protocol=protocol.value,
        runner=_runner(protocol),
    )
    return _report(evaluation.run(), json_output, plain)


def _report(outcome: EvalOutcome, json_output: bool, plain: bool) -> int:
    """Print the summary; on Ctrl-C say how to resume. The exit status."""
    from rolloutctl.eval.failures import failure_lines
    from rolloutctl.eval.report import summary_rows
    from rolloutctl.report_table import print_rows
    from rolloutctl.trajectory.render import make_console

    if json_output:
        typer.echo(json.dumps(outcome.summary))
    else:
        console = make_console(plain)
        print_rows(console, "eval summary", summary_rows(outcome.summary), plain)
        for line in failure_lines(outcome.summary):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    stopped = outcome.summary.get("stopped_at")
    if stopped and not outcome.interrupted:
        row, epoch = stopped
        _warn(f"stopped after row {row} (epoch {epoch}) did not pass (-x)")
        _warn(f"go on with: {resume_command(outcome.run_dir)}")
        return ExitStatus.FAILURE  # rows were left unrun
    if outcome.interrupted:
        kept = outcome.summary["rollouts"]
        _warn(f"interrupted: {kept} rollouts kept in {outcome.run_dir}")
        _warn(f"resume with: {resume_command(outcome.run_dir)}")
        return ExitStatus.INTERRUPTED
    return ExitStatus.SUCCESS if outcome.clean else ExitStatus.FAILURE


def resume_command(run_dir: Path) -> str:
    """This command line with --resume DIR instead of any --output/--resume/--retry-failed."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg in ("--output", "-o", "--resume", "--retry-failed"):
            skip = True
            continue
        if arg.split("=", 1)[0] in ("--output", "--resume", "--retry-failed"):
            continue
        args.append(arg)
    return shlex.join(["rolloutctl", *args, "--resume", str(run_dir)])


def _warn(message: str) -> None:
    typer.echo(f"rolloutctl: {message}", err=True)


def _runner(protocol: Protocol) -> type[EvalRunner]:
    """The protocol's eval loop; the Osmosis one imports the SDK, so only when asked for."""
    if protocol is Protocol.OSMOSIS:
        from rolloutctl.osmosis.eval import OsmosisEvalRunner

        return OsmosisEvalRunner
    from rolloutctl.eval.workers import EvalRunner

    return EvalRunner
