"""Secrets masked as whole tokens, padded or not, wherever they come back."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from rolloutctl.redaction import mask, one_line
from tests.helpers import init_body, post_init, run_cli, run_server

CANARY = "sk-pad-canary-41"


def test_a_short_key_is_masked_as_a_word_never_inside_words():
    text = "Authorization bearer key a; a"
    assert mask(text, "a") == "Authorization bearer key ***; ***"


def test_the_exact_key_and_its_stripped_form_are_masked():
    text = f'Bearer {CANARY}, "{CANARY}", x={CANARY}&y=1 {CANARY}s x{CANARY}'
    masked = one_line(text, f"  {CANARY} ")
    assert masked == 'Bearer ***, "***", x=***&y=1 ' + f"{CANARY}s x{CANARY}"
    assert mask({"a": [f" {CANARY} "]}, f" {CANARY} ") == {"a": [" *** "]}


def test_a_padded_api_key_never_leaks_from_a_trainer_that_echoes_it(trainer, start_server, caplog):
    trainer.script("r1", (400, {"detail": f"bad key {CANARY}"}))
    server = start_server()
    with caplog.at_level(logging.DEBUG):
        post_init(server, init_body(trainer, api_key=f" {CANARY} "))
        done = trainer.wait("r1")
    status = httpx.get(f"{server}/v1/rollout/r1").text
    assert done["extra_fields"]["error_category"] == "trainer_client_error"
    assert "bad key ***" in done["error_message"]
    for seen in (str(done), status, caplog.text):
        assert CANARY not in seen


def echoing_server(mode: str) -> Starlette:
    """A RolloutServer that refuses the init and echoes the Authorization header back."""

    async def init(request: Request):
        header = request.headers.get("authorization", "")
        token = header.partition(" ")[2]
        if mode == "json":
            return JSONResponse({"detail": f"wrong key: {header}"}, status_code=401)
        if mode == "stripped":
            return JSONResponse({"detail": {"token": token.strip()}}, status_code=403)
        return PlainTextResponse(f"no: {header}", status_code=401)

    return Starlette(routes=[Route("/v1/rollout/init", init, methods=["POST"])])


@pytest.mark.parametrize("mode", ["json", "stripped", "text"])
def test_try_masks_the_server_key_that_a_server_echoes(mode):
    with run_server(echoing_server(mode)) as url:
        result = run_cli("try", "--server-url", url, "--server-key", CANARY, "--plain")
    assert result.returncode == 1
    assert "***" in result.stdout + result.stderr
    assert CANARY not in result.stdout + result.stderr
