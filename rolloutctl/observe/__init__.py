"""Seeing into a running server: the rollout hooks, Prometheus metrics, OpenTelemetry traces.

`hooks.RolloutObserver` is the interface the server calls at each point of a
rollout; the rest of the package implements it (and the trainer's counters).

Each app gets its own `CollectorRegistry`, so servers and trainers that share a
process (tests, `try`) never count into each other's figures.
"""
