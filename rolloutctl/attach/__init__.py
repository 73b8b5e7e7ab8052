"""Attaching to processes already running: `init` one rollout on a running server, `watch` a
running mock trainer (the stack of `serve` and `mock-trainer` in two terminals)."""
