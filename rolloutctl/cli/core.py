"""Running the command: errors become one readable line and an `ExitStatus`.

Kept apart from the commands so that they stay plain calls into the library and
every error path is decided here, by the base class of `rolloutctl.errors`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
from collections.abc import Sequence

import typer
from typer._click.core import ParameterSource
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from rolloutctl.errors import RolloutctlError
from rolloutctl.status import ExitStatus

__all__ = ["main", "raw_main"]

_ENVVAR_NOTE = re.compile(r" \(env var: '[^)]*'\)")


def raw_main(args: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit status instead of exiting."""
    from rolloutctl.cli.app import app

    if "_ROLLOUTCTL_COMPLETE" in os.environ:  # a shell asks for completions (completions/)
        from typer._completion_classes import completion_init

        completion_init()
    args, debug = _take_debug(list(sys.argv[1:] if args is None else args))
    if debug:  # where the root option sees it: serve logs tracebacks at DEBUG then
        args.insert(0, "--debug")
    debug = debug or os.environ.get("ROLLOUTCTL_DEBUG", "") not in ("", "0")
    command = typer.main.get_command(app)
    try:
        result = command.main(args, prog_name="rolloutctl", standalone_mode=False)
    except BrokenPipeError:
        return _closed_pipe()
    except SystemExit as exc:  # click ends a command whose reader went away with exit 1
        if isinstance(exc.__context__, BrokenPipeError):
            return _closed_pipe()
        raise
    except NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return ExitStatus.SUCCESS
    except UsageError as exc:
        message = _usage_message(exc).rstrip(".")
        if exc.ctx:  # after click's "Did you mean 'try'?" a "; try ..." would read as a typo
            joint = " (see '{}')" if message.endswith("?") else "; try '{}'"
            message += joint.format(f"{exc.ctx.command_path} --help")
        return _fail(message, ExitStatus.USAGE)
    except typer.Exit as exc:
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        return _fail("interrupted", ExitStatus.INTERRUPTED)
    except RolloutctlError as exc:
        return _fail(str(exc), exc.exit_status, debug)
    except ClickException as exc:
        return _fail(exc.format_message(), ExitStatus.USAGE)
    except Exception as exc:
        message = (
            f"internal error (a bug in rolloutctl; please report it): {type(exc).__name__}: "
            f"{exc} (run with --debug for the traceback)"
        )
        return _fail(message, ExitStatus.INTERNAL, debug)
    return int(result or 0)


def _take_debug(args: list[str]) -> tuple[list[str], bool]:
    """Accept `--debug` anywhere before `--`, after the subcommand too."""
    end = args.index("--") if "--" in args else len(args)
    kept = [arg for arg in args[:end] if arg != "--debug"]
    return kept + args[end:], len(kept) < end


def _usage_message(exc: UsageError) -> str:
    """Click's message, naming the environment variable when the bad value came from one."""
    param, ctx = getattr(exc, "param", None), exc.ctx
    message = _ENVVAR_NOTE.sub("", exc.format_message())
    if param is None or ctx is None or param.name is None:
        return message
    if ctx.get_parameter_source(param.name) is not ParameterSource.ENVIRONMENT:
        return message
    names = [param.envvar] if isinstance(param.envvar, str) else param.envvar or []
    source = next((name for name in names if os.environ.get(name)), None)
    return message.replace("Invalid value for", f"Invalid value of {source} for", 1)


def _closed_pipe() -> int:
    """The reader went away (`| head`): not an error. Point stdout at /dev/null so the
    interpreter's final flush cannot fail again and print a second complaint."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return ExitStatus.SUCCESS


def _fail(message: str, status: ExitStatus, debug: bool = False) -> int:
    message = _ENVVAR_NOTE.sub("", message)  # click shows the env var list as a Python repr
    if debug:
        traceback.print_exc()
    typer.echo(f"rolloutctl: error: {message}", err=True)
    return status


def main() -> None:
    sys.exit(raw_main())
