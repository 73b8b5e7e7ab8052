"""The rows table's questions: filter, sort and one page of positions, on the server.

A page is cut from the index in memory (a few numbers per rollout), so any page of a
100,000-row run costs one pass over those numbers and a read of only its own lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

from rolloutctl.errors import QueryError
from rolloutctl.eval.results import Outcome
from rolloutctl.view.index import ResultsIndex

__all__ = ["MAX_PER_PAGE", "SORT_KEYS", "QueryError", "RowQuery", "page_of"]

MAX_PER_PAGE = 500
SORT_KEYS = {
    "row": "row",
    "epoch": "epoch",
    "status": "status",
    "reward": "reward",
    "latency": "latency_ms",
    "tokens": "tokens",
    "llm_calls": "llm_calls",
    "violations": "violations",
}  # the sort's name in the URL -> the Outcome field; a None sorts last either way


@dataclass(frozen=True, slots=True)
class RowQuery:
    status: frozenset[str] = frozenset()
    category: str | None = None
    epoch: int | None = None
    min_reward: float | None = None
    max_reward: float | None = None
    text: str = ""
    failed: bool = False
    sort: str = "row"
    descending: bool = False
    page: int = 1
    per_page: int = 50

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> RowQuery:
        """From the URL's query string; QueryError naming the first bad parameter."""
        sort = params.get("sort", "row")
        if sort not in SORT_KEYS:
            raise QueryError(f"sort: must be one of {', '.join(SORT_KEYS)}, not {sort!r}")
        statuses = params.get("status", "")
        return cls(
            status=frozenset(s for s in statuses.split(",") if s),
            category=params.get("category") or None,
            epoch=_number(params, "epoch", int),
            min_reward=_number(params, "min_reward", float),
            max_reward=_number(params, "max_reward", float),
            text=params.get("q", "").strip(),
            failed=params.get("failed") in ("1", "true"),
            sort=sort,
            descending=params.get("order") == "desc",
            page=_number(params, "page", int, low=1) or 1,
            per_page=min(_number(params, "per_page", int, low=1) or 50, MAX_PER_PAGE),
        )

    def admits(self, outcome: Outcome, failure: str | None) -> bool:
        if self.status and outcome.status not in self.status:
            return False
        if self.category is not None and failure != self.category:
            return False
        if self.epoch is not None and outcome.epoch != self.epoch:
            return False
        if self.failed and failure is None:
            return False
        return self._reward_admits(outcome.reward)

    def _reward_admits(self, reward: float | None) -> bool:
        if self.min_reward is None and self.max_reward is None:
            return True
        if reward is None:
            return False
        low, high = self.min_reward, self.max_reward
        return (low is None or reward >= low) and (high is None or reward <= high)


def _number(params: Mapping[str, str], name: str, kind: type, low: float | None = None) -> Any:
    text = params.get(name, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise QueryError(f"{name}: not a number: {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"{name}: must be finite")
    if low is not None and value < low:
        raise QueryError(f"{name}: must be at least {low:g}")
    return value


def page_of(index: ResultsIndex, query: RowQuery) -> tuple[int, list[int]]:
    """(how many positions match, the positions of the asked page in the asked order).

    The order of every position is kept per sort key until the index changes, so paging
    through an unfiltered table is a slice, and a filter one pass over the numbers.
    """
    ordered = index.memo(("sorted", query.sort, query.descending), lambda: _sorted(index, query))
    found = index.matching(query.text) if query.text else None
    if found is not None or query != RowQuery(**_order_and_page(query)):
        outcomes, failures = index.outcomes, index.failures
        ordered = [
            p
            for p in ordered
            if (found is None or p in found) and query.admits(outcomes[p], failures[p])
        ]
    start = (query.page - 1) * query.per_page
    return len(ordered), ordered[start : start + query.per_page]


def _order_and_page(query: RowQuery) -> dict[str, Any]:
    """The fields of `query` that filter nothing."""
    names = ("sort", "descending", "page", "per_page")
    return {name: getattr(query, name) for name in names}


def _sorted(index: ResultsIndex, query: RowQuery) -> list[int]:
    """Live positions by the asked field, ties (and missing values, at the end) by (row,
    epoch). A stable sort of the (row, epoch) order on the bare values keeps it quick."""
    outcomes = index.outcomes
    by_row: list[int] = index.memo(
        ("sorted", "row", False),
        lambda: sorted(index.live(), key=lambda p: (outcomes[p].row, outcomes[p].epoch)),
    )
    if query.sort == "row":
        return by_row[::-1] if query.descending else by_row
    get = attrgetter(SORT_KEYS[query.sort])
    pairs = [(v, p) for p in by_row if (v := get(outcomes[p])) is not None]
    pairs.sort(key=itemgetter(0), reverse=query.descending)
    return [p for _, p in pairs] + [p for p in by_row if get(outcomes[p]) is None]
