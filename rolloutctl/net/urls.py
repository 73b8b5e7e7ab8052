"""Base URLs as people type them: `127.0.0.1:9000` and `:9000` mean http, as in httpie."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["base_url"]


def base_url(url: str) -> str:
    """`url` without a trailing slash, `http://` added when it has no scheme and `localhost`
    when it starts at the port; ValueError unless it is http(s) with a host."""
    typed = url.strip()
    url = typed if "://" in typed else f"http://{'localhost' if typed[:1] == ':' else ''}{typed}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in parts.netloc:
        raise ValueError(f"not an http(s) URL with a host: {typed!r}")
    return url.rstrip("/")
