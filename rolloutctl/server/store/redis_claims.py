"""Claims whose answer never came: settled so that none swallows the trainer's retry.

A claim script that Redis ran in time, but whose answer the replica read too late (its
event loop blocked, the connection broke after the write), leaves a record that the
replica does not run: its init was answered 503. Left alone, the trainer's retry would
find that record, get 202, and wait for a rollout that never starts. So before the 503
goes out, the replica sends `RELEASE`: it voids the claim call (should Redis run it
later still, it writes nothing) and removes each record it made, so the retry claims
afresh and runs once. When Redis cannot be reached then, the release waits here and
goes first when it can (every claim and every write of this replica settles it).

One case is left: a duplicate init of the same id that reached Redis, through any
replica, between the late claim and its release got 202 for that record. The claim
leaves a mark for such a duplicate; a marked record is not removed but told: its
trainer gets one ERROR `server_lost` completion, so no 202 goes unanswered.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rolloutctl.server.store import redis_scripts as lua
from rolloutctl.server.store.base import RolloutRecord

__all__ = ["TOLD", "Unanswered", "UnansweredClaims"]

Script = Callable[[str, list[str], list[lua.Arg]], Awaitable[Any]]

TOLD = (
    "its init was answered 503 (the record store did not answer the claim in time), yet "
    "the claim was made and a duplicate init got 202 for it; the rollout never started"
)


@dataclass(frozen=True, slots=True)
class Unanswered:
    """One claim call: its void key, and each record with the value it wrote."""

    void: str
    claims: list[tuple[RolloutRecord, bytes]]

    @staticmethod
    def of(prefix: str, records: list[RolloutRecord]) -> Unanswered:
        claims = [(record, lua.encode(record, secrets.token_hex(4))) for record in records]
        return Unanswered(f"{prefix}:void:{secrets.token_hex(8)}", claims)


class UnansweredClaims:
    """The releases still to send (in order, one at a time), and the records to tell."""

    def __init__(self, store_prefix: str, owned: str, owner: str, ttl_ms: int) -> None:
        self.prefix, self.owned, self.owner, self.ttl_ms = store_prefix, owned, owner, ttl_ms
        self.pending: list[Unanswered] = []
        self.told: list[RolloutRecord] = []  # for the next scan for lost rollouts
        self._lock = asyncio.Lock()

    async def settle(self, script: Script, void_ms: int) -> None:
        """Send every pending release. Raises what `script` raises (they stay pending)."""
        async with self._lock:
            while self.pending:
                call = self.pending[0]
                told = await script("RELEASE", self._keys(call), self._args(call, void_ms))
                self.pending.pop(0)
                self.told += self._told(call, {rollout_id.decode() for rollout_id in told})

    def take_told(self) -> list[RolloutRecord]:
        told, self.told = self.told, []
        return told

    def _keys(self, call: Unanswered) -> list[str]:
        records = [f"{self.prefix}:rollout:{record.rollout_id}" for record, _ in call.claims]
        return [self.owned, call.void, *records]

    def _args(self, call: Unanswered, void_ms: int) -> list[lua.Arg]:
        args: list[lua.Arg] = [self.owner, void_ms, f"{self.prefix}:seen:"]
        args += [f"{self.prefix}:delivery:", self.ttl_ms]
        for record, value in call.claims:
            args += [value, record.rollout_id]
        return args

    def _told(self, call: Unanswered, ids: set[str]) -> list[RolloutRecord]:
        told = []
        for record, value in call.claims:
            if record.rollout_id in ids:
                lost = lua.decode(record.rollout_id, value, self.owner)
                lost.lost_reason = TOLD
                told.append(lost)
        return told
