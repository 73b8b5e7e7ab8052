"""`rolloutctl watch`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rolloutctl.cli.options import (
    FullFlag,
    MaxChars,
    PlainFlag,
    VerboseFlag,
    checked_url,
    env_names,
    make_renderer,
)
from rolloutctl.trajectory.text import DEFAULT_MAX_CHARS

if TYPE_CHECKING:
    from rolloutctl.trajectory.live import LiveView
    from rolloutctl.trajectory.render import Renderer

__all__ = ["EPILOG", "watch", "watch_all", "watch_one"]


EPILOG = (
    "Shows the exchanges a running 'rolloutctl mock-trainer' sees (its GET /v1/events "
    "stream) in the live view of 'try'. With --rollout-id it ends at that rollout's "
    "completion; without, it shows every rollout, with a summary at each completion, until "
    "Ctrl-C. Exit status: with --rollout-id 0 COMPLETED with no violation, 1 otherwise; "
    "without, 0 when stopped; 2 usage error; 3 the trainer cannot be reached.\n\n"
    "\b\nExamples:\n"
    "  rolloutctl watch http://127.0.0.1:9001\n"
    "  rolloutctl watch http://127.0.0.1:9001 --rollout-id r-42 --full"
)


def watch(
    trainer_url: Annotated[
        str, typer.Argument(help="Base URL of the running mock trainer.", show_default=False)
    ],
    rollout_id: Annotated[
        str | None,
        typer.Option(
            envvar=env_names("ROLLOUT_ID"),
            show_default=False,
            help="Follow only this rollout, and stop at its completion.",
        ),
    ] = None,
    plain: PlainFlag = False,
    verbose: VerboseFlag = False,
    max_chars: MaxChars = DEFAULT_MAX_CHARS,
    full: FullFlag = False,
) -> int:
    """Show a running mock trainer's rollouts live."""
    trainer_url = checked_url(trainer_url, "TRAINER_URL")
    view_options = (plain, verbose, max_chars, full)
    if rollout_id:
        return watch_one(trainer_url, rollout_id, make_renderer(*view_options))
    return watch_all(trainer_url, view_options)


def watch_one(
    trainer_url: str,
    rollout_id: str,
    renderer: Renderer,
    send: tuple[str, dict[str, Any], str | None] | None = None,
    json_output: bool = False,
    timeout: float | None = None,
) -> int:
    """Follow one rollout to its completion; `send` (server, init, key) starts it first.
    `json_output` prints the trajectory document at the end instead of the live view;
    past `timeout` seconds without a completion it stops and says so (exit 1)."""
    import asyncio

    from rolloutctl.attach.watch import Watcher, follow
    from rolloutctl.eventloop import run_interruptible
    from rolloutctl.status import ExitStatus
    from rolloutctl.trajectory.builder import TrajectoryBuilder
    from rolloutctl.trajectory.live import LiveView
    from rolloutctl.trajectory.summary import summarize

    spinner = not (renderer.plain or json_output) and renderer.console.is_terminal
    view = LiveView(renderer, TrajectoryBuilder(rollout_id), spinner, shown=not json_output)
    subscribed = (
        (lambda: _ended(view, trainer_url))
        if send is None
        else (lambda: _start(trainer_url, *send))
    )
    try:
        following = follow(trainer_url, Watcher(lambda _: view), rollout_id, subscribed)
        run_interruptible(asyncio.wait_for(following, timeout))
    except TimeoutError:
        view.close()
        _report(view.builder.trajectory() | {"timed_out": timeout}, renderer, json_output)
        typer.echo(
            f"rolloutctl: no completion of {rollout_id} reached the trainer within "
            f"{timeout:g} s (--timeout); the server may still be delivering it",
            err=True,
        )
        return ExitStatus.FAILURE
    except KeyboardInterrupt:
        view.close()
        _report(view.builder.interrupted(), renderer, json_output)
        return ExitStatus.INTERRUPTED
    finally:
        view.close()
    traj = view.builder.trajectory()
    _report(traj, renderer, json_output)
    return ExitStatus.SUCCESS if summarize(traj).ok else ExitStatus.FAILURE


def _report(traj: dict[str, Any], renderer: Renderer, json_output: bool) -> None:
    """The trajectory document with --json, else the summary."""
    from rolloutctl.trajectory.document import dumps_trajectory

    if json_output:
        typer.echo(dumps_trajectory(traj), nl=False)
    else:
        renderer.render_summary(traj)


async def _ended(view: LiveView, trainer_url: str) -> bool:
    """Whether the rollout ended before watching began; its messages are shown if so."""
    from rolloutctl.attach.events import past_completion

    rollout_id = view.builder.rollout_id or ""
    event = await past_completion(trainer_url, rollout_id)
    if event is not None:
        view.feed(event)
    else:  # said, or an id not (yet) seen would leave a blank screen
        typer.echo(f"watching {trainer_url}: rollout {rollout_id}, until its completion", err=True)
    return event is not None


async def _start(
    trainer_url: str, server_url: str, init: dict[str, Any], server_key: str | None
) -> bool:
    """Have the trainer send the init: its stream then shows the init and the 202 too."""
    from rolloutctl.attach.init import start_through_trainer

    await start_through_trainer(trainer_url, server_url, init, server_key)
    return False


def watch_all(trainer_url: str, view_options: tuple[bool, bool, int, bool]) -> int:
    """Every rollout the trainer sees, until Ctrl-C (the normal way to stop: exit 0)."""

    from rolloutctl.attach.watch import Watcher, follow
    from rolloutctl.eventloop import run_interruptible
    from rolloutctl.trajectory.builder import TrajectoryBuilder
    from rolloutctl.trajectory.live import LiveView

    def make_view(rollout_id: str) -> LiveView:
        renderer = make_renderer(*view_options)
        renderer.rule_tag = rollout_id
        return LiveView(renderer, TrajectoryBuilder(rollout_id), spinner=False)

    def summarise(view: LiveView) -> None:
        view.renderer.render_summary(view.builder.trajectory())

    async def announce() -> bool:
        typer.echo(f"watching {trainer_url}: every rollout, until Ctrl-C", err=True)
        return False

    watcher = Watcher(make_view)
    try:
        run_interruptible(
            follow(trainer_url, watcher, subscribed=announce, on_completion=summarise)
        )
    except KeyboardInterrupt:
        return 0
    finally:
        watcher.close()
    return 0
