"""The README is a short front page; the generated parts of the docs agree with the real CLI."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.helpers import cli_group

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_docs_are_current() -> None:
    gen = load_script("gen_readme")
    for path, text in gen.generated().items():
        assert path.read_text() == text, f"{path.name}: uv run python scripts/gen_readme.py"


def test_readme_is_a_front_page_of_at_most_400_lines() -> None:
    assert len(README.read_text().splitlines()) <= 400


def test_readme_quick_start_is_the_two_commands() -> None:
    readme = README.read_text()
    quick = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert quick.split("\n")[1:3] == ["uv run rolloutctl try --example calculator", "uv run pytest"]


def test_readme_shows_one_example_per_command() -> None:
    gen = load_script("gen_readme")
    readme = README.read_text()
    for name in gen.command_names():
        assert f"| `uv run rolloutctl {name} " in readme, name


def test_relative_links_in_the_docs_lead_to_files() -> None:
    for page in [README, *DOCS.glob("*.md")]:
        for target in _links(page.read_text()):
            path = target.split("#", 1)[0]
            assert not path or (page.parent / path).exists(), f"{page.name}: {target}"


def _links(text: str) -> list[str]:
    parts = text.split("](")[1:]
    targets = [part.split(")", 1)[0] for part in parts]
    return [t for t in targets if "://" not in t and not t.startswith("#")]


def test_every_command_has_its_help_in_the_reference_with_examples_on_their_own_lines() -> None:
    gen = load_script("gen_readme")
    reference = (DOCS / "reference.md").read_text()
    for name in gen.command_names():
        block = reference.split(f"$ rolloutctl {name} --help\n", 1)[1].split("```", 1)[0]
        example = [line for line in block.splitlines() if line.startswith("    rolloutctl ")]
        assert example, f"{name}: no example on a line of its own"
        assert all(";" not in line for line in example), name


def test_check_help_lists_the_check_names_of_the_suite() -> None:
    from rolloutctl.check.v1.adapter import V1Adapter
    from rolloutctl.check.v1.names import CHECK_NAMES
    from rolloutctl.cli.commands.check import EPILOG
    from rolloutctl.osmosis.check.adapter import OsmosisAdapter
    from rolloutctl.osmosis.check.names import OSMOSIS_CHECK_NAMES

    assert ("health", *V1Adapter.checks) == V1Adapter.names == CHECK_NAMES
    assert ("health", *OsmosisAdapter.checks) == OsmosisAdapter.names == OSMOSIS_CHECK_NAMES
    assert f"Checks: {', '.join(CHECK_NAMES)}." in EPILOG


def test_the_table_of_validate_codes_has_every_code() -> None:
    from rolloutctl.validate.report import CODES

    commands = (DOCS / "commands.md").read_text()
    table = commands.split("<!-- BEGIN validate finding codes -->", 1)[1].split("<!-- END", 1)[0]
    assert [row.split(" | ")[0].strip("| ") for row in table.strip().splitlines()[2:]] == list(
        CODES
    )


def test_docs_link_the_protocol_in_the_repository_and_document_init_and_watch() -> None:
    readme = README.read_text()
    assert "](docs/protocol.md)" in readme and "shared/PROTOCOL.md" not in readme
    protocol = (DOCS / "protocol.md").read_text()
    for route in ("POST /v1/rollout/init", "/v1/chat/completions", "/v1/rollout/completed"):
        assert route in protocol
    commands = (DOCS / "commands.md").read_text()
    assert "## `rolloutctl init` and `rolloutctl watch`" in commands
    assert "--trainer-url http://127.0.0.1:9001 --watch" in commands
    assert "`GET /v1/rollouts?limit=N`" in commands and "`GET /v1/events?rollout_id=ID`" in commands


def test_help_names_the_protocol_file_that_exists() -> None:
    from rolloutctl.cli.options import ProtocolOption

    help_text = ProtocolOption.__metadata__[0].help  # type: ignore[attr-defined]
    assert "docs/protocol.md" in help_text and (ROOT / "docs" / "protocol.md").exists()


# Options of other tools that the docs show (ruff format --check, pytest --durations,
# uv sync --project, osmosis eval run --dataset-file, ...).
FOREIGN_OPTIONS = {
    "--check", "--durations", "--locked", "--group", "--frozen", "--project", "--dataset-file"
}  # fmt: skip


def test_every_option_the_docs_name_exists():
    """A renamed option (--expect-api-key, now --expect-callback-key) cannot linger in a guide."""
    import re

    root = cli_group()
    known = {
        "--help",
        *FOREIGN_OPTIONS,
        *(opt for p in root.params for opt in p.opts + p.secondary_opts),
    }
    for command in root.commands.values():
        known |= {opt for p in command.params for opt in p.opts + p.secondary_opts}
    unknown = [
        (path.name, flag)
        for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
        if path.name != "reference.md"  # the CLI's own help, wrapped mid-option
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", path.read_text())
        if flag not in known
    ]
    assert unknown == []
