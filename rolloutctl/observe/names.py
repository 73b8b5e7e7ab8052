"""The table of every metric name, made from the definitions themselves (for the docs)."""

from __future__ import annotations

from rolloutctl.observe.server_metrics import Described, ServerMetrics
from rolloutctl.observe.trainer_metrics import TrainerMetrics

__all__ = ["metrics_table"]


def _row(described: Described, served_by: str) -> str:
    name, kind, labels, doc = described
    shown = ", ".join(f"`{label}`" for label in labels)
    return f"| `{name}` | {kind} | {served_by} | {shown} | {doc} |"


def metrics_table() -> str:
    """Markdown: name, type, who serves it, labels, meaning; histograms add _bucket,
    _count and _sum."""
    rows = [_row(d, "serve") for d in ServerMetrics("agent").described]
    rows += [_row(d, "mock-trainer") for d in TrainerMetrics("policy").described]
    header = ["| metric | type | served by | labels | meaning |", "|---|---|---|---|---|"]
    return "\n".join([*header, *rows])
