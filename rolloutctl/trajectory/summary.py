"""What a trajectory amounts to: status, metrics, times, tool errors and violations.

The summary panel draws `summary_rows` and `try` derives its exit code from `Summary.ok`,
so the two can never disagree about whether a rollout was clean.

Times have one definition each, all read from the trajectory, so `try` and `replay`
show the same figures for the same run:

- per turn, `model` is how long the trainer took to answer that chat call;
- `time` is the rollout as the trainer saw it: from sending the init to the completion;
- `server says` repeats the completion's own metrics, measured inside the server
  (its LLM time includes the HTTP round trips, so it exceeds the model time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rolloutctl.trajectory.document import is_number
from rolloutctl.trajectory.text import is_error_result

__all__ = [
    "Summary",
    "TurnTally",
    "format_ms",
    "summarize",
    "summary_rows",
    "turn_stats",
    "whole",
]

OK_STATUSES = frozenset({"COMPLETED", "success"})  # v1, and the Osmosis 0.3 protocol
FAILED_STATUSES = frozenset({"failure", "cancelled"})  # 0.3's failed ends


@dataclass(frozen=True, slots=True)
class Summary:
    rollout_id: str | None
    status: str  # COMPLETED, ERROR, or why there is no completion status
    finish_reason: str | None = None
    error: str | None = None
    reward: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    span: float | None = None  # seconds from the init to the completion
    model_ms: float | None = None  # the trainer's answer times, summed over the turns
    tool_calls: int = 0
    failed_tool_calls: int = 0  # tool results starting "Error:"
    cause: str | None = None  # why there is no (or no genuine) completion, when known
    source: str | None = None  # where an imported trajectory came from
    violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """COMPLETED (0.3: success) with no protocol violation: what `try` exits 0 on."""
        return self.status in OK_STATUSES and not self.violations


def summarize(traj: dict[str, Any], cause: str | None = None) -> Summary:
    """The summary of `traj`; `cause` says what the caller knows went wrong (a timeout)."""
    completion = traj.get("completion") or {}
    origin = traj.get("imported_from") or {}
    results = [m for m in _all_added(traj) if m.get("role") == "tool"]
    latencies = [t["latency_ms"] for t in traj["turns"] if is_number(t.get("latency_ms"))]
    if traj.get("interrupted"):
        cause = cause or "interrupted (Ctrl-C) before the rollout ended"
    return Summary(
        rollout_id=traj.get("rollout_id"),
        status=_status(traj),
        finish_reason=completion.get("finish_reason"),
        error=_error(completion),
        reward=completion.get("reward", origin.get("reward")),
        metrics=_metrics(traj),
        span=_span(traj),
        model_ms=sum(latencies) if latencies else None,
        tool_calls=len(results),
        failed_tool_calls=sum(1 for m in results if is_error_result(m.get("content"))),
        cause=cause,
        source=_source(origin),
        violations=list(traj.get("violations") or []),
    )


def _all_added(traj: dict[str, Any]) -> list[dict[str, Any]]:
    added = [m for turn in traj["turns"] for m in turn.get("added") or []]
    return [m for m in added + list(traj.get("final_added") or []) if isinstance(m, dict)]


def _status(traj: dict[str, Any]) -> str:
    if traj.get("completion"):
        return str(traj["completion"].get("status"))
    code = traj.get("init_status_code")
    if isinstance(code, int) and not 200 <= code < 300:
        return f"init refused (HTTP {code})" if code else "init failed"
    if traj.get("interrupted"):
        return "interrupted"
    return "not recorded" if traj.get("imported_from") else "no completion"


def _error(completion: dict[str, Any]) -> str | None:
    if completion.get("status") in FAILED_STATUSES:
        category = completion.get("err_category") or "error"
        return f"{category}: {completion.get('err_message') or '(no message)'}"
    if completion.get("status") != "ERROR":
        return None
    category = (completion.get("extra_fields") or {}).get("error_category", "error")
    return f"{category}: {completion.get('error_message') or '(no message)'}"


def _metrics(traj: dict[str, Any]) -> dict[str, Any]:
    tally = TurnTally()
    for turn in traj["turns"]:
        tally.add(turn)
    return tally.metrics(traj)


class TurnTally:
    """What the answered turns add up to, counted one turn at a time so that `diff` can
    summarise a trajectory it never holds whole."""

    def __init__(self) -> None:
        self.llm_calls = self.tool_calls = self.prompt_tokens = self.response_tokens = 0
        self.any_usage = False

    def add(self, turn: dict[str, Any]) -> None:
        if not turn.get("assistant"):
            return
        usage = turn.get("usage") or {}
        self.llm_calls += 1
        self.tool_calls += len(turn["assistant"].get("tool_calls") or [])
        self.prompt_tokens += usage.get("prompt_tokens", 0)
        self.response_tokens += usage.get("completion_tokens", 0)
        self.any_usage = self.any_usage or bool(usage)

    def metrics(self, traj: dict[str, Any]) -> dict[str, Any]:
        """The completion's metrics, or what the recorded turns add up to without one."""
        reported = (traj.get("completion") or {}).get("metrics")
        if isinstance(reported, dict) and "num_llm_calls" in reported:
            return reported  # v1's metrics; a 0.3 sample's are free-form, so turns are counted
        return (
            (reported if isinstance(reported, dict) else {})
            | {
                "num_llm_calls": self.llm_calls,
                "num_tool_calls": self.tool_calls,
                "prompt_tokens": self.prompt_tokens,
                "response_tokens": self.response_tokens,
            }
            | ({} if self.any_usage else _sample_tokens(traj))
        )


def _sample_tokens(traj: dict[str, Any]) -> dict[str, Any]:
    """An SDK ATIF file's token counts, which it keeps in the sample's metrics
    (`extra.osmosis.sample_metrics`) rather than on its steps."""
    metrics = (traj.get("imported_from") or {}).get("sample_metrics") or {}
    names = {"prompt_tokens": ("prompt_tokens",),
             "response_tokens": ("completion_tokens", "response_tokens")}  # fmt: skip
    found = {ours: next((metrics[n] for n in theirs if n in metrics), None)
             for ours, theirs in names.items()}  # fmt: skip
    return {name: whole(value) for name, value in found.items() if isinstance(value, int | float)}


def whole(value: Any) -> Any:
    """A count that arrived as a float (0.3 sample metrics are floats): 3.0 reads as 3."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _span(traj: dict[str, Any]) -> float | None:
    """Seconds from the init to the completion; unknown (None) when the init was not seen,
    as when `watch` joins a rollout that had already ended."""
    start, end = traj.get("started_at"), traj.get("finished_at")
    if not (start and end and traj.get("init")):
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _source(origin: dict[str, Any]) -> str | None:
    if origin.get("format") == "atif":
        return f"ATIF {origin.get('schema_version')} ({origin.get('agent')})"
    return "completion payload" if origin.get("format") == "completion" else None


def summary_rows(summary: Summary) -> list[tuple[str, str, str]]:
    """(key, value, style name) rows of the summary panel; unknown values are left out."""
    m = summary.metrics
    calls = f"{m.get('num_llm_calls', 0)} LLM, {m.get('num_tool_calls', 0)} tool"
    tokens = f"{m.get('prompt_tokens', 0)} prompt + {m.get('response_tokens', 0)} completion"
    rows: list[tuple[str, str | None, str]] = [
        ("rollout", str(summary.rollout_id), ""),
        ("status", summary.status, "good" if summary.status in OK_STATUSES else "bad"),
        ("finish", summary.finish_reason, ""),
        ("error", summary.error, "bad"),
        ("cause", summary.cause, "bad"),
        ("reward", None if summary.reward is None else str(summary.reward), ""),
        ("calls", calls, ""),
        ("tool errors", _failures(summary), "bad"),
        ("tokens", tokens, ""),
        ("time", _times(summary), ""),
        ("server says", _latencies(m) if "total_latency_ms" in m else None, ""),
        ("source", summary.source, ""),
        ("violations", *_violations_cell(summary)),
    ]
    return [(key, value, style) for key, value, style in rows if value is not None]


def _failures(summary: Summary) -> str | None:
    if not summary.failed_tool_calls:
        return None
    return f"{summary.failed_tool_calls} of {summary.tool_calls} tool calls failed"


def _times(summary: Summary) -> str | None:
    parts = []
    if summary.span is not None:
        end = "completion" if summary.status in ("COMPLETED", "ERROR") else "last event"
        end = "interruption" if summary.status == "interrupted" else end
        parts.append(f"{summary.span:.2f} s from init to {end}")
    if summary.model_ms is not None:
        parts.append(f"model {format_ms(summary.model_ms)}")
    return ", ".join(parts) or None


def _latencies(metrics: dict[str, Any]) -> str:
    values = [metrics.get(k, 0) for k in ("total_latency_ms", "llm_latency_ms", "tool_latency_ms")]
    if not all(is_number(v) for v in values):
        return "(not numbers)"
    total, llm, tools = values
    return f"{format_ms(total)} total, {format_ms(llm)} LLM, {format_ms(tools)} tools"


def _violations_cell(summary: Summary) -> tuple[str, str]:
    if not summary.violations:
        return "none", "good"
    lines = [f"[{v.get('rule')}] {v.get('message')}" for v in summary.violations]
    return "\n".join(lines), "bad"


def format_ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def turn_stats(turn: dict[str, Any]) -> list[str]:
    """The facts known about one LLM call: latency, tokens, finish reason."""
    parts = []
    if is_number(turn.get("latency_ms")):
        parts.append(f"model {format_ms(turn['latency_ms'])}")
    usage = turn.get("usage") or {}
    if usage:
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        parts.append(f"{prompt} prompt + {completion} completion tokens")
    if turn.get("finish_reason"):
        parts.append(f"finish: {turn['finish_reason']}")
    return parts
