"""Running the command: errors become one readable line and an `ExitStatus`.

Kept apart from the commands so that they stay plain calls into the library and
every error path is decided here, by the base class of `rolloutctl.errors`.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Sequence

import typer
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
    args = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in args or os.environ.get("ROLLOUTCTL_DEBUG", "") not in ("", "0")
    command = typer.main.get_command(app)
    try:
        result = command.main(args, prog_name="rolloutctl", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return ExitStatus.SUCCESS
    except UsageError as exc:
        hint = f"; try '{exc.ctx.command_path} --help'" if exc.ctx else ""
        return _fail(f"{exc.format_message()}{hint}", ExitStatus.USAGE)
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
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"
        )
        return _fail(message, ExitStatus.FAILURE, debug)
    return int(result or 0)


def _fail(message: str, status: ExitStatus, debug: bool = False) -> int:
    message = _ENVVAR_NOTE.sub("", message)  # click shows the env var list as a Python repr
    if debug:
        traceback.print_exc()
    typer.echo(f"rolloutctl: error: {message}", err=True)
    return status


def main() -> None:
    sys.exit(raw_main())
