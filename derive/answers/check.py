"""Grade a hand-written gradient: read it, compare with the derivation, diagnose, time-bounded.

`check(...)` returns a `CheckResult` with verdict `correct`, `incorrect` or `invalid`. By default
the work runs in a forked child process that is killed at its deadline (a thread cannot be
stopped, and `signal.alarm` does not interrupt C code; see FINDINGS), under a memory limit; a
timeout is `invalid` ("did not finish"), never `incorrect`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from derive import expr as E
from derive.answers import diagnosis as D
from derive.answers.equivalence import (
    PRECISE_DIGITS,
    RTOL,
    TooFewPoints,
    agrees_precisely,
    constant_ratio,
    dims_ratio,
    draw_points,
    first_difference,
    values_at,
)
from derive.answers.reader import Reader
from derive.api import Network
from derive.chain_rule import Derivation
from derive.errors import AnswerError, UnknownVariableError
from derive.evaluate import kink_arguments
from derive.latex import printer_for
from derive.spec import fmt_shape

CORRECT, INCORRECT, INVALID, ERROR = "correct", "incorrect", "invalid", "error"
DEFAULT_TIMEOUT = 5.0
KINKED_DRAWS = 32  # draws when the answer or the gradient has a ReLU or an indicator
DIAGNOSIS_DRAWS = 8  # the draws the mutations are compared at
MEMORY_LIMIT = 4 * 1024**3


@dataclass
class CheckResult:
    """The verdict on one answer, with what the grader understood and why."""

    verdict: str
    wrt: str
    expected_latex: str
    parsed: str | None = None
    expected_shape: str = ""
    answer_shape: str | None = None
    diagnosis: str | None = None
    mistake: str | None = None
    counterexample: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    method: str = ""
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def __str__(self) -> str:
        lines = [f"verdict: {self.verdict}"]
        if self.parsed is not None:
            lines.append(f"read as: {self.parsed}   {self.answer_shape or ''}")
        lines.append(f"expected: {self.expected_latex}   {self.expected_shape}")
        if self.diagnosis:
            lines.append(f"why: {self.diagnosis}")
        if self.counterexample:
            c = self.counterexample
            dims = ", ".join(f"{k}={v}" for k, v in c["dims"].items())
            at = f"dims {dims}" if dims else "these values"
            lines.append(f"counterexample at {at} (seed {c['seed']}, draw {c['draw']}):")
            lines.append(f"  expected {_preview(c['expected'])}")
            lines.append(f"  answer   {_preview(c['answer'])}")
        lines += [f"warning: {w}" for w in self.warnings]
        if self.method:
            lines.append(f"how: {self.method}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        parts = [f"**{self.verdict}**"]
        if self.parsed is not None:
            parts.append(f"read as ${self.parsed}$")
        parts.append(f"expected ${self.expected_latex}$")
        if self.diagnosis:
            parts.append(self.diagnosis)
        return "  \n".join(parts)


def _unjudged(deriv: Derivation, wrt: str) -> CheckResult:
    """A result that knows the expected gradient and nothing yet about the answer (invalid)."""
    g = deriv[wrt]
    expected = printer_for(deriv.spec).doprint(g.final)
    return CheckResult(INVALID, wrt, expected, expected_shape=fmt_shape(g.shape))


def grade(
    deriv: Derivation,
    wrt: str,
    answer: str,
    lenient: bool = False,
    seed: int = 0,
    draws: int = 4,
) -> CheckResult:
    """The check itself, in this process (no time limit: use `check` for user input)."""
    started = time.perf_counter()
    printer = printer_for(deriv.spec)
    result = _unjudged(deriv, wrt)
    try:
        reading = Reader(deriv, lenient).read(answer, zero_shape=deriv[wrt].shape)
    except AnswerError as exc:
        result.diagnosis = str(exc)
        result.method = "the answer could not be read"
        result.seconds = time.perf_counter() - started
        return result
    result.warnings = reading.warnings
    got = reading.expr
    result.parsed = printer.doprint(got)
    result.answer_shape = fmt_shape(got.shape)
    if reading.lhs_wrt is not None and reading.lhs_wrt != wrt:
        result.diagnosis = (
            f"the left-hand side is the gradient with respect to "
            f"{deriv.spec.latex_of(reading.lhs_wrt)}, but the question asks for "
            f"{deriv.spec.latex_of(wrt)}"
        )
        result.seconds = time.perf_counter() - started
        return result
    _judge(result, deriv, wrt, got, seed, draws)
    result.seconds = time.perf_counter() - started
    return result


def _judge(
    result: CheckResult, deriv: Derivation, wrt: str, got: E.Expr, seed: int, n: int
) -> None:
    expected = deriv[wrt].final
    spec = deriv.spec
    result.verdict = INCORRECT
    if got.shape != expected.shape:
        if got.shape == E.transpose_shape(expected.shape):
            result.mistake = D.TRANSPOSE
            result.diagnosis = (
                f"your answer has shape {fmt_shape(got.shape)}, the transpose of the gradient's "
                f"{fmt_shape(expected.shape)}: a gradient has the shape of its variable "
                "(denominator layout), so transpose your answer"
            )
        else:
            result.mistake = "shape"
            result.diagnosis = (
                f"your answer has shape {fmt_shape(got.shape)}; the gradient has the shape of "
                f"{spec.latex_of(wrt)}, {fmt_shape(expected.shape)}"
            )
        result.method = "shapes differ"
        return
    if got == expected:
        result.verdict = CORRECT
        result.method = "identical to the derivation (symbolic)"
        return
    # guard the spec's kinks and the gradient's; an answer may put an indicator exactly on a
    # kink that cannot move (1[H > 0] with H = ReLU(Z) is 0 wherever Z < 0, as it should be)
    if kink_arguments(got) or kink_arguments(expected):
        # a piecewise answer differs only where some sign differs (𝟙[Wx > 0] for 𝟙[Wx + b > 0]):
        # enough draws that every such difference shows, whatever the seed
        n = max(n, KINKED_DRAWS)
    try:
        points = draw_points(spec, n, seed, guard=[expected])
    except TooFewPoints as exc:
        result.verdict = ERROR
        result.method = "too few finite points"
        result.diagnosis = f"cannot check: {exc}"
        return
    want = values_at(expected, points)
    have = values_at(got, points)
    diff = first_difference(have, want)
    if diff is None and agrees_precisely(spec, got, expected, points[0]):
        result.verdict = CORRECT
        result.method = (
            f"equal at {n} random draws of the dims and of every value, and to "
            f"{PRECISE_DIGITS} digits at the first"
        )
        return
    if diff is None:
        d = points[0]
        result.counterexample = {
            "seed": seed,
            "draw": 0,
            "dims": d.dims,
            "values": {k: _rounded(v) for k, v in d.env.items() if k in spec.variables},
            "expected": _rounded(want[0]),
            "answer": _rounded(have[0]),
        }
        result.method = f"differs at {PRECISE_DIGITS} digits at draw 0"
        result.diagnosis = (
            "your answer differs from the gradient by a small amount (less than "
            f"{RTOL:g} relative, within a float64 tolerance, but there at {PRECISE_DIGITS} "
            "digits): a small extra or missing term"
        )
        return
    d = points[diff]
    result.counterexample = {
        "seed": seed,
        "draw": diff,
        "dims": d.dims,
        "values": {k: _rounded(v) for k, v in d.env.items() if k in spec.variables},
        "expected": _rounded(want[diff]),
        "answer": _rounded(have[diff]),
    }
    result.method = f"differs at draw {diff} of {n}"
    k = constant_ratio(have, want)
    if k is not None:
        result.mistake, result.diagnosis = D.factor_words(k)
        return
    scaled = dims_ratio(have, want, points)
    if scaled is not None:
        result.mistake, result.diagnosis = D.factor_words(scaled[0], scaled[1])
        return
    found = D.diagnose(deriv, wrt, have[:DIAGNOSIS_DRAWS], points[:DIAGNOSIS_DRAWS])
    if found is not None:
        result.mistake, result.diagnosis = found.kind, found.words
        return
    result.diagnosis = (
        "no common mistake, alone or in a pair, explains the difference; see the counterexample"
    )


def _preview(rows: list[list[float | str]], most: int = 4) -> str:
    """The top-left corner of a matrix, for a terminal (the JSON has all of it)."""
    shown = [row[:most] + (["..."] if len(row) > most else []) for row in rows[:most]]
    text = "; ".join(" ".join(str(x) for x in row) for row in shown)
    more = " ..." if len(rows) > most else ""
    return f"[{text}{more}]  ({len(rows)}x{len(rows[0]) if rows else 0})"


def _rounded(a: np.ndarray) -> list[list[float | str]]:
    """Six significant digits; inf and nan as strings, so that the JSON stays standard."""
    return [
        [float(f"{x:.6g}") if np.isfinite(x) else str(x) for x in row]
        for row in np.asarray(a, dtype=float).tolist()
    ]


# -- bounded in time and memory ---------------------------------------------------------------


def _child(conn: Any, deriv: Derivation, wrt: str, answer: str, lenient: bool, seed: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass  # no limit available here: the deadline still holds
    try:
        result = grade(deriv, wrt, answer, lenient, seed)
        conn.send_bytes(result.to_json().encode("utf-8"))
    except MemoryError:
        conn.send_bytes(b'{"error": "memory"}')
    except RecursionError:
        conn.send_bytes(b'{"error": "nesting"}')
    except Exception as exc:  # a bug of ours: reported as such, never as a verdict on the answer
        message = f"{type(exc).__name__}: {exc}"[:300]
        conn.send_bytes(json.dumps({"error": "internal", "message": message}).encode())
    finally:
        conn.close()
        os._exit(0)


def check(
    net: Network | str | Path,
    wrt: str,
    answer: str,
    lenient: bool = False,
    seed: int = 0,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> CheckResult:
    """Grade `answer` (LaTeX) as ∂loss/∂wrt of the network; bounded by `timeout` seconds.

    With timeout=None the check runs in this process, unbounded (for trusted input).
    """
    network = net if isinstance(net, Network) else Network.from_file(net)
    deriv = network.derivation
    if wrt not in deriv.gradients:
        deriv[wrt]  # raises with a did-you-mean
        raise UnknownVariableError(f"no variable {wrt!r}")
    if timeout is None or "fork" not in multiprocessing.get_all_start_methods():
        return grade(deriv, wrt, answer, lenient, seed)
    started = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, deriv, wrt, answer, lenient, seed))
    proc.start()
    send.close()
    data: bytes | None = None
    if receive.poll(timeout):
        try:
            data = receive.recv_bytes()
        except EOFError:
            data = None
    if proc.is_alive():
        proc.kill()
    proc.join()
    receive.close()
    fallback = _unjudged(deriv, wrt)
    fallback.seconds = time.perf_counter() - started
    if data is None:
        fallback.diagnosis = (
            f"the check did not finish within {timeout:g} s (the answer is too large or too "
            "deeply nested to grade); it was stopped"
        )
        fallback.method = "timeout"
        return fallback
    payload = json.loads(data.decode("utf-8"))
    if "error" in payload:
        fallback.diagnosis = {
            "memory": "the check ran out of memory (the answer is too large)",
            "nesting": "the answer is nested too deeply",
            "internal": f"gradproof failed on this answer ({payload.get('message', '')}); "
            "please report it",
        }[payload["error"]]
        fallback.method = payload["error"]
        fallback.verdict = ERROR if payload["error"] == "internal" else INVALID
        return fallback
    result = CheckResult(**payload)
    result.seconds = time.perf_counter() - started
    return result
