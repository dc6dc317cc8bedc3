"""The worker pool: a task past its deadline is killed with its worker, which is replaced, and the
pool goes on; a crash or an exception in one task is that task's result only."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from derive.workers import Pool


def work(task: dict[str, Any]) -> dict[str, Any]:
    what = task["do"]
    if what == "sleep":
        time.sleep(60)
    if what == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if what == "raise":
        raise ValueError("a bug")
    if what == "memory":
        raise MemoryError
    return {"n": task["n"] * 2, "pid": os.getpid()}


def _run(
    tasks: list[dict[str, Any]], jobs: int = 2, timeout: float = 1.0
) -> tuple[Pool, dict[int, dict[str, Any]]]:
    pool = Pool(
        work, jobs, timeout,
        on_timeout=lambda t: {"timeout": True},
        on_death=lambda t, why: {"died": why},
    )  # fmt: skip
    with pool:
        results = {t["n"]: r for t, r in pool.run(tasks)}
        assert pool.workers  # alive until closed
        pids = [w.pid for w in pool.workers]
    for pid in pids:  # closed: every worker reaped
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    return pool, results


def test_every_task_gets_its_result() -> None:
    _, results = _run([{"do": "double", "n": n} for n in range(50)])
    assert {n: r["n"] for n, r in results.items()} == {n: 2 * n for n in range(50)}
    assert len({r["pid"] for r in results.values()}) == 2  # both workers took tasks


def test_a_task_past_its_deadline_is_killed_and_the_pool_goes_on() -> None:
    tasks = [{"do": "double", "n": n} for n in range(20)]
    tasks[3] = {"do": "sleep", "n": 3}
    started = time.monotonic()
    pool, results = _run(tasks, timeout=1.0)
    assert time.monotonic() - started < 10
    assert results[3] == {"timeout": True}
    assert all(results[n]["n"] == 2 * n for n in range(20) if n != 3)
    assert pool.replaced == 1


def test_a_crash_or_an_exception_is_that_tasks_result_only() -> None:
    tasks = [{"do": "double", "n": n} for n in range(10)]
    tasks[2] = {"do": "crash", "n": 2}
    tasks[5] = {"do": "raise", "n": 5}
    tasks[7] = {"do": "memory", "n": 7}
    pool, results = _run(tasks)
    assert results[2] == {"died": "signal 11 (SIGSEGV)"}
    assert results[5] == {"failed": "internal", "message": "ValueError: a bug"}
    assert results[7] == {"failed": "memory"}
    assert all(results[n]["n"] == 2 * n for n in (0, 1, 3, 4, 6, 8, 9))
    assert pool.replaced == 1


def test_tasks_added_while_running_are_run() -> None:
    from collections import deque

    queue: deque[dict[str, Any]] = deque([{"do": "double", "n": 0}])
    seen = []
    with Pool(work, 2, 5.0) as pool:
        for task, result in pool.run(queue):
            seen.append(result["n"])
            if task["n"] < 5:
                queue.append({"do": "double", "n": task["n"] + 1})
    assert seen == [0, 2, 4, 6, 8, 10]


def test_workers_ignore_interrupts() -> None:
    with Pool(work, 1, 5.0) as pool:
        list(pool.run([{"do": "double", "n": 1}]))
        pid = pool.workers[0].pid
        os.kill(pid, signal.SIGINT)  # as ^C in a terminal reaches the whole process group
        time.sleep(0.2)
        results = list(pool.run([{"do": "double", "n": 2}]))
        assert results[0][1]["pid"] == pid


def _allocate(task: dict[str, Any]) -> dict[str, Any]:
    return {"n": len(bytearray(task["mib"] * 1024**2))}


def test_worker_memory_counts_from_the_fork() -> None:
    import mmap

    reserved = mmap.mmap(-1, 3 * 1024**3)  # as a parent with torch loaded: reserved, untouched
    try:
        pool = Pool(_allocate, 1, 20.0, on_timeout=lambda t: {"timeout": True},
                    on_death=lambda t, why: {"died": why}, memory_mib=256)  # fmt: skip
        with pool:
            results = [r for _, r in pool.run([{"mib": 64}, {"mib": 1024}])]
    finally:
        reserved.close()
    assert results[0] == {"n": 64 * 1024**2}
    assert results[1] == {"failed": "memory"}
