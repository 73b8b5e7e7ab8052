"""Driving a standalone stack: `init` one rollout on a running server, `watch` a trainer."""
