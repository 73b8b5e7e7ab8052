"""Seeing into a running server: Prometheus metrics, OpenTelemetry traces, loop lag.

Each app gets its own `CollectorRegistry`, so servers and trainers that share a
process (tests, `try`) never count into each other's figures.
"""
