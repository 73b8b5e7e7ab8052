"""The dry rollout of `rolloutctl validate`: one real rollout of the agent, in-process.

rolloutctl's own server runs the agent and the mock trainer's echo policy plays the
model, so what is exercised is the agent's code on the real wire protocol. Whatever
goes wrong (no 202, an ERROR completion, no completion, a protocol violation seen by
the trainer) comes back as a finding rather than an exception.
"""

from __future__ import annotations

import uuid
from typing import Any

from rolloutctl.agent.context import Agent
from rolloutctl.errors import InitError
from rolloutctl.harness import local_stack
from rolloutctl.logs import in_process_logs
from rolloutctl.server.retry import RetryPolicy
from rolloutctl.server.settings import ServerSettings
from rolloutctl.trainer import TrainerConfig, make_policy
from rolloutctl.validate.report import DryRun, Finding

__all__ = ["DRY_RUN_MESSAGES", "DRY_RUN_TIMEOUT", "dry_run"]

DRY_RUN_TIMEOUT = 30.0
DRY_RUN_MESSAGES = [
    {"role": "system", "content": "You are being checked by rolloutctl validate."},
    {"role": "user", "content": "Hello! Please answer briefly."},
]


async def dry_run(
    agent: Agent, timeout: float, metadata: dict[str, Any] | None = None, tracebacks: bool = False
) -> tuple[DryRun, list[Finding]]:
    """One rollout through the real server and trainer; its problems as findings
    (and, with `tracebacks`, the tracebacks of the agent's errors on stderr)."""
    rollout_id = f"validate-{uuid.uuid4().hex[:8]}"
    init = {
        "rollout_id": rollout_id,
        "messages": DRY_RUN_MESSAGES,
        "max_turns": 3,
        "metadata": metadata or {},
    }
    settings = ServerSettings(
        rollout_timeout=timeout,
        shutdown_grace=1.0,
        metrics=False,
        retry=RetryPolicy(max_retries=1, initial_delay=0.1, window=5.0, call_timeout=timeout),
    )
    with in_process_logs(tracebacks):
        async with local_stack(
            agent, settings, TrainerConfig(policy=make_policy("echo")), log_level="critical"
        ) as stack:
            try:
                handle = await stack.start_rollout(init)
            except InitError as exc:
                return DryRun(rollout_id, "not started"), [Finding("V020", str(exc))]
            completion = await handle.wait(timeout + 5.0)
        violations = stack.trainer.violations(rollout_id)
    return _dry_run_result(rollout_id, completion, [(v.rule, v.message) for v in violations])


def _dry_run_result(
    rollout_id: str, completion: dict[str, Any] | None, violations: list[tuple[str, str]]
) -> tuple[DryRun, list[Finding]]:
    findings = [
        Finding("V023", f"protocol violation {rule}: {message}") for rule, message in violations
    ]
    shown = [{"rule": rule, "message": message} for rule, message in violations]
    if completion is None:
        return (
            DryRun(rollout_id, "no completion", violations=shown),
            [Finding("V022", "the dry rollout sent no completion in time"), *findings],
        )
    dry = DryRun(
        rollout_id,
        str(completion.get("status")),
        completion.get("finish_reason"),
        completion.get("error_message"),
        (completion.get("extra_fields") or {}).get("error_category"),
        completion.get("metrics") or {},
        len(completion.get("final_messages") or []),
        shown,
    )
    if dry.status != "COMPLETED":
        why = f"the dry rollout ended as {dry.status} ({dry.error_category}): {dry.error}"
        findings.insert(0, Finding("V021", why))
    return dry, findings
