"""What the bench asks a server's /health around the load: is anything there before it
starts, and how many record-store round-trips it made."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from rolloutctl.net.http_pool import HttpPool

__all__ = ["check_reachable", "store_round_trips"]


async def check_reachable(server_url: str) -> None:
    """ServerUnreachable (exit 3) when nothing answers at `server_url`, before any load."""
    from rolloutctl.check.v1.requests import health

    async with httpx.AsyncClient(timeout=10.0) as http:
        await health(http, server_url.rstrip("/"))


async def store_round_trips(urls: Sequence[str]) -> int | None:
    """The record-store round-trips the servers at `urls` made so far (from /health),
    summed; None when any of them keeps its records in memory or does not say."""
    total = 0
    async with HttpPool() as pool:
        for url in urls:
            try:
                response = await pool.request(b"GET", httpx.URL(url + "/health"), timeout=10.0)
                trips = response.json()["store"]["round_trips"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                return None
            if not isinstance(trips, int):
                return None
            total += trips
    return total
