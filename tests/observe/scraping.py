"""Reading a server's /metrics in tests, with prometheus-client's own parser, and the
inits the metric tests send."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families


def families(server: str, **headers: str) -> list:
    """The metric families of /metrics, read with prometheus-client's own parser."""
    response = httpx.get(f"{server}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return list(text_string_to_metric_families(response.text))


def scrape(server: str, **headers: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, keyed by (sample name, its labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families(server, **headers)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    """The one sample `name` whose labels include `labels` (0 when there is none)."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, f"{name} {labels} matches {len(found)} samples"
    return found[0] if found else 0.0


def wait_for(server: str, name: str, wanted: float, **labels: str) -> dict:
    """Scrape until `name` reaches `wanted` (a rollout's last counts follow its delivery)."""
    deadline = time.monotonic() + 60
    while True:
        samples = scrape(server)
        if value(samples, name, **labels) >= wanted or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def init(trainer, rollout_id: str, **extra) -> dict:
    body = {"rollout_id": rollout_id, "server_url": trainer.url}
    body["messages"] = [{"role": "user", "content": "What is 5 + 3?"}]
    return {**body, **extra}


def post(server: str, body: object, **kwargs) -> httpx.Response:
    return httpx.post(f"{server}/v1/rollout/init", json=body, timeout=30, **kwargs)
