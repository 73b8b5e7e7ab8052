"""Finding the agent to serve: `module:attr`, `path/to/file.py:attr`, or a bundled example.

Every failure is a `TargetError` with one line saying which part failed and why, so
the CLI can print it as is and exit 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from rolloutctl.agent.context import Agent
from rolloutctl.errors import TargetError

__all__ = [
    "AGENT_HOOK",
    "DEFAULT_ATTR",
    "example_names",
    "examples_dir",
    "load_agent",
    "load_attribute",
    "load_example",
]

DEFAULT_ATTR = "agent"
AGENT_HOOK = "__rolloutctl_agent__"  # a method returning the Agent an object stands for


def examples_dir() -> Path:
    """Bundled examples: inside the installed wheel, or the source checkout's `examples/`."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_examples"
    return packaged if packaged.is_dir() else package.parent / "examples"


def example_names() -> list[str]:
    return sorted(p.stem for p in examples_dir().glob("*.py") if not p.stem.startswith("_"))


def load_example(name: str) -> Agent:
    path = examples_dir() / f"{name}.py"
    if name not in example_names():
        raise TargetError(f"unknown example {name!r}; choose one of: {', '.join(example_names())}")
    return load_agent(f"{path}:{DEFAULT_ATTR}")


def load_agent(target: str) -> Agent:
    """Load `target` (attr defaults to `agent`); a class is instantiated without arguments."""
    return _as_agent(load_attribute(target), target)


def load_attribute(target: str, default_attr: str = DEFAULT_ATTR) -> object:
    """The object `target` names ('package.module:attr' or 'path/to/file.py:attr')."""
    location, _, attr = target.rpartition(":") if ":" in target else (target, "", default_attr)
    if not location or not attr:
        raise TargetError(
            f"target {target!r} must look like 'package.module:attr' or 'path/to/file.py:attr'"
        )
    module = _load_module(location)
    try:
        return getattr(module, attr)
    except AttributeError:
        missing = f"{location!r} has no attribute {attr!r}"
        raise TargetError(missing + _defined(module, location)) from None


def _defined(module: ModuleType, location: str) -> str:
    """What the module itself defines (its classes, functions and their instances), so that
    a target missing its `:attr` (or naming a wrong one) is told what to name instead."""
    names = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    ]
    return (
        f" (it defines {', '.join(names[:5])}: name one, as in {location}:{names[0]})"
        if names
        else ""
    )


def _load_module(location: str) -> ModuleType:
    if location.endswith(".py") or "/" in location or "\\" in location:
        path = Path(location)
        package = _package_module(path)
        return _load_file(path) if package is None else _import(*package)
    return _import(location, Path.cwd())


def _package_module(path: Path) -> tuple[str, Path] | None:
    """(dotted name, import root) of a file inside a package (its folder has __init__.py).

    Importing it by that name, with the root on sys.path, lets the file use relative
    imports (`from .tools import search`) the way `python -m` would.
    """
    if not path.is_file() or not (path.parent / "__init__.py").is_file():
        return None
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.resolve().parent
    while (folder / "__init__.py").is_file() and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    loaded = sys.modules.get(parts[0])
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").parent.parent != folder:
        return None  # the name is taken by another package: load the file by its path
    return ".".join(parts), folder


def _import(location: str, root: Path) -> ModuleType:
    """Import `location` with `root` on sys.path, as uvicorn does with the current directory."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(location)
    except ModuleNotFoundError as exc:
        raise TargetError(f"cannot import module {location!r}: {exc}") from None
    except (Exception, SystemExit) as exc:
        raise TargetError(f"importing {location!r} failed: {type(exc).__name__}: {exc}") from exc


def _load_file(path: Path) -> ModuleType:
    if path.is_dir():
        raise TargetError(f"{path} is a directory; name a Python file in it, e.g. {path}/agent.py")
    if not path.is_file():
        raise TargetError(f"no such file: {path}")
    name = f"rolloutctl_target_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # so the file can import its neighbours
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a script's exit() is a load failure too
        del sys.modules[name]
        # Chained, so that --debug prints the user's own traceback (their file and line).
        raise TargetError(f"loading {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _as_agent(obj: object, where: str) -> Agent:
    """An Agent, from itself, its class, or what stands for one through `AGENT_HOOK`: an app
    from `create_app`, an SDK 0.2 `RolloutAgentLoop` (rolloutctl.osmosis.v02) or its class."""
    if isinstance(obj, type) and (issubclass(obj, Agent) or hasattr(obj, AGENT_HOOK)):
        try:
            obj = obj()
        except Exception as exc:
            raise TargetError(f"{where}: creating the agent failed: {exc}") from None
    hook = getattr(obj, AGENT_HOOK, None)
    if not isinstance(obj, Agent) and callable(hook):
        obj = hook()
    if not isinstance(obj, Agent):
        kind = type(obj).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise TargetError(
            f"{where} is {article} {kind}, not an Agent, a RolloutAgentLoop or an app from"
            " create_app"
        )
    return obj
