"""The mock trainer's GET /metrics: chat calls, completions, violations by rule, policy time."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from rolloutctl.trainer import MockTrainer, TrainerConfig, make_policy
from tests.trainer.serving import USER, chat, completed, serving


def samples(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "replica"))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_the_trainer_counts_what_it_answered_and_what_it_found_wrong():
    config = TrainerConfig(policy=make_policy("echo"), metrics=True)
    with serving(MockTrainer(config)) as client:
        first = chat(client, "r1", USER).json()["choices"][0]["message"]
        chat(client, "r1", [*USER, first, {"role": "user", "content": "again"}])
        client.post("/v1/chat/completions", json={"model": "m", "messages": USER})  # no id
        assert client.post("/v1/chat/completions", content=b"[]").status_code == 400
        final = [*USER, first]
        assert client.post("/v1/rollout/completed", json=completed("r1", final)).status_code == 200
        found = samples(client)
    assert found[("rolloutctl_trainer_chat_calls_total", (("status", "200"),))] == 3
    assert found[("rolloutctl_trainer_completions_total", (("status", "200"),))] == 1
    rule = (("rule", "chat_without_rollout_id"),)
    assert found[("rolloutctl_trainer_violations_total", rule)] == 1
    assert found[("rolloutctl_trainer_violations_total", (("rule", "body_not_json"),))] == 1
    policy = (("policy", "echo"),)
    assert found[("rolloutctl_trainer_policy_duration_seconds_count", policy)] == 3


def test_a_trainer_without_metrics_has_no_route():
    with serving(MockTrainer(TrainerConfig(policy=make_policy("echo")))) as client:
        assert client.get("/metrics").status_code == 404
