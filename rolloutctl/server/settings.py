"""Server settings: one frozen object, built by the CLI or by Python callers alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from rolloutctl.server.retry import RetryPolicy

__all__ = ["ServerSettings"]


@dataclass(frozen=True)
class ServerSettings:
    """How a RolloutServer runs; defaults are docs/protocol.md's "Defaults a server starts with"."""

    max_concurrent: int = 100
    max_queue: int = 10_000
    rollout_timeout: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    record_ttl: float = 3600.0
    max_records: int = 100_000
    shutdown_grace: float = 10.0
    api_key: str | None = field(default=None, repr=False)
    allow_callback_hosts: tuple[str, ...] = ()
    max_init_bytes: int = 16 * 1024 * 1024  # larger init bodies get 413, unread
    max_record_bytes: int = 1024 * 1024  # a kept completion past this is truncated
    # None: records in memory; a Redis URL: records shared by every replica using it
    store: str | None = field(default=None, repr=False)  # the URL may hold a password
    store_prefix: str = "rolloutctl"
    heartbeat_interval: float = 10.0  # how often a replica tells the store it is alive
    owner_timeout: float = 60.0  # a replica silent this long is lost: its rollouts rescued
    metrics: bool = True  # GET /metrics (Prometheus)
    metrics_public: bool = False  # /metrics without the inbound key
    otel: bool = False  # traces even without an OTEL_EXPORTER_OTLP_*ENDPOINT variable
    otel_endpoint: str | None = None  # the OTLP/HTTP traces URL, instead of the variables'
    otel_queue: int = 8192  # spans waiting for export; past it they are dropped (and counted)

    def callback_host_allowed(self, host: str) -> bool:
        """Exact hosts, or `*.example.com` for any subdomain; an empty list allows all."""
        if not self.allow_callback_hosts:
            return True
        host = host.lower().rstrip(".")
        for allowed in self.allow_callback_hosts:
            allowed = allowed.lower()
            if host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])):
                return True
        return False
