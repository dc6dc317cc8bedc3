"""A pool of forked worker processes, each task killable at its deadline without killing the pool.

`Pool(work, jobs, timeout)` forks `jobs` workers (one per core by default) from this process, so
that whatever it has already computed (a network's derivation, warm caches) is shared with them
copy-on-write and never recomputed per task. Tasks and results are JSON objects over pipes (no
pickle). Each worker takes one task at a time; a worker still busy at its task's deadline is
killed (SIGKILL) and replaced by a fresh fork, and the task's result is `on_timeout(task)`; a
worker that dies by itself (a crash, the kernel's OOM killer) gives `on_death(task, why)`. Workers
ignore ^C (the caller decides) and die with this process (PR_SET_PDEATHSIG on Linux, and the end
of their pipe anywhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from derive.limits import cap_address_space

Task = dict[str, Any]
Result = dict[str, Any]


def default_jobs() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


@dataclass
class _Worker:
    pid: int
    to_worker: int  # write end of its task pipe
    from_worker: int  # read end of its result pipe
    task: Task | None = None
    deadline: float = 0.0
    buffer: bytes = b""


class Pool:
    """Forked workers running `work(task) -> result`; `run(tasks)` yields (task, result) as done."""

    def __init__(
        self,
        work: Callable[[Task], Result],
        jobs: int | None = None,
        timeout: float = 5.0,
        on_timeout: Callable[[Task], Result] | None = None,
        on_death: Callable[[Task, str], Result] | None = None,
        memory_mib: int | None = None,
    ) -> None:
        if not hasattr(os, "fork"):
            raise OSError("a worker pool needs fork() (Linux or macOS)")
        self.work = work
        self.jobs = max(1, jobs or default_jobs())
        self.timeout = timeout
        self.on_timeout = on_timeout or (lambda task: {"timeout": True})
        self.on_death = on_death or (lambda task, why: {"died": why})
        self.memory_mib = memory_mib
        self.workers: list[_Worker] = []
        self.replaced = 0  # workers killed at a deadline or dead, and forked again

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (SIGKILL: a task in flight is abandoned) and reap it."""
        for w in self.workers:
            self._stop(w)
        self.workers = []

    def _spawn(self) -> _Worker:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            code = 0
            try:
                os.close(task_w)
                os.close(result_r)
                for other in self.workers:  # a sibling's pipes: its end of file must stay its own
                    with contextlib.suppress(OSError):
                        os.close(other.to_worker)
                    with contextlib.suppress(OSError):
                        os.close(other.from_worker)
                self._serve(task_r, result_w)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(task_r)
        os.close(result_w)
        w = _Worker(pid, task_w, result_r)
        self.workers.append(w)
        return w

    def _serve(self, tasks: int, results: int) -> None:
        parent = os.getppid()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        import faulthandler

        faulthandler.disable()  # a crash is the task's result, not a traceback on the terminal
        die_with_parent()
        if os.getppid() != parent:  # the parent died before the request took effect
            return
        if self.memory_mib:
            cap_address_space(self.memory_mib)
        with os.fdopen(tasks, "rb") as inbox:
            for line in inbox:
                task = json.loads(line)
                try:
                    result = self.work(task)
                except MemoryError:
                    result = {"failed": "memory"}
                except RecursionError:
                    result = {"failed": "nesting"}
                except Exception as exc:  # a bug in the work: its result says so, the pool goes on
                    result = {"failed": "internal", "message": f"{type(exc).__name__}: {exc}"[:300]}
                data = (json.dumps(result, ensure_ascii=True, allow_nan=False) + "\n").encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(results, view) :]

    def _stop(self, w: _Worker) -> None:
        for fd in (w.to_worker, w.from_worker):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(w.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(w.pid, 0)

    def _replace(self, w: _Worker) -> None:
        self.workers.remove(w)
        self._stop(w)
        self.replaced += 1
        self._spawn()

    # -- running ------------------------------------------------------------------------------

    def run(self, tasks: deque[Task] | list[Task]) -> Iterator[tuple[Task, Result]]:
        """Each task's result, in the order they finish (a timeout or a death included).

        Given a deque, the caller may append tasks to it while iterating.
        """
        queue = tasks if isinstance(tasks, deque) else deque(tasks)
        while True:
            idle = [w for w in self.workers if w.task is None]
            while queue and idle:
                self._send(idle.pop(), queue.popleft())
            while queue and len(self.workers) < self.jobs:
                self._send(self._spawn(), queue.popleft())
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                return
            soonest = min(w.deadline for w in busy)
            wait = max(0.0, soonest - time.monotonic())
            ready, _, _ = select.select([w.from_worker for w in busy], [], [], wait)
            for w in busy:
                if w.from_worker in ready:
                    done = self._receive(w)
                    if done is not None:
                        yield done
            now = time.monotonic()
            for w in [w for w in self.workers if w.task is not None and w.deadline <= now]:
                task = w.task
                assert task is not None
                self._replace(w)
                yield task, self.on_timeout(task)

    def _send(self, w: _Worker, task: Task) -> None:
        data = (json.dumps(task, ensure_ascii=True) + "\n").encode()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(w.to_worker, view) :]
        except BrokenPipeError:  # it died between tasks: a fresh one takes the task
            self._replace(w)
            self._send(self.workers[-1], task)
            return
        # the deadline starts when the task is sent: a fork's start-up is not the check's time
        w.task = task
        w.deadline = time.monotonic() + self.timeout

    def _receive(self, w: _Worker) -> tuple[Task, Result] | None:
        chunk = os.read(w.from_worker, 1 << 16)
        task = w.task
        assert task is not None
        if not chunk:  # the worker died with its task
            why = _death(w.pid)
            self._replace(w)
            return task, self.on_death(task, why)
        w.buffer += chunk
        if not w.buffer.endswith(b"\n"):
            return None
        result: Result = json.loads(w.buffer)
        w.buffer = b""
        w.task = None
        return task, result


def _death(pid: int) -> str:
    """How a worker ended: 'signal 11 (SIGSEGV)', 'exit status 1'."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "unknown"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "?"
        return f"signal {sig} ({name})"
    return f"exit status {os.WEXITSTATUS(status)}"
