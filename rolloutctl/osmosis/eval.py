"""`eval --protocol osmosis`: v1 eval's loop, each rollout posted and polled with the SDK's client.

Rows, epochs, resume, retry, pass@k and the run directory are v1 eval's; a row becomes a
`POST /rollout` with its messages, its `ground_truth` as the `label` (what the server's
grader compares with, as `osmosis eval run` sends it) and its `metadata`. The server's
grader gives the reward; a `success` result reads as COMPLETED and any other as ERROR
with the SDK's `err_category`, so outcomes and pass rates mean what they mean for v1.
"""

from __future__ import annotations

from typing import Any

import httpx
from osmosis_ai.rollout.client import RolloutClient

from rolloutctl.eval.workers import EvalRunner, Task
from rolloutctl.osmosis.driver import PROTOCOL, OsmosisRequest, drive_rollout

__all__ = ["OsmosisEvalRunner", "osmosis_ending", "row_request"]


def row_request(rollout_id: str, task: Task) -> OsmosisRequest:
    row = task.row
    label = None if row.ground_truth is None else str(row.ground_truth)
    return OsmosisRequest(row.messages, rollout_id, label=label, metadata=row.metadata or None)


def osmosis_ending(completion: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """A 0.3 result's (status, error_category, error_message), in v1 eval's terms."""
    status = completion.get("status")
    if status is None:
        return None, None, None
    if status == "success":
        return "COMPLETED", None, None
    return "ERROR", completion.get("err_category") or status, completion.get("err_message")


class OsmosisEvalRunner(EvalRunner):
    client: RolloutClient
    ending = staticmethod(osmosis_ending)

    async def run(self, tasks: list[Task]) -> None:
        # one long poll per rollout in flight, and its next one posted meanwhile
        limits = httpx.Limits(max_connections=2 * self.config.concurrency + 10)
        async with httpx.AsyncClient(limits=limits) as http:
            key = self.config.server_key
            self.client = RolloutClient(url=self.stack.server_url, http_client=http, api_key=key)
            await super().run(tasks)

    async def _drive(self, task: Task, rollout_id: str) -> tuple[str, str] | None:
        request = row_request(rollout_id, task)
        trainer, timeout = self.stack.trainer, self.config.timeout
        if await drive_rollout(trainer, self.client, request, timeout) is None:
            return ("no_completion", f"no result within {timeout:g} s")
        return None

    def _known(self, rollout_id: str) -> dict[str, Any]:
        """The tools the chat requests carried (no 202 lists them in this protocol)."""
        state = self.stack.trainer.records.rollouts.get(rollout_id)
        return {"protocol": PROTOCOL, "tools": (state.request_tools if state else None) or []}
