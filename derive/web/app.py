"""The ASGI application: the page, its script and style, the API routes, and what guards them.

The page is static (derive/web/static/) and fetches everything from the API; it loads nothing
from another site (MathML is rendered by the browser itself), so it works in a classroom without
internet. Every response carries a Content-Security-Policy allowing only this server's own
script and style; errors are JSON one-liners, never tracebacks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import IO

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from derive.web import api
from derive.web.catalog import Catalog
from derive.web.limits import WebLimits

STATIC = {  # file name -> media type: the whole of what the page loads
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
log = logging.getLogger("gradproof.web")


def _static(name: str) -> bytes:
    return resources.files("derive.web").joinpath("static", name).read_bytes()


def _page_routes() -> list[Route]:
    index = _static("index.html")
    files = {name: _static(name) for name in STATIC}

    async def page(request: Request) -> Response:
        return Response(index, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files:
            raise HTTPException(404)
        return Response(files[name], media_type=STATIC[name],
                        headers={"Cache-Control": "no-cache"})  # fmt: skip

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask for it; the page has none

    return [Route("/", page), Route("/static/{name}", static), Route("/favicon.ico", no_icon)]


class _Headers:
    """Adds SECURITY_HEADERS to every response that does not set its own (the SVG's CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, api.ApiError)
    return api.error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    words = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail)
    return JSONResponse({"error": f"{words}: {request.method} {request.url.path[:200]}"},
                        status_code=exc.status_code)  # fmt: skip


async def _bug(request: Request, exc: Exception) -> Response:
    # the server's own log says what broke; the client gets one line, no traceback
    log.error("internal error on %s %s: %s", request.method, request.url.path,
              f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
    return JSONResponse({"error": "internal error in gradproof; please report it"}, status_code=500)


def create_app(catalog: Catalog, limits: WebLimits | None = None,
               log_file: IO[str] | None = None) -> Starlette:  # fmt: skip
    """The app serving `catalog` within `limits`; each check is appended to `log_file` (JSONL)."""
    server = api.Server(catalog, limits or WebLimits(), log_file)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        server.start()
        yield

    routes = [
        *_page_routes(),
        Route("/healthz", api.healthz),
        Route("/api/networks", api.networks),
        Route("/api/networks/{network}", api.network),
        Route("/api/networks/{network}/graph.svg", api.graph),
        Route("/api/networks/{network}/gradients/{wrt}/hint", api.hint),
        Route("/api/networks/{network}/gradients/{wrt}/derivation", api.derivation),
        Route("/api/check", api.check, methods=["POST"]),
        Route("/api/preview", api.preview, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_Headers)],
        exception_handlers={api.ApiError: _api_error, HTTPException: _http_error, Exception: _bug},
        lifespan=lifespan,
    )
    app.state.server = server
    return app
