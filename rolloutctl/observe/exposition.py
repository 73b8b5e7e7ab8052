"""GET /metrics: a registry in the Prometheus text format, as a raw ASGI answer."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["send_metrics"]


async def send_metrics(registry: CollectorRegistry, send: Any) -> None:
    """Answer 200 with every series of `registry`, read now."""
    body = generate_latest(registry)
    headers = [
        (b"content-type", CONTENT_TYPE_LATEST.encode()),
        (b"content-length", b"%d" % len(body)),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
