"""What one command may cost, in one table: sizes checked up front, time and memory by a watchdog.

Every limit has a name (`--limit NAME=VALUE` on the command line, a field of `Limits` in the API);
exceeding one raises `TooLargeError`, one line naming the limit and how to raise it. The deadline
and the memory limit cover a whole command: `run_bounded` runs it in a forked child under
RLIMIT_AS (counted from the fork: the memory the work may add to the loaded program) and kills
it at the deadline (a thread cannot be stopped and `signal.alarm` does not interrupt C code;
killing a process always works). The child's standard output and error are
collected and printed by the parent only when the child finished, so a killed run prints nothing
half-written (and verify's progress lines appear at the end).
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from derive import expr as E
from derive.errors import GradproofError, TooLargeError


def _limit(default: Any, what: str) -> Any:
    """A field of `Limits`: its default and what it bounds (`describe` reads it back)."""
    return field(default=default, metadata={"what": what})


@dataclass(frozen=True)
class Limits:
    """The defaults; `--limit NAME=VALUE` (NAME with - for _) or `replace(...)` changes one."""

    # each field's "what" is what it bounds, as `gradproof --help` lists it
    file_bytes: int = _limit(1_000_000, "bytes of a spec file (this + 1 are read)")
    toml_depth: int = _limit(16, "brackets and braces nested in the TOML")
    equations: int = _limit(2_000, "[forward] equations")
    variables: int = _limit(2_000, "[vars] variables")
    dims: int = _limit(200, "[dims] entries")
    expression_nodes: int = _limit(20_000, "nodes of any gradient printed as a tree")  # count_nodes
    expression_depth: int = _limit(500, "nesting depth of any gradient")
    output_bytes: int = _limit(20_000_000, "bytes one command prints or writes")
    time_limit: float = _limit(120.0, "seconds the whole command may run")
    memory_limit: int = _limit(4096, "MiB of address space the command may add")

    def option(self, name: str) -> str:
        """The command-line option that raises the limit `name`."""
        if name in ("time_limit", "memory_limit"):
            return "--" + name.replace("_", "-")
        return f"--limit {name.replace('_', '-')}="

    def describe(self) -> list[tuple[str, str, str]]:
        """Every limit as (its name, its value here, what it bounds), in the table's order."""
        return [(f.name, _num(getattr(self, f.name)), f.metadata["what"]) for f in fields(self)]

    def too_large(
        self, name: str, what: str, measured: float, unit: str = "", source: str = ""
    ) -> TooLargeError:
        limit = getattr(self, name)
        suggestion = _suggest(measured, limit)
        opt = self.option(name)
        sep = "" if opt.endswith("=") else " "
        return TooLargeError(
            (f"{source}: " if source else "")
            + f"too large: {what} ({_num(measured)}{unit} > {_num(limit)}{unit}, "
            f"the limit {name}); raise it with {opt}{sep}{_num(suggestion)}"
        )

    def with_values(self, pairs: list[str]) -> Limits:
        """These limits with NAME=VALUE pairs applied (from `--limit`)."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, float | int] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            key = name.strip().replace("-", "_")
            if not sep or key not in known:
                names = ", ".join(k.replace("_", "-") for k in known)
                raise GradproofError(f"--limit {pair!r}: expected NAME=VALUE, NAME one of {names}")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or number <= 0:
                raise GradproofError(f"--limit {pair!r}: expected a positive number")
            changes[key] = number if known[key].type in (float, "float") else int(number)
        return replace(self, **changes)  # type: ignore[arg-type]


DEFAULT = Limits()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _suggest(measured: float, limit: float) -> float:
    """A value that would have let this input through, rounded up to two significant digits."""
    target = max(measured * 1.1, limit * 2)
    digits = 10 ** max(0, int(math.log10(target)) - 1)
    return float(math.ceil(target / digits) * digits)


# -- sizes ------------------------------------------------------------------------------------


def read_bounded(path: str | Path, limit: int, what: str, limits: Limits, name: str) -> bytes:
    """The bytes of a file, read at most limit + 1 of them; FIFOs and devices are not read forever.

    Opened without blocking (a FIFO with no writer reads as empty), a directory refused, a regular
    file's size checked with fstat before anything is read.
    """
    source = str(path)
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise GradproofError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise GradproofError(f"{source}: is a directory, expected a file") from None
    except OSError as exc:
        raise GradproofError(f"{source}: cannot read it ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise GradproofError(f"{source}: is a directory, expected a file")
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise limits.too_large(name, f"{what} is {st.st_size} bytes", st.st_size, "", source)
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise GradproofError(f"{source}: cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)
    if total > limit:
        raise limits.too_large(name, f"{what} is over {limit} bytes", total, "", source)
    return b"".join(chunks)


def toml_depth(text: str, stop: int) -> int:
    """How deep brackets and braces nest in TOML text, outside strings and comments (up to stop+1).

    Run before `tomllib`, whose recursive descent would otherwise hit Python's recursion limit.
    """
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if ch == '"' and text[j] == "\\":
                    j += 1
                elif len(quote) == 1 and text[j] == "\n":
                    break
                j += 1
            i = j + len(quote)
            continue
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop:
                    return deepest
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def expression_size(e: E.Expr) -> tuple[int, int]:
    """(nodes printed as a tree, depth) of e, in one pass over its distinct nodes."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    for n in E.walk_nodes(e):
        sizes[id(n)] = 1 + sum(sizes[id(c)] for c in n.children)
        depths[id(n)] = 1 + max((depths[id(c)] for c in n.children), default=0)
    return sizes[id(e)], depths[id(e)]


def check_expression(e: E.Expr, where: str, limits: Limits = DEFAULT) -> None:
    """Raise TooLargeError if e printed would exceed the node or depth limit."""
    nodes, depth = expression_size(e)
    if nodes > limits.expression_nodes:
        raise limits.too_large("expression_nodes", f"{where} has {nodes} nodes", nodes)
    if depth > limits.expression_depth:
        raise limits.too_large("expression_depth", f"{where} nests {depth} deep", depth)


def check_output(text: str, where: str, limits: Limits = DEFAULT) -> None:
    size = len(text.encode("utf-8"))
    if size > limits.output_bytes:
        raise limits.too_large("output_bytes", f"{where} is {size} bytes", size)


# -- time and memory --------------------------------------------------------------------------

STACK_BYTES = 256 * 1024**2


def run_deep(work: Callable[[], int], limits: Limits = DEFAULT) -> int:
    """work() in a thread whose stack and recursion limit fit expressions of the depth limit."""
    result: list[int] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the caller's thread, unchanged
            failure.append(exc)

    previous = sys.getrecursionlimit()
    old_stack = threading.stack_size()
    sys.setrecursionlimit(max(previous, 20 * limits.expression_depth + 2_000))
    threading.stack_size(STACK_BYTES)
    try:
        thread = threading.Thread(target=target, name="gradproof-work")
        thread.start()
    finally:
        threading.stack_size(old_stack)
    thread.join()
    sys.setrecursionlimit(previous)
    if failure:
        raise failure[0]
    return result[0]


def address_space_now() -> int:
    """Bytes of address space this process holds now (0 where the system does not say)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def cap_address_space(mib: int) -> None:
    """Let this (forked) process take at most `mib` MiB of address space beyond what it holds now.

    The limit counts from the fork, not from zero: a child forked from a process that has already
    mapped a large library (torch reserves gigabytes it never touches) would otherwise be over an
    absolute RLIMIT_AS before it allocated anything.
    """
    try:
        import resource
    except ImportError:
        return
    limit = address_space_now() + mib * 1024**2
    with contextlib.suppress(ValueError, OSError):
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _child_limits(limits: Limits) -> None:
    try:
        import resource
    except ImportError:
        return
    cap_address_space(int(limits.memory_limit))
    cpu = math.ceil(limits.time_limit) + 2  # a backstop if the parent dies: the kernel stops us
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard != resource.RLIM_INFINITY:
            cpu = min(cpu, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
    except (ValueError, OSError):
        pass


def run_bounded(work: Callable[[], int], limits: Limits = DEFAULT) -> int:
    """Run work() (printing to stdout, returning an exit code) within the time and memory limits.

    Forked: the child runs it and sends its standard output back (its standard error is live);
    the parent prints the output once the child exits, or kills the child at the deadline and
    raises TooLargeError. Without fork, in this process.
    """
    if not hasattr(os, "fork"):
        return run_deep(work, limits)
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        code = 3
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C
            _own_group(0)
            _child_limits(limits)
            import io

            # standard output is held back (a killed run prints nothing half-written);
            # standard error stays live where it is a real stream, so progress and warnings
            # show as the work goes (a stream replaced in-process, as by pytest, is sent back)
            out, err = io.StringIO(), io.StringIO()
            live = _is_real_stream(sys.stderr)
            saved = sys.stderr
            sys.stdout = out
            if not live:
                sys.stderr = err
            try:
                code = run_deep(work, limits)
            finally:
                sys.stdout, sys.stderr = sys.__stdout__, saved
            body = out.getvalue().encode("utf-8", "replace")
            data = len(body).to_bytes(8, "big") + body + err.getvalue().encode("utf-8", "replace")
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view) :]
        except BaseException:
            code = 3
        finally:
            try:
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(write_end)
    _own_group(pid)
    deadline = started + limits.time_limit
    chunks: list[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(pid)
                raise _out_of_time(limits)
            ready, _, _ = select.select([read_end], [], [], left)
            if ready:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        status = _wait(pid, deadline)
        if status is None:
            _kill(pid)
            raise _out_of_time(limits)
    except BaseException:
        _kill(pid)
        raise
    finally:
        os.close(read_end)
    _kill_group(pid)  # anything the command left running (a grader's worker) goes with it
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        sig = -code
        if sig in (signal.SIGKILL, getattr(signal, "SIGXCPU", signal.SIGKILL)):
            raise TooLargeError(
                f"too large: the command was killed by the system (out of memory or CPU time, "
                f"limits {limits.memory_limit:g} MB, {limits.time_limit:g} s); raise them with "
                f"--memory-limit {2 * limits.memory_limit:g} --time-limit {2 * limits.time_limit:g}"
            )
        raise GradproofError(f"internal error: the command died of signal {sig}; please report it")
    data = b"".join(chunks)
    size = int.from_bytes(data[:8], "big")
    sys.stderr.write(data[8 + size :].decode("utf-8", "replace"))
    sys.stderr.flush()
    sys.stdout.write(data[8 : 8 + size].decode("utf-8", "replace"))
    sys.stdout.flush()
    return code


def _is_real_stream(stream: object) -> bool:
    """Whether a stream writes to a file descriptor (the terminal, a pipe), not to memory."""
    try:
        return isinstance(stream.fileno(), int)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _out_of_time(limits: Limits) -> TooLargeError:
    return TooLargeError(
        f"too large: time (the command ran past its limit of {limits.time_limit:g} s); "
        f"raise it with --time-limit {_suggest(limits.time_limit, limits.time_limit):g}"
    )


def memory_error(limits: Limits) -> TooLargeError:
    """What a MemoryError in the command means for the user."""
    return TooLargeError(
        f"too large: memory (the command needed over its limit of {limits.memory_limit:g} MiB); "
        f"raise it with --memory-limit {_suggest(limits.memory_limit, limits.memory_limit):g}"
    )


def _wait(pid: int, deadline: float) -> int | None:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            return None
        time.sleep(0.002)


def _own_group(pid: int) -> None:
    """The child in a process group of its own, so that its workers can be killed with it.

    Not when standard input is a terminal: a background group reading it would be stopped
    (`--answer-file -` typed in); workers then end by their own deadline and CPU limit.
    """
    if os.isatty(0):
        return
    with contextlib.suppress(OSError):  # already done by the other side, or the child has exited
        os.setpgid(pid, pid if pid else 0)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _kill(pid: int) -> None:
    _kill_group(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
