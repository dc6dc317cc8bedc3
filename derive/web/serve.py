"""`gradproof serve`: load the networks, then run the app with uvicorn until interrupted.

The server itself is not run under `run_bounded` (it runs until stopped); each check it makes is.
It listens on 127.0.0.1 unless told otherwise, and says so when it listens on another address.
"""

from __future__ import annotations

import argparse
import socket
import sys
import warnings
from pathlib import Path
from typing import IO

from derive.errors import GradproofError
from derive.limits import Limits
from derive.web.limits import WebLimits

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_D = WebLimits()


def add_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser(
        "serve",
        help="serve the practice page: pick a network and a gradient, type it, get the verdict",
        description=(
            "Serve a practice page and its HTTP API (needs the web extra:\n"
            "pip install 'gradproof[web]'). With no SPEC, the bundled examples.\n"
            "Each check runs in a forked worker killed at its deadline; at most --workers run\n"
            "at once and --queue wait, beyond that the answer is 429 (busy, try again)."
        ),
        epilog=(
            "API: GET /api/networks, GET /api/networks/ID, POST /api/check, POST /api/preview,\n"
            "GET /api/networks/ID/gradients/NAME/hint and .../derivation, GET /healthz.\n"
            "Rate limits are per client IP address: behind a reverse proxy every student\n"
            "shares the proxy's address, so raise --rate there."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("specs", metavar="SPEC", nargs="*", help="network spec files to offer")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    s.add_argument("--log", metavar="FILE", help="append each check (answer, verdict) as JSONL")
    s.add_argument("--workers", type=int, default=_D.workers,
                   help=f"checks running at once (default {_D.workers})")  # fmt: skip
    s.add_argument("--queue", type=int, default=_D.queue,
                   help=f"checks waiting for a worker before 429 (default {_D.queue})")  # fmt: skip
    s.add_argument("--check-timeout", type=float, default=_D.check_seconds, metavar="S",
                   help=f"seconds per check (default {_D.check_seconds:g})")  # fmt: skip
    s.add_argument("--worker-memory", type=int, default=_D.worker_memory_mb, metavar="MB",
                   help="address space one worker may add, MiB (default "
                   f"{_D.worker_memory_mb})")  # fmt: skip
    s.add_argument("--rate", type=float, default=_D.checks_per_minute, metavar="N",
                   help=f"checks per minute per client, 0 for no limit (default "
                   f"{_D.checks_per_minute:g}; previews: 8 times that)")  # fmt: skip
    s.add_argument("--max-body", type=int, default=_D.body_bytes, metavar="BYTES",
                   help=f"largest request body (default {_D.body_bytes})")  # fmt: skip
    s.set_defaults(run=run_serve, unbounded=True)


def web_limits(args: argparse.Namespace) -> WebLimits:
    limits = WebLimits(
        workers=args.workers,
        queue=args.queue,
        check_seconds=args.check_timeout,
        preview_seconds=min(args.check_timeout, _D.preview_seconds),
        worker_memory_mb=args.worker_memory,
        body_bytes=args.max_body,
        checks_per_minute=args.rate,
        previews_per_minute=8 * args.rate,
    )
    problems = limits.problems()
    if not 0 <= args.port < 65536:
        problems.append(f"--port {args.port}: expected 0 (any free port) to 65535")
    if problems:
        raise GradproofError(problems[0])
    return limits


def run_serve(args: argparse.Namespace, limits: Limits) -> int:
    try:
        import uvicorn

        from derive.web.app import create_app
        from derive.web.catalog import bundled_examples, load_catalog
    except ImportError as exc:
        raise GradproofError(
            f"serve needs the web extra ({exc.name} is not installed): pip install 'gradproof[web]'"
        ) from None
    settings = web_limits(args)
    paths = [Path(p) for p in args.specs] or bundled_examples()
    catalog = load_catalog(paths, limits)
    listener = _listen(args.host, args.port)
    log_file: IO[str] | None = None
    if args.log:
        try:
            log_file = open(args.log, "a", encoding="utf-8")  # noqa: SIM115 (open while serving)
        except OSError as exc:
            raise GradproofError(f"--log {args.log}: cannot open it ({exc.strerror})") from None
    # each check forks from a thread of the server: the child only grades and exits with
    # os._exit, touching no lock another thread may hold, so Python's warning does not apply
    warnings.filterwarnings(
        "ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning
    )
    port = listener.getsockname()[1]  # --port 0: the one the system chose
    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{port}/"
    print(f"gradproof: serving {len(catalog)} networks on {where}", file=sys.stderr, flush=True)
    if args.host not in LOOPBACK:
        print("gradproof: warning: listening beyond this machine: anyone who can reach "
              f"{args.host} can use the page", file=sys.stderr, flush=True)  # fmt: skip
    config = uvicorn.Config(create_app(catalog, settings, log_file), log_level="warning",
                            access_log=False, server_header=False)  # fmt: skip
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()
        if log_file is not None:
            log_file.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one line saying why there cannot be one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(1024)
    except OSError as exc:
        raise GradproofError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})"
        ) from None
    return listener
