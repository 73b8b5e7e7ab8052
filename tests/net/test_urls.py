"""Base URLs as people type them (httpie's rule): the scheme may be left out."""

from __future__ import annotations

import pytest

from rolloutctl.net.urls import base_url


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("127.0.0.1:9000", "http://127.0.0.1:9000"),
        (":9000", "http://localhost:9000"),
        ("example.org/", "http://example.org"),
        (" https://h:1/v1/ ", "https://h:1/v1"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_scheme_defaults_to_http(typed, meant):
    assert base_url(typed) == meant


@pytest.mark.parametrize("bad", ["ftp://host", "http://", "", "redis://h:1"])
def test_not_http_with_a_host(bad):
    with pytest.raises(ValueError, match="not an http"):
        base_url(bad)
