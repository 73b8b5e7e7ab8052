"""Every exception class lives in `rolloutctl.errors`, and its docstring draws them all."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import rolloutctl
from rolloutctl import errors
from rolloutctl.errors import RolloutctlError
from rolloutctl.status import ExitStatus

_TREE_LINE = re.compile(r"^    (?P<indent>[│├└─ ]*)(?P<name>[A-Z]\w+)\s")


def _drawn_tree() -> dict[str, str | None]:
    """Each class the docstring draws, with the class drawn as its parent."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").split("::", 1)[1].splitlines():
        match = _TREE_LINE.match(line)
        if match is None:
            continue
        depth = len(match["indent"]) // 4
        del stack[depth:]
        parents[match["name"]] = stack[-1] if stack else None
        stack.append(match["name"])
    return parents


def _defined_classes() -> dict[str, str | None]:
    """Each error class `errors` defines, with its nearest rolloutctl base."""
    found: dict[str, str | None] = {}
    for name, obj in vars(errors).items():
        if inspect.isclass(obj) and issubclass(obj, RolloutctlError):
            base = next((b for b in obj.__bases__ if issubclass(b, RolloutctlError)), None)
            found[name] = base.__name__ if base else None
    return found


def test_the_drawn_tree_is_the_class_tree() -> None:
    drawn = _drawn_tree()
    assert "InitRefused" in drawn and "TrainerUnreachable" in drawn  # the parser reads it
    assert drawn == _defined_classes()
    assert sorted(errors.__all__) == sorted(drawn)


def test_no_module_but_errors_defines_an_error_class() -> None:
    strays = []
    for info in pkgutil.walk_packages(rolloutctl.__path__, "rolloutctl."):
        if info.name.startswith(("rolloutctl._examples", "rolloutctl.__main__")):
            continue
        module = importlib.import_module(info.name)
        strays += [
            f"{info.name}.{name}"
            for name, obj in vars(module).items()
            if inspect.isclass(obj)
            and issubclass(obj, RolloutctlError)
            and obj.__module__ != "rolloutctl.errors"
        ]
    assert strays == []


def test_exit_statuses_follow_the_branch() -> None:
    assert errors.TargetError.exit_status == ExitStatus.USAGE
    assert errors.TrainerUnreachable.exit_status == ExitStatus.CANNOT_START
    assert errors.InitRefused.exit_status == ExitStatus.FAILURE
    assert errors.RolloutTimedOut.exit_status == ExitStatus.FAILURE


def test_a_refused_init_says_its_status_and_detail() -> None:
    refused = errors.InitRefused(401, "missing server key")
    assert isinstance(refused, errors.InitError)
    assert str(refused).startswith("init refused with HTTP 401: missing server key (")
    assert "--server-key" in str(refused) and str(errors.InitRefused(422, "x")).endswith(": x")
    assert "RolloutServer's URL" in str(errors.InitRefused(404, "Not Found"))
    fields = [{"loc": ["body", "messages", 0, "role"], "msg": "bad role"}, {"msg": "too big"}]
    assert str(errors.InitRefused(422, fields)).endswith(": messages.0.role: bad role; too big")
