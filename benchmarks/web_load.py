"""Load on `gradproof serve`: 200 concurrent checks, hostile answers among them, on loopback.

    .venv/bin/python benchmarks/web_load.py [--concurrent 200] [--quick] [--out FILE]

Starts the server on 127.0.0.1 (a free port, rate limits off, the default 2 workers) once with
the default queue (32: most of a burst of 200 is told 429 "busy") and once with a queue that
holds the whole burst (every answer gets a verdict). Each run fires the burst at once from one
client and checks that every request is answered (a verdict or 429), that the server is still
healthy afterwards, and how much memory the server and its workers held (sampled every 20 ms
from /proc). The baseline in the same run: the same checks sent one at a time (median).
Prints JSON; latencies in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPECS = [ROOT / "examples" / f"{name}.toml" for name in ("seed_example2", "two_sigmoid_layers")]
# (network, wrt, answer, kind): ordinary answers and answers meant to hurt
ANSWERS: list[tuple[str, str, str, str]] = [
    ("seed_example2", "W2", r"2(\hat{y}-y)z^T", "correct"),
    ("seed_example2", "W2", r"2 z (\hat{y}-y)^T", "incorrect"),
    ("seed_example2", "W1", r"2 (W^{(2)})^T (\hat{y}-y) x^T", "correct"),
    ("seed_example2", "W1", r"4 (W^{(2)})^T (\hat{y}-y) x^T", "incorrect"),
    (
        "two_sigmoid_layers",
        "W1",
        r"((W^{(2)})^T \frac{\partial J}{\partial a^{(2)}} \odot h^{(1)}) x^T",
        "incorrect",
    ),
    ("seed_example2", "W2", "(" * 149 + "z" + ")" * 149, "hostile: deep nesting"),
    ("seed_example2", "W2", "z^T" * 6_000 + "x", "hostile: 18,000 characters"),
    ("seed_example2", "W2", " + ".join([r"2(\hat{y}-y)z^T"] * 1_000), "hostile: 1,000 terms"),
    ("seed_example2", "W2", r"\frac{" * 60 + "1" + "}{2}" * 60, "hostile: nested fractions"),
    (
        "seed_example2",
        "W2",
        r"2(\hat{y}-y)z^T \odot \exp(\exp(\exp(\exp(\hat{y} z^T))))",
        "hostile: overflow",
    ),
    ("seed_example2", "W2", "\u202e\x00\ud7ff" * 500 + r"\input{/etc/passwd}", "hostile: junk"),
    ("seed_example2", "W2", "x" * 30_000, "hostile: over the reader's limit"),
]


def start_server(queue: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "derive.cli", "serve", *map(str, SPECS), "--port", "0",
         "--rate", "0", "--queue", str(queue)],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    url = m.group(1)
    for _ in range(200):
        try:
            if healthz(url)["status"] == "ok":
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not answer /healthz")


def rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else 0.0


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        kids: list[int] = []
        for task in Path(f"/proc/{p}/task").glob("*"):  # a worker is a child of the thread
            try:  # that forked it
                kids += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        out += kids
        todo += kids
    return out


class MemorySampler(threading.Thread):
    """The server's RSS, and the RSS and count of its workers, every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.server_max = 0.0
        self.total_max = 0.0
        self.workers_max = 0

    def run(self) -> None:
        while not self.stop.is_set():
            server = rss_mb(self.pid)
            kids = descendants(self.pid)
            self.server_max = max(self.server_max, server)
            self.total_max = max(self.total_max, server + sum(rss_mb(k) for k in kids))
            self.workers_max = max(self.workers_max, len(kids))
            time.sleep(0.02)


async def request(url: str, path: str, body: dict[str, str] | None) -> tuple[int, bytes]:
    """One HTTP/1.1 request on its own connection: (status, body).

    A plain asyncio client rather than httpx: with 200 connections at once httpx's own pool
    took 0.5 to 3 s per request to /healthz on this machine, where the server answers in 73 ms.
    """
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    data = json.dumps(body).encode() if body is not None else b""
    method = "POST" if body is not None else "GET"
    head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")  # fmt: skip
    writer.write(head.encode() + data)
    await writer.drain()
    response = await reader.read()
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split(b" ", 2)[1]), rest.partition(b"\r\n\r\n")[2]


async def one(url: str, case: tuple[str, str, str, str]) -> dict[str, Any]:
    network, wrt, answer, kind = case
    start = time.perf_counter()
    try:
        status, body = await request(
            url, "/api/check", {"network": network, "wrt": wrt, "answer": answer}
        )
        verdict = json.loads(body).get("verdict") if status == 200 else None
    except (OSError, ValueError, IndexError) as exc:
        status, verdict = 0, type(exc).__name__
    return {"kind": kind, "status": status, "verdict": verdict,
            "ms": (time.perf_counter() - start) * 1000}  # fmt: skip


async def burst(url: str, n: int) -> list[dict[str, Any]]:
    cases = [ANSWERS[i % len(ANSWERS)] for i in range(n)]
    return list(await asyncio.gather(*(one(url, c) for c in cases)))


async def sequential(url: str, rounds: int) -> list[dict[str, Any]]:
    return [await one(url, c) for _ in range(rounds) for c in ANSWERS]


def healthz(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "healthz", timeout=5) as r:
        data: dict[str, Any] = json.loads(r.read())
    return data


def quantiles(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {}
    ordered = sorted(ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": round(statistics.median(ordered), 1), "p95": round(pick(0.95), 1),
            "max": round(ordered[-1], 1)}  # fmt: skip


def run(queue: int, n: int, rounds: int) -> dict[str, Any]:
    proc, url = start_server(queue)
    try:
        before = rss_mb(proc.pid)
        asyncio.run(sequential(url, 1))  # warm-up: every code path loaded once
        alone = asyncio.run(sequential(url, rounds))
        sampler = MemorySampler(proc.pid)
        sampler.start()
        started = time.perf_counter()
        results = asyncio.run(burst(url, n))
        wall = time.perf_counter() - started
        time.sleep(0.2)
        sampler.stop.set()
        sampler.join()
        healthy = healthz(url)
        after = rss_mb(proc.pid)
        leftover = len(descendants(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    answered = [r for r in results if r["status"] in (200, 429)]
    graded = [r for r in results if r["status"] == 200]
    baseline = statistics.median(r["ms"] for r in alone if r["status"] == 200)
    by_kind: dict[str, Counter[str]] = {}
    for r in results:
        by_kind.setdefault(r["kind"], Counter())[str(r["verdict"] or r["status"])] += 1
    p50 = quantiles([r["ms"] for r in graded]).get("p50", 0.0)
    return {
        "queue": queue,
        "concurrent": n,
        "answered": len(answered),
        "all_answered": len(answered) == n,
        "status": dict(Counter(str(r["status"]) for r in results)),
        "verdicts": dict(Counter(str(r["verdict"]) for r in graded)),
        "by_kind": {k: dict(v) for k, v in by_kind.items()},
        "latency_ms_all": quantiles([r["ms"] for r in results]),
        "latency_ms_graded": quantiles([r["ms"] for r in graded]),
        "latency_ms_429": quantiles([r["ms"] for r in results if r["status"] == 429]),
        "baseline_ms_one_at_a_time": round(baseline, 1),
        "graded_p50_over_baseline": round(p50 / baseline, 2) if baseline else None,
        "burst_seconds": round(wall, 2),
        "healthy_after": healthy.get("status") == "ok",
        "workers_left_after": leftover,
        "server_rss_mb": {
            "before": round(before, 1),
            "max": round(sampler.server_max, 1),
            "after": round(after, 1),
        },
        "server_and_workers_rss_mb_max": round(sampler.total_max, 1),
        "workers_max": sampler.workers_max,
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="one sequential round for the baseline")
    ap.add_argument("--out")
    args = ap.parse_args()
    rounds = 1 if args.quick else 3
    runs = [run(32, args.concurrent, rounds), run(args.concurrent, args.concurrent, rounds)]
    out = {
        "benchmark": "web_load",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "system": platform.platform(),
        },
        "answers": [{"network": n, "wrt": w, "kind": k, "chars": len(a)} for n, w, a, k in ANSWERS],
        "runs": runs,
    }
    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    sys.stdout.write(text)
    return 0 if all(r["all_answered"] and r["healthy_after"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
