"""`rolloutctl check` against rolloutctl's own servers and against servers broken on purpose.

The broken servers are small Starlette apps written here, each breaking one rule of
PROTOCOL.md; they declare their own tools (not the calculator's), so the checks must
build tool arguments from the schemas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pexpect
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rolloutctl.agent.loader import load_example
from rolloutctl.check.base import Check, CheckOptions, CheckStatus, Verdict
from rolloutctl.check.engine import run_checks
from rolloutctl.check.results import parse_only
from rolloutctl.check.v1.adapter import V1Adapter
from rolloutctl.check.v1.names import CHECK_NAMES
from rolloutctl.check.v1.session import Session
from rolloutctl.cli.core import raw_main
from rolloutctl.errors import KeyRequired
from rolloutctl.net.http_pool import SHORT_KEEPALIVE
from rolloutctl.net.urls import base_url
from rolloutctl.protocol import InitRequest
from rolloutctl.schema.arguments import schema_instance
from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy
from tests.helpers import CLI_BOUND, refused_url, rolloutctl_bin, run_server

# A generous bound for each completion (only a broken server reaches it); a short linger,
# raised where a check must see a late second callback.
FAST: dict[str, Any] = {"timeout": 120.0, "linger": 0.3}
TOOL_CHECKS = ("tool-rollout", "max-turns", "max-tokens")


def function_tool(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": f"The {name} tool.", "parameters": parameters},
    }


LOOKUP = function_tool(
    "lookup",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "enum": ["oslo", "lima"]},
            "days": {"type": "integer", "minimum": 2, "maximum": 7},
            "options": {"$ref": "#/$defs/Options"},
        },
        "required": ["city", "days", "options"],
        "$defs": {
            "Options": {
                "type": "object",
                "properties": {"units": {"type": "string", "default": "metric"}},
                "required": ["units"],
            }
        },
    },
)
SHOUT = function_tool(
    "shout", {"type": "object", "properties": {"text": {"type": "string", "minLength": 3}}}
)
BAD_TOOL = function_tool("bad tool", {"type": "objekt"})


def run_tool(call: dict[str, Any]) -> str:
    """The broken servers' tools: they answer "Error: ..." to arguments outside the schema."""
    name, args = call["function"]["name"], json.loads(call["function"]["arguments"])
    valid = {
        "lookup": lambda: args["city"] in ("oslo", "lima") and 2 <= args["days"] <= 7
        and isinstance(args["options"]["units"], str),
        "shout": lambda: len(args.get("text", "abc")) >= 3,
    }  # fmt: skip
    try:
        return json.dumps(args) if valid[name]() else f"Error: bad arguments for {name}"
    except (KeyError, TypeError):
        return f"Error: bad arguments for {name}"


class Refused(Exception):
    pass


class BrokenServer:
    """A RolloutServer with the standard loop that breaks the rule named by `breach`."""

    def __init__(self, breach: str | None = None) -> None:
        self.breach = breach
        self.accepted: dict[str, dict[str, Any]] = {}
        self.raw_inits: dict[str, Any] = {}
        self.delivered: dict[str, dict[str, Any]] = {}
        self.tasks: set[asyncio.Task] = set()
        self.app = Starlette(
            routes=[
                Route("/health", self.health),
                Route("/v1/rollout/init", self.init, methods=["POST"]),
                Route("/v1/rollout/{rollout_id}", self.status),
            ]
        )

    async def health(self, request: Request) -> JSONResponse:
        body = {"status": "healthy", "agent": "fake", "active_rollouts": 0, "completed_rollouts": 0}
        return JSONResponse(body)

    async def init(self, request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            init = InitRequest.model_validate_json(raw)
        except ValidationError as exc:
            detail = json.loads(exc.json(include_url=False, include_input=False))
            echoed = {"received": raw.decode()} if self.breach == "echo_key_422" else {}
            return JSONResponse({"detail": detail, **echoed}, status_code=422)
        known = self.accepted.get(init.rollout_id)
        if known is not None and self.breach != "no_idempotency":
            return JSONResponse(known, status_code=202)
        tools = [LOOKUP, SHOUT, *([BAD_TOOL] if self.breach == "bad_tool_schema" else [])]
        body = self.accepted[init.rollout_id] = {"rollout_id": init.rollout_id, "tools": tools}
        self.raw_inits[init.rollout_id] = json.loads(raw)
        task = asyncio.create_task(self.run(init))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return JSONResponse(body, status_code=202)

    async def status(self, request: Request) -> JSONResponse:
        init = self.raw_inits.get(request.path_params["rollout_id"])
        if self.breach != "status_leaks_key" or init is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        rollout_id = request.path_params["rollout_id"]
        payload = self.delivered.get(rollout_id)
        return JSONResponse({"state": "completed", "init": init, "payload": payload})

    async def run(self, init: InitRequest) -> None:
        key = None if self.breach == "no_bearer" else init.key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        messages = list(init.messages)
        metrics = {"num_llm_calls": 0, "num_tool_calls": 0, "response_tokens": 0}
        payload: dict[str, Any] = {"rollout_id": init.rollout_id, "status": "COMPLETED"}
        async with httpx.AsyncClient(timeout=30, limits=SHORT_KEEPALIVE) as client:
            try:
                finish = await self.loop(client, init, headers, messages, metrics)
            except Refused:
                finish, payload["status"] = "error", "ERROR"
                payload["error_message"] = "the trainer refused a chat call"
                payload["extra_fields"] = {"error_category": "trainer_client_error"}
            payload.update(final_messages=messages, finish_reason=finish, metrics=metrics)
            self.delivered[init.rollout_id] = payload
            for _ in range(2 if self.breach == "double_completion" else 1):
                with contextlib.suppress(Refused):
                    await self.post(
                        client, init.base_url + "/v1/rollout/completed", payload, headers
                    )

    async def loop(self, client, init: InitRequest, headers, messages: list, metrics: dict) -> str:
        defaults = {"temperature": 1.0} if self.breach == "temperature_default" else {}
        while True:
            sent = messages
            if self.breach == "rewrite_history" and metrics["num_llm_calls"]:
                sent = [{**messages[0], "content": "rewritten"}, *messages[1:]]
            body = {**defaults, **init.completion_params, "model": "default",
                    "rollout_id": init.rollout_id, "messages": sent}  # fmt: skip
            reply = await self.post(client, init.base_url + "/v1/chat/completions", body, headers)
            choice = reply["choices"][0]
            messages.append(choice["message"])
            metrics["num_llm_calls"] += 1
            metrics["response_tokens"] += reply.get("usage", {}).get("completion_tokens", 0)
            over_budget = metrics["response_tokens"] >= init.max_tokens_total
            if over_budget and self.breach != "ignore_max_tokens":
                return "max_tokens"
            calls = choice["message"].get("tool_calls") or []
            if not calls:
                return choice.get("finish_reason") or "stop"
            for call in calls:
                messages.append(
                    {"role": "tool", "content": run_tool(call), "tool_call_id": call["id"]}
                )
            metrics["num_tool_calls"] += len(calls)
            if metrics["num_llm_calls"] >= init.max_turns and self.breach != "ignore_max_turns":
                return "max_turns"

    async def post(self, client, url: str, body: dict, headers: dict) -> dict[str, Any]:
        for attempt in range(4):
            try:
                response = await client.post(url, json=body, headers=headers)
            except httpx.TransportError:  # retried too (PROTOCOL.md): on a crowded machine a
                if attempt == 3:  # reused connection can be closed by the trainer as we send
                    raise
                await asyncio.sleep(0.05)
                continue
            if response.status_code < 300:
                return response.json()
            retryable = response.status_code >= 500 or self.breach == "retry_4xx"
            if not retryable or attempt == 3 or self.breach == "no_retry":
                break
            await asyncio.sleep(0.05)
        raise Refused(response.status_code)


@contextlib.contextmanager
def broken_server(breach: str | None = None) -> Iterator[str]:
    with run_server(BrokenServer(breach).app) as url:
        yield url


def check(url: str, *only: str, **options: Any) -> dict[str, tuple[str, str]]:
    """Run the checks in this process; {name: (status, reason)}."""
    report = asyncio.run(
        run_checks(V1Adapter(), url, CheckOptions(only=only, **{**FAST, **options}))
    )
    results = {r.name: (r.status.value, r.reason) for r in report.results}
    assert all("rk-check-" not in reason for _, reason in results.values())  # the secret
    return results


def test_schema_instance_fits_the_schema():
    assert schema_instance(LOOKUP["function"]["parameters"]) == {
        "city": "oslo",
        "days": 2,
        "options": {"units": "metric"},
    }
    assert schema_instance({"type": "object", "properties": {"x": {"type": "number"}}}) == {}
    assert schema_instance({"type": "integer", "minimum": 1.5}) == 2
    assert schema_instance({"type": "integer", "exclusiveMaximum": 1}) == 0
    assert schema_instance({"type": "number", "exclusiveMinimum": 0, "maximum": 0.5}) == 0.5
    assert schema_instance({"type": "number", "minimum": 5, "multipleOf": 4}) == 8
    assert schema_instance({"type": "array", "items": {"type": "boolean"}, "minItems": 2}) == [
        False,
        False,
    ]
    assert schema_instance({"anyOf": [{"type": "null"}, {"type": "string"}]}) is None
    assert schema_instance({"type": ["null", "string"], "minLength": 3}) == "xxx"
    assert schema_instance({"type": "string", "format": "date"}) == "2024-01-01"
    merged = {"allOf": [{"properties": {"a": {"const": 3}}, "required": ["a"]},
                        {"properties": {"b": {"type": "string"}}, "required": ["b"]}]}  # fmt: skip
    assert schema_instance(merged) == {"a": 3, "b": "x"}


def test_check_names_and_urls_are_validated():
    assert parse_only(" bearer,health,bearer ", CHECK_NAMES) == ("bearer", "health")
    assert parse_only(None, CHECK_NAMES) == ()
    with pytest.raises(ValueError, match="unknown check"):
        parse_only("bearer,nope", CHECK_NAMES)
    assert base_url("http://h:1/base/") == "http://h:1/base"
    with pytest.raises(ValueError):
        base_url("ftp://h")


def test_trainer_scripts_one_rollout_and_leaves_the_others_to_the_policy():
    trainer = MockTrainer(TrainerConfig(policy=make_policy("echo")))
    trainer.plan_rollout("r1", [503, {"role": "assistant", "content": "scripted"}], [503])
    with pytest.raises(ValueError):
        trainer.plan_rollout("r2", [200])
    with run_server(trainer.app) as url, httpx.Client(base_url=url) as client:
        chat: dict[str, Any] = {"rollout_id": "r1", "messages": [{"role": "user", "content": "hi"}]}
        codes = [client.post("/v1/chat/completions", json=chat) for _ in range(2)]
        assert [r.status_code for r in codes] == [503, 200]
        scripted = codes[1].json()["choices"][0]["message"]
        assert scripted["content"] == "scripted"
        chat["messages"] += [scripted, {"role": "user", "content": "again"}]
        then = client.post("/v1/chat/completions", json=chat).json()
        assert then["choices"][0]["message"]["content"] == "again"  # the policy's turn
        other = {"rollout_id": "r2", "messages": [{"role": "user", "content": "hi"}]}
        answer = client.post("/v1/chat/completions", json=other).json()
        assert answer["choices"][0]["message"]["content"] == "hi"
        done = {"rollout_id": "r1", "status": "COMPLETED", "final_messages": [],
                "finish_reason": "stop", "metrics": {}}  # fmt: skip
        posts = [client.post("/v1/rollout/completed", json=done).status_code for _ in range(2)]
    assert posts == [503, 200] and trainer.completions["r1"] == done


def test_rolloutctl_calculator_server_passes_every_check_via_the_binary(start_server):
    url = start_server()
    result = subprocess.run([rolloutctl_bin(), "check", url, "--plain", "--timeout", "120"],
                            capture_output=True, text=True, timeout=CLI_BOUND)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [["PASS", name] for name in CHECK_NAMES]
    assert "conformant (17 passed, 0 failed, 0 skipped, 0 extension(s) not offered)" in lines[-1]


def test_rolloutctl_echo_server_passes_with_tool_checks_skipped(start_server, capsys):
    url = start_server(load_example("echo"), api_key="inbound-key-5b1")
    assert raw_main(["check", url, "--json", "--server-key", "inbound-key-5b1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["url"] == url and report["passed"] is True
    assert report["counts"] == {"PASS": 14, "FAIL": 0, "ADVISORY": 0, "WARN": 0, "SKIP": 3,
                                "EXTENSION": 0, "ERROR": 0}  # fmt: skip
    assert report["advisories"] == [] and report["conformant"] is True
    rows = {row["name"]: row for row in report["checks"]}
    assert list(rows) == list(CHECK_NAMES)
    for name, row in rows.items():
        expected = "SKIP" if name in TOOL_CHECKS else "PASS"
        assert row["status"] == expected, row
    assert rows["tool-rollout"]["reason"] == "server declares no tools"


def test_a_table_in_a_terminal(start_server):
    child = pexpect.spawn(rolloutctl_bin(), ["check", start_server(), "--only", "health,bearer"],
                          encoding="utf-8", timeout=CLI_BOUND, dimensions=(40, 140))  # fmt: skip
    for pattern in ("check", "result", "reason", "health", "PASS", "bearer", "conformant"):
        child.expect(pattern)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_exit_statuses_for_usage_and_unreachable_servers(capsys):
    assert raw_main(["check", "not a url"]) == 2
    assert raw_main(["check", "http://127.0.0.1:9", "--only", "health,nope"]) == 2
    with refused_url() as url:
        assert raw_main(["check", url]) == 3
    assert "cannot reach" in capsys.readouterr().err


def test_a_server_that_keeps_the_rules_passes_and_lacks_only_the_extension():
    with broken_server() as url:
        results = check(url)
    statuses = {name: status for name, (status, _) in results.items()}
    expected = {name: "PASS" for name in CHECK_NAMES} | {"status-endpoint": "EXTENSION"}
    assert statuses == expected, {n: r for n, r in results.items() if statuses[n] != expected[n]}
    assert "lookup, shout" in results["tool-rollout"][1]
    assert "note" not in results["tool-rollout"][1]  # the arguments fit the schemas


async def unauthorized(request: Request) -> JSONResponse:
    return JSONResponse({"detail": "missing or wrong Authorization bearer key"}, status_code=401)


def test_a_server_that_wants_a_key_gets_one_hint_instead_of_a_wall_of_401s(capsys):
    app = Starlette(routes=[Route("/health", BrokenServer().health),
                            Route("/v1/rollout/init", unauthorized, methods=["POST"])])  # fmt: skip
    with run_server(app) as url:
        with pytest.raises(KeyRequired, match="wants its inbound key; give it with --server-key"):
            check(url, "init-tools")
        assert raw_main(["check", url, "--plain"]) == 2
        assert raw_main(["check", url, "--plain", "--server-key", "not-this-one"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("401") == 2, captured
    assert "--server-key" in captured.err.splitlines()[0]
    assert "to the key given with --server-key" in captured.err.splitlines()[1]
    assert "not-this-one" not in captured.err


async def buggy_check(session: Session) -> Verdict:
    bug: dict[str, Verdict] = {}
    return bug["b"]  # a bug in rolloutctl: KeyError


async def broken_connection(session: Session) -> Verdict:
    raise httpx.RemoteProtocolError("the server closed the connection mid-answer")


class BuggyAdapter(V1Adapter):
    checks: ClassVar[dict[str, Check[Any]]] = {
        **V1Adapter.checks,
        "init-defaults": buggy_check,
        "idempotency": broken_connection,
    }


def test_a_bug_in_rolloutctl_is_an_internal_error_never_the_servers_fail():
    only = ("init-defaults", "idempotency", "bearer")
    with broken_server() as url:
        report = asyncio.run(run_checks(BuggyAdapter(), url, CheckOptions(only=only, **FAST)))
    rows = {r.name: r for r in report.results}
    assert rows["init-defaults"].status is CheckStatus.ERROR
    assert rows["init-defaults"].reason.startswith("internal error in rolloutctl (its bug")
    assert "KeyError" in rows["init-defaults"].reason
    assert rows["idempotency"].status is CheckStatus.FAIL  # what the server's connection did
    assert rows["bearer"].status is CheckStatus.PASS  # the other checks go on
    assert report.exit_status == 4 and not report.passed


@pytest.mark.parametrize(
    ("breach", "name", "because"),
    [
        ("rewrite_history", "tool-rollout", "history_not_append_only"),
        ("no_bearer", "bearer", "bearer_missing"),
        ("temperature_default", "completion-params", "adds temperature"),
        ("no_idempotency", "idempotency", "a repeated init started a new rollout"),
        ("ignore_max_turns", "max-turns", "max_turns_exceeded"),
        ("ignore_max_tokens", "max-tokens", "max_tokens"),
        ("retry_4xx", "chat-4xx", "retried after a 400"),
        ("no_retry", "chat-503-retry", "no retry after a 503"),
        ("double_completion", "no-tool-rollout", "delivered 2 times"),
        ("bad_tool_schema", "init-tools", "'bad tool'"),
    ],
)
def test_each_breach_is_caught_by_its_check(breach, name, because):
    linger = {"linger": 5.0} if breach == "double_completion" else {}  # the second post is late
    with broken_server(breach) as url:
        status, reason = check(url, name, **linger)[name]
    assert status == "FAIL" and because in reason, reason


@pytest.mark.parametrize(
    ("breach", "name", "because"),
    [
        ("echo_key_422", "bad-init-422", "echoes the api_key"),
        ("status_leaks_key", "status-endpoint", "api_key"),
    ],
)
def test_a_secret_echoed_is_a_security_advisory_failing_only_under_strict(
    breach, name, because, capsys
):
    with broken_server(breach) as url:
        assert raw_main(["check", url, "--only", name, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert raw_main(["check", url, "--only", name, "--plain", "--strict"]) == 1
    row = report["checks"][0]
    assert row["status"] == "ADVISORY" and because in row["reason"], row
    assert report["advisories"] == [row] and report["passed"] and report["conformant"]
    out = capsys.readouterr().out
    assert out.startswith("ADVISORY") and "--strict fails advisories" in out.splitlines()[-1]
