"""The names `rolloutctl` exports are pinned: changing them is a decision, not an accident."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import rolloutctl
from rolloutctl.errors import RolloutctlError

EXPORTED = {
    "__version__",
    "Agent",
    "ChatResult",
    "MockTrainer",
    "RolloutContext",
    "RolloutMetrics",
    "RolloutRequest",
    "RolloutResult",
    "RolloutctlError",
    "ServeConfig",
    "ServerSettings",
    "Tool",
    "ToolLoopAgent",
    "TrainerConfig",
    "TryOptions",
    "create_app",
    "load_agent",
    "load_trajectory",
    "run_tool_loop",
    "run_try",
    "save_trajectory",
    "serve",
    "tool",
}


def test_the_exported_names_are_pinned_and_all_resolve():
    assert set(rolloutctl.__all__) == EXPORTED
    for name in rolloutctl.__all__:
        assert getattr(rolloutctl, name) is not None


def _package_modules():
    for info in pkgutil.walk_packages(rolloutctl.__path__, "rolloutctl."):
        if info.name.startswith(("rolloutctl._examples", "rolloutctl.__main__")):
            continue
        yield importlib.import_module(info.name)


def test_every_exception_of_the_package_derives_from_rolloutctl_error():
    strays = [
        f"{module.__name__}.{name}"
        for module in _package_modules()
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
        and not issubclass(obj, RolloutctlError)
        and not name.startswith("_")
    ]
    assert strays == []


def _defined_here(module) -> set[str]:
    """Public classes and functions a module defines itself (not those it imports)."""
    return {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    }


def test_every_module_lists_its_public_classes_and_functions_in_dunder_all():
    missing, unknown = {}, {}
    for module in _package_modules():
        declared = set(getattr(module, "__all__", ()))
        if _defined_here(module) - declared:
            missing[module.__name__] = sorted(_defined_here(module) - declared)
        if {name for name in declared if not hasattr(module, name)}:
            unknown[module.__name__] = sorted(n for n in declared if not hasattr(module, n))
    assert missing == {} and unknown == {}
