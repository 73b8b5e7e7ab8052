"""Reading a server's /metrics from outside: what bench and eval report beside their own.

A server that offers no /metrics (another implementation, or `--no-metrics`) gives
None, and the caller reports nothing server-side. Replicas' figures are summed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples", "read_metrics", "server_rows", "server_side"]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]  # (name, other labels)
_PER_PROCESS = ("agent", "replica")


async def read_metrics(urls: Sequence[str], server_key: str | None = None) -> Samples | None:
    """Every rolloutctl sample of the servers at `urls`, summed; None if any offers none."""
    headers = {"Authorization": f"Bearer {server_key}"} if server_key else {}
    total: Samples = defaultdict(float)
    async with httpx.AsyncClient(timeout=10.0, headers=headers) as client:
        for url in urls:
            try:
                response = await client.get(url.rstrip("/") + "/metrics")
            except httpx.HTTPError:
                return None
            if response.status_code != 200:
                return None
            for key, value in _samples(response.text).items():
                total[key] += value
    return total


def _samples(text: str) -> Samples:
    found: Samples = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("rolloutctl_") and not sample.name.endswith("_created"):
                labels = tuple(sorted(i for i in sample.labels.items() if i[0] not in _PER_PROCESS))
                found[(sample.name, labels)] += sample.value
    return found


def _total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def _mean_ms(before: Samples, after: Samples, histogram: str) -> float | None:
    count = _total(after, histogram + "_count") - _total(before, histogram + "_count")
    spent = _total(after, histogram + "_sum") - _total(before, histogram + "_sum")
    return spent * 1000 / count if count else None


def server_side(before: Samples, after: Samples) -> dict[str, float | None]:
    """What the server counted between two readings: rollouts, retries, mean times."""

    def grew(name: str, **labels: str) -> float:
        return _total(after, name, **labels) - _total(before, name, **labels)

    return {
        "accepted": grew("rolloutctl_rollouts_accepted_total"),
        "refused": grew("rolloutctl_rollouts_refused_total"),
        "completed": grew("rolloutctl_rollouts_completed_total", status="COMPLETED"),
        "errors": grew("rolloutctl_rollouts_completed_total", status="ERROR"),
        "callback_retries": grew("rolloutctl_callback_retries_total"),
        "failed_deliveries": grew("rolloutctl_callback_failures_total", endpoint="completed"),
        "rollout_ms_mean": _mean_ms(before, after, "rolloutctl_rollout_duration_seconds"),
        "llm_call_ms_mean": _mean_ms(before, after, "rolloutctl_llm_call_duration_seconds"),
        "tool_call_ms_mean": _mean_ms(before, after, "rolloutctl_tool_call_duration_seconds"),
        "loop_lag_ms_mean": _mean_ms(before, after, "rolloutctl_event_loop_lag_seconds"),
        "spans_dropped": grew("rolloutctl_spans_dropped_total"),
    }


def _ms(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f} ms"


def server_rows(figures: dict[str, float | None]) -> list[tuple[str, str]]:
    """The server's own counts and mean times, as (label, text) rows; none without them."""
    if not figures:
        return []
    count = {name: f"{value or 0:.0f}" for name, value in figures.items()}
    counted = (
        f"{count['accepted']} accepted, {count['completed']} completed, "
        f"{count['errors']} ERROR, {count['refused']} refused, "
        f"{count['callback_retries']} callback retries, "
        f"{count['failed_deliveries']} lost deliveries"
    )
    means = (
        f"rollout {_ms(figures['rollout_ms_mean'])}, "
        f"LLM call {_ms(figures['llm_call_ms_mean'])}, "
        f"tool call {_ms(figures['tool_call_ms_mean'], 2)}, "
        f"loop lag {_ms(figures['loop_lag_ms_mean'])}"
    )
    return [("server saw", counted), ("server means", means)]
