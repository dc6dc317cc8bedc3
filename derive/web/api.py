"""The HTTP API behind the page: networks by id, check, preview, hint, derivation, health.

Every answer is JSON. An error is {"error": one line} with its status: 400 a body that is not
the JSON expected, 404 an unknown network or gradient, 413 a body over the size limit, 429 busy
or rate-limited (with Retry-After), 500 a bug of ours (never a traceback). A check answers with
the keys of `gradproof check --json`, plus `parsed_mathml`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from derive.web.catalog import Catalog, Entry
from derive.web.limits import Busy, Gate, RateLimiter, WebLimits
from derive.web.worker import check_answer, preview_answer


class ApiError(Exception):
    """A request the API refuses: its status, one line, and for 429 the seconds to wait."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def error_response(exc: ApiError) -> JSONResponse:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)


@dataclass
class Server:
    """What every handler shares: the catalog, the limits, the gate, the buckets, the log."""

    catalog: Catalog
    limits: WebLimits
    log: IO[str] | None = None
    gate: Gate | None = None  # made at start-up, inside the event loop
    checks: RateLimiter | None = None
    previews: RateLimiter | None = None
    started: float = 0.0
    served: int = 0

    def start(self) -> None:
        self.gate = Gate(self.limits.workers, self.limits.queue)
        self.checks = RateLimiter(self.limits.checks_per_minute, self.limits.clients_tracked)
        self.previews = RateLimiter(self.limits.previews_per_minute, self.limits.clients_tracked)
        self.started = time.monotonic()


def _server(request: Request) -> Server:
    server: Server = request.app.state.server
    return server


def _entry(server: Server, network_id: str) -> Entry:
    entry = server.catalog.get(network_id)
    if entry is None:
        ids = ", ".join(list(server.catalog.entries)[:20])
        raise ApiError(404, f"no network {network_id[:80]!r}; networks: {ids}")
    return entry


def _wrt(entry: Entry, wrt: str) -> str:
    if not entry.knows(wrt):
        raise ApiError(
            404,
            f"network {entry.id!r} has no gradient with respect to {wrt[:80]!r}; "
            f"gradients: {', '.join(entry.offered)}",
        )
    return wrt


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object, read at most max_bytes (413 beyond; 400 if not an object)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise ApiError(413, f"the request body is over {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ApiError(413, f"the request body is over {max_bytes} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc.msg} at character {exc.pos + 1}") from None
    except RecursionError:
        raise ApiError(400, "the body is not JSON this API reads: nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, 'expected a JSON object: {"network": ..., "wrt": ..., "answer": ...}')
    return data


def _field(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        got = "nothing" if value is None else type(value).__name__
        raise ApiError(400, f"{key!r} must be a string, got {got}")
    return value


def _lenient(data: dict[str, Any]) -> bool:
    value = data.get("lenient", False)
    if not isinstance(value, bool):
        raise ApiError(400, f"'lenient' must be true or false, got {type(value).__name__}")
    return value


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refuse_when_full(server: Server) -> None:
    """429 before the body is even read, when no worker or place in the queue is free."""
    gate = server.gate
    if gate is not None and gate.running + gate.waiting >= gate.workers + gate.queue:
        raise ApiError(429, BUSY, 2.0)


BUSY = "the grader is busy: every worker is taken and the queue is full; try again in a few seconds"


async def _bounded_call(server: Server, limiter: RateLimiter | None, request: Request,
                        call: Any, *args: Any) -> dict[str, Any]:  # fmt: skip
    assert server.gate is not None and limiter is not None, "Server.start() was not called"
    wait = limiter.allow(_client(request))
    if wait > 0:
        raise ApiError(429, f"too many requests from you: try again in {math.ceil(wait)} s", wait)
    try:
        async with server.gate.slot():
            result: dict[str, Any] = await anyio.to_thread.run_sync(call, *args)
    except Busy:
        raise ApiError(429, BUSY, 2.0) from None
    return result


# -- handlers -------------------------------------------------------------------------------------


async def networks(request: Request) -> Response:
    server = _server(request)
    return JSONResponse({"networks": [e.summary() for e in server.catalog.entries.values()]})


async def network(request: Request) -> Response:
    entry = _entry(_server(request), request.path_params["network"])
    return JSONResponse(entry.detail)


async def graph(request: Request) -> Response:
    entry = _entry(_server(request), request.path_params["network"])
    return Response(
        entry.graph_svg,
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


async def hint(request: Request) -> Response:
    entry = _entry(_server(request), request.path_params["network"])
    wrt = _wrt(entry, request.path_params["wrt"])
    return JSONResponse(entry.hint(wrt))


async def derivation(request: Request) -> Response:
    entry = _entry(_server(request), request.path_params["network"])
    wrt = _wrt(entry, request.path_params["wrt"])
    return JSONResponse(entry.derivation_of(wrt))


async def _answer(
    request: Request, preview: bool
) -> tuple[Server, Entry, str, str, dict[str, Any]]:
    """Read a check or preview request and run it in its bounded pool."""
    server = _server(request)
    _refuse_when_full(server)
    data = await read_json(request, server.limits.body_bytes)
    entry = _entry(server, _field(data, "network"))
    wrt = _wrt(entry, _field(data, "wrt"))
    answer, lenient = _field(data, "answer"), _lenient(data)
    limits = server.limits
    pool, work, seconds = (
        (server.previews, preview_answer, limits.preview_seconds)
        if preview
        else (server.checks, check_answer, limits.check_seconds)
    )
    result = await _bounded_call(server, pool, request, work, entry, wrt, answer, lenient,
                                 seconds, limits.worker_memory_mb)  # fmt: skip
    return server, entry, wrt, answer, result


async def check(request: Request) -> Response:
    server, entry, wrt, answer, result = await _answer(request, preview=False)
    server.served += 1
    if server.log is not None:
        _log(server.log, entry.id, wrt, answer, result)
    return JSONResponse(result)


async def preview(request: Request) -> Response:
    *_, result = await _answer(request, preview=True)
    return JSONResponse(result)


async def healthz(request: Request) -> Response:
    server = _server(request)
    gate = server.gate
    return JSONResponse(
        {
            "status": "ok",
            "networks": len(server.catalog),
            "checks_served": server.served,
            "running": gate.running if gate else 0,
            "queued": gate.waiting if gate else 0,
            "workers": server.limits.workers,
            "queue": server.limits.queue,
            "uptime_s": round(time.monotonic() - server.started, 1),
        }
    )


def _log(log: IO[str], network_id: str, wrt: str, answer: str, result: dict[str, Any]) -> None:
    """One JSON line per check (ASCII, so no character of an answer can break the line)."""
    line = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "network": network_id,
        "wrt": wrt,
        "answer": answer,
        "verdict": result.get("verdict"),
        "mistake": result.get("mistake"),
        "parsed": result.get("parsed"),
        "seconds": result.get("seconds"),
    }
    log.write(json.dumps(line, ensure_ascii=True) + "\n")
    log.flush()
