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


def test_every_command_has_its_help_in_the_readme_with_examples_on_their_own_lines():
    gen = load_script("gen_readme")
    readme = (ROOT / "README.md").read_text()
    reference = readme.split("<!-- BEGIN command reference -->", 1)[1].split("<!-- END", 1)[0]
    assert gen.command_names() and len(gen.command_names()) == reference.count("</details>")
    for name in gen.command_names():
        block = reference.split(f"$ rolloutctl {name} --help\n", 1)[1].split("```", 1)[0]
        example = [line for line in block.splitlines() if line.startswith("    rolloutctl ")]
        assert example, f"{name}: no example on a line of its own"
        assert all(";" not in line for line in example), name


def test_check_help_lists_the_check_names_of_the_suite():
    from rolloutctl.check.v1.names import CHECK_NAMES
    from rolloutctl.check.v1.suite import CHECKS
    from rolloutctl.cli.commands.check import EPILOG

    assert ("health", *CHECKS) == CHECK_NAMES
    assert f"Checks: {', '.join(CHECK_NAMES)}." in EPILOG


def test_the_readme_table_of_validate_codes_has_every_code():
    from rolloutctl.validate.report import CODES

    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- BEGIN validate finding codes -->", 1)[1].split("<!-- END", 1)[0]
    assert [row.split(" | ")[0].strip("| ") for row in table.strip().splitlines()[2:]] == list(
        CODES
    )


def test_readme_links_the_protocol_in_the_repository_and_documents_init_and_watch():
    readme = (ROOT / "README.md").read_text()
    assert "](docs/protocol.md)" in readme and "shared/PROTOCOL.md" not in readme
    protocol = (ROOT / "docs" / "protocol.md").read_text()
    for route in ("POST /v1/rollout/init", "/v1/chat/completions", "/v1/rollout/completed"):
        assert route in protocol
    assert "### `rolloutctl init` and `rolloutctl watch`" in readme
    assert "--trainer-url http://127.0.0.1:9001 --watch" in readme
    assert "`GET /v1/rollouts?limit=N`" in readme and "`GET /v1/events?rollout_id=ID`" in readme
