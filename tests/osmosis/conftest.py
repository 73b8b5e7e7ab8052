"""Every SDK server a test here starts (in this process, or a child that inherits the
environment) writes its rollout files under the test's tmp_path, not the SDK's default
`~/.osmosis`, which is shared by every run and never cleaned."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def sdk_artifacts_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_OSMOSIS_ROLLOUT_ARTIFACT_ROOT", str(tmp_path / "sdk-artifacts"))
