"""A `rolloutctl check` run's results, whatever the protocol: rows, counts, the verdict.

`passed` is about the protocol's rules only (no FAIL); security advisories and lint
warnings are reported beside them and fail the run only when `strict`. An ERROR row is
rolloutctl's own bug: the run's exit status says so (`ExitStatus.INTERNAL`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rolloutctl.check.base import CheckStatus
from rolloutctl.status import ExitStatus

__all__ = ["CheckReport", "CheckResult", "parse_only"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: CheckStatus
    reason: str
    details: tuple[str, ...] = ()  # every finding and note; the reason shows the first

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "details": list(self.details),
        }


@dataclass(frozen=True)
class CheckReport:
    server_url: str
    results: list[CheckResult]
    seconds: float
    protocol: str = "v1"
    strict: bool = False

    @property
    def conformant(self) -> bool:
        """No rule of the protocol broken (skips and absent extensions are fine)."""
        return not self._with(CheckStatus.FAIL)

    @property
    def passed(self) -> bool:
        """Conformant, no internal error, and with `strict` no advisory or warning either."""
        bad = {CheckStatus.FAIL, CheckStatus.ERROR}
        if self.strict:
            bad |= {CheckStatus.ADVISORY, CheckStatus.WARN}
        return not self._with(*bad)

    @property
    def exit_status(self) -> ExitStatus:
        if self._with(CheckStatus.ERROR):
            return ExitStatus.INTERNAL
        return ExitStatus.SUCCESS if self.passed else ExitStatus.FAILURE

    def _with(self, *statuses: CheckStatus) -> list[CheckResult]:
        return [result for result in self.results if result.status in statuses]

    def counts(self) -> dict[CheckStatus, int]:
        found = {status: 0 for status in CheckStatus}
        for result in self.results:
            found[result.status] += 1
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.server_url,
            "protocol": self.protocol,
            "passed": self.passed,
            "conformant": self.conformant,
            "strict": self.strict,
            "counts": {status.value: count for status, count in self.counts().items()},
            "advisories": [r.to_dict() for r in self._with(CheckStatus.ADVISORY)],
            "seconds": round(self.seconds, 3),
            "checks": [result.to_dict() for result in self.results],
        }


def parse_only(only: str | Iterable[str] | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """Check names from `--only a,b`; ValueError names the unknown ones."""
    given = only.split(",") if isinstance(only, str) else list(only or ())
    names = tuple(dict.fromkeys(name.strip() for name in given if name.strip()))
    unknown = [name for name in names if name not in known]
    if unknown:
        choices = ", ".join(known)
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; choose from: {choices}")
    return names
