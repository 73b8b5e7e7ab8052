"""What the bench asks a server around the load: is anything there before it starts (and
does it take our key), and how many record-store round-trips it made."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from rolloutctl.errors import KeyRequired
from rolloutctl.net.http_pool import HttpPool

__all__ = ["check_key", "check_reachable", "store_round_trips"]


async def check_reachable(server_url: str) -> None:
    """ServerUnreachable (exit 3) when nothing answers at `server_url`, before any load."""
    from rolloutctl.check.v1.requests import health

    async with httpx.AsyncClient(timeout=10.0) as http:
        await health(http, server_url.rstrip("/"))


async def check_key(server_url: str, server_key: str | None) -> None:
    """KeyRequired (exit 2) when a v1 server answers 401 to `server_key` (or to none): one
    line before any load, not a run of refused inits. Other answers are the load's to meet."""
    from rolloutctl.check.base import key_hint

    url = server_url.rstrip("/") + "/v1/rollout/rolloutctl-key-probe"
    headers = {"Authorization": f"Bearer {server_key}"} if server_key else {}
    async with httpx.AsyncClient(timeout=10.0) as http:
        try:
            response = await http.get(url, headers=headers)
        except httpx.HTTPError:
            return
    if response.status_code == 401:
        raise KeyRequired(key_hint(server_url, server_key))


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
