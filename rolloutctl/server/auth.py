"""The inbound key: `Authorization: Bearer <key>` on a request to a server that has one.

Init and /metrics check it in `ServerCore`, outside FastAPI; every other route
through `app.InboundKeyMiddleware`. Both use `bearer_ok`, so they agree.
"""

from __future__ import annotations

import hmac

from starlette.types import Scope

__all__ = ["bearer_ok"]


def bearer_ok(scope: Scope, expected: bytes | None) -> bool:
    """Whether the request carries the inbound key (always, when the server has none).

    `expected` is the key itself; the scheme name is case-insensitive (RFC 7235) and
    the key is compared in constant time.
    """
    if expected is None:
        return True
    given = dict(scope["headers"]).get(b"authorization", b"")
    scheme, _, token = given.partition(b" ")
    return hmac.compare_digest(token, expected) and scheme.lower() == b"bearer"
