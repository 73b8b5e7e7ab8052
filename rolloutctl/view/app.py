"""The viewer's Starlette app: the page shell for every page URL, the assets, the JSON API.

Every page is one HTML shell whose script reads the URL, so each page can be shared and
reloaded. Responses carry a Content-Security-Policy allowing only our own script, as a
second guard behind the script's rule of never inserting HTML.
"""

from __future__ import annotations

from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rolloutctl.view.api import ROUTES, run_of
from rolloutctl.view.sources import Catalog

__all__ = [
    "SecurityHeaders",
    "asset",
    "create_app",
    "page",
]

ASSETS = {
    "app.js": "text/javascript",
    "pages.js": "text/javascript",
    "rollout.js": "text/javascript",
    "app.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; "
     b"img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]  # fmt: skip
LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def _asset(name: str) -> bytes:
    return (resources.files("rolloutctl.view") / "static" / name).read_bytes()


async def page(request: Request) -> Response:
    """The shell of every page; 404 for a run or file the catalog does not hold."""
    if "key" in request.path_params:
        if request.url.path.startswith("/trajectory/"):
            if request.path_params["key"] not in request.app.state.catalog.files:
                raise HTTPException(404)
        else:
            run_of(request)
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8")


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        raise HTTPException(404)
    return Response(_asset(name), media_type=ASSETS[name], headers={"cache-control": "no-cache"})


class SecurityHeaders:
    """Adds HEADERS to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


def create_app(catalog: Catalog, host: str = "127.0.0.1") -> Starlette:
    """The app over `catalog`; requests must name `host` (or localhost): no DNS rebinding."""
    pages = ["/", "/run/{key}", "/run/{key}/row/{row:int}", "/run/{key}/row/{row:int}/{epoch:int}"]
    routes = [Route(path, page) for path in [*pages, "/compare", "/trajectory/{key}"]]
    routes += [Route("/static/{name}", asset)]
    routes += [Route(path, handler) for path, handler in ROUTES]
    hosts = ["*"] if host in ("0.0.0.0", "::") else [*LOCAL_HOSTS, host]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.catalog = catalog
    app.state.cache = {}
    return app
