"""`rolloutctl view`: eval runs and trajectories in the browser, at any size, while they grow.

`sources` finds what the given paths hold, `index` keeps byte offsets (never
trajectories) of a run's results.jsonl, `summary` and `query` answer the run page and
its rows table from that index, `rollout` shapes one trajectory for the page, and `app`
serves all of it with the assets in `static/` (plain HTML, CSS and JavaScript).
"""

from __future__ import annotations

from rolloutctl.view.app import create_app
from rolloutctl.view.sources import Catalog

__all__ = ["Catalog", "create_app"]
