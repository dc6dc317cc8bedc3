"""What the server lets one request and one client cost: one table, a worker gate, rate limits.

Every check and preview runs in a forked worker (`derive.limits.run_bounded`) killed at its
deadline; at most `workers` run at once and `queue` more wait, and a request beyond that is
answered at once with 429 ("busy, try again"), so a class pressing Check together cannot pile up
processes or memory. Each client (by IP address) has a token bucket per kind of request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class WebLimits:
    """The defaults; `gradproof serve --workers N --queue N --rate N ...` changes them."""

    workers: int = 2  # checks running at once, each a forked process
    queue: int = 32  # checks waiting for a worker; beyond that: 429
    check_seconds: float = 5.0  # a check's deadline (the worker is killed)
    preview_seconds: float = 2.0  # a preview's deadline
    worker_memory_mb: int = 1024  # address space one worker may add to the server
    body_bytes: int = 65_536  # a request body; beyond that: 413
    checks_per_minute: float = 30.0  # per client; 0 turns the limit off
    previews_per_minute: float = 240.0  # per client (the page previews while typing)
    clients_tracked: int = 10_000  # rate-limit buckets kept (the least recently seen dropped)

    def problems(self) -> list[str]:
        """What is out of range, as `--option value: expected ...` lines."""
        out: list[str] = []
        if not 1 <= self.workers <= 64:
            out.append(f"--workers {self.workers}: expected 1 to 64")
        if not 0 <= self.queue <= 10_000:
            out.append(f"--queue {self.queue}: expected 0 to 10000")
        if not 0 < self.check_seconds <= 600:
            out.append(f"--check-timeout {self.check_seconds:g}: expected seconds in (0, 600]")
        if not 64 <= self.worker_memory_mb <= 1_048_576:
            out.append(f"--worker-memory {self.worker_memory_mb}: expected MiB in [64, 1048576]")
        if not 1_024 <= self.body_bytes <= 10_000_000:
            out.append(f"--max-body {self.body_bytes}: expected bytes in [1024, 10000000]")
        if self.checks_per_minute < 0 or self.previews_per_minute < 0:
            out.append("--rate: expected a number of checks per minute >= 0 (0: no limit)")
        return out


class Busy(Exception):
    """Every worker is taken and the queue is full."""


class Gate:
    """At most `workers` holders at once, at most `queue` waiting; beyond that, Busy at once."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self.queue = queue
        self.running = 0
        self.waiting = 0
        self._free = asyncio.Semaphore(workers)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.running + self.waiting >= self.workers + self.queue:
            raise Busy
        self.waiting += 1
        try:
            await self._free.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._free.release()


class RateLimiter:
    """A token bucket per client: `per_minute` requests a minute, in bursts of up to a sixth of
    that (at least 1); the buckets of at most `clients` clients are kept."""

    def __init__(self, per_minute: float, clients: int) -> None:
        self.per_second = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 6.0)
        self.clients = clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> float:
        """0 if the client may go on (one token taken), else the seconds until it may."""
        if self.per_second <= 0:
            return 0.0
        t = time.monotonic() if now is None else now
        tokens, seen = self._buckets.pop(client, (self.capacity, t))
        tokens = min(self.capacity, tokens + (t - seen) * self.per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.per_second
        self._buckets[client] = (tokens, t)
        while len(self._buckets) > self.clients:
            self._buckets.popitem(last=False)
        return wait
