"""The formats `rolloutctl export` writes, apart from the exporter so that the CLI can
declare its option without importing the trajectory stack."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ExportFormat"]


class ExportFormat(StrEnum):
    OPENAI = "openai"
    ATIF = "atif"
    JSONL = "jsonl"
