"""The README's generated parts agree with the real CLI."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_help_section_is_current():
    gen = load_script("gen_readme")
    readme = (ROOT / "README.md").read_text()
    assert gen.render(readme) == readme, "run: uv run python scripts/gen_readme.py"


def test_readme_quick_start_is_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert quick.split("\n")[1:3] == ["uv run rolloutctl try --example calculator", "uv run pytest"]
