"""--policy proxy with nothing at --upstream: exit 3 before any rollout, not N failed rows."""

from __future__ import annotations

from tests.eval.conftest import arithmetic_rows, write_jsonl
from tests.helpers import refused_url, run_cli_batch


def test_eval_and_try_check_the_upstream_before_running(tmp_path):
    dataset = write_jsonl(tmp_path / "d.jsonl", arithmetic_rows(4))
    run_dir = tmp_path / "run"
    with refused_url() as nowhere:
        upstream = ["--policy", "proxy", "--upstream", nowhere]
        results = run_cli_batch(
            ["eval", str(dataset), "--example", "calculator", "-o", str(run_dir), *upstream],
            ["try", "--example", "calculator", *upstream],
        )
    for result in results:
        assert result.returncode == 3, result.stderr
        assert "cannot reach the upstream model at" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    results_file = run_dir / "results.jsonl"
    assert not results_file.exists() or results_file.read_text() == ""
