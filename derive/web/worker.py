"""Checks and previews in a killable worker: `derive.limits.run_bounded` forks per request.

The forked child inherits the network's derivation, grades or reads the answer, and writes its
result as JSON into an unlinked temporary file the parent reads once the child has exited;
run_bounded kills it (and anything it started) at the deadline or when it exceeds its memory.
A timeout is `invalid` ("did not finish"), never `incorrect`, as in `gradproof check`. These
functions block: the server calls them from a thread, behind `limits.Gate`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from derive import mathml as M
from derive.answers.check import ERROR, INVALID, grade
from derive.answers.reader import Reader
from derive.document.latex import final_latex
from derive.errors import AnswerError, GradproofError, TooLargeError
from derive.latex import printer_for
from derive.limits import DEFAULT, run_bounded
from derive.spec import fmt_shape
from derive.web.catalog import Entry

MAX_RESULT_BYTES = 4_000_000


def _bounded(work: Callable[[], dict[str, Any]], seconds: float, memory_mb: int) -> dict[str, Any]:
    """work() in a forked child within the deadline and memory; its result, or {"error": ...}."""
    limits = replace(DEFAULT, time_limit=seconds, memory_limit=memory_mb)
    with tempfile.TemporaryFile() as out:
        fd = out.fileno()

        def child() -> int:
            try:
                payload: dict[str, Any] = work()
            except MemoryError:
                payload = {"error": "memory"}
            except RecursionError:
                payload = {"error": "nesting"}
            data = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
            view = memoryview(data[:MAX_RESULT_BYTES])
            while view:
                view = view[os.write(fd, view) :]
            return 0

        try:
            code = run_bounded(child, limits)
        except TooLargeError as exc:
            what = "timeout" if "time" in str(exc).split("(")[0] else "memory"
            return {"error": what}
        except GradproofError:
            return {"error": "internal"}
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, MAX_RESULT_BYTES + 1)
    if code != 0 or not data:
        return {"error": "internal"}
    try:
        result: dict[str, Any] = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"error": "internal"}
    return result


def _unjudged(entry: Entry, wrt: str, seconds: float, error: str) -> dict[str, Any]:
    """The result for a check that gave no verdict (check.py's words for each cause)."""
    words = {
        "timeout": f"the check did not finish within {seconds:g} s (the answer is too large or "
        "too deeply nested to grade); it was stopped",
        "memory": "the check ran out of memory (the answer is too large)",
        "nesting": "the answer is nested too deeply",
        "internal": "gradproof failed on this answer; please report it",
    }
    deriv = entry.derivation
    return {
        "verdict": ERROR if error == "internal" else INVALID,
        "wrt": wrt,
        "expected_latex": final_latex(deriv, wrt),
        "parsed": None,
        "expected_shape": fmt_shape(deriv[wrt].shape),
        "answer_shape": None,
        "diagnosis": words[error],
        "mistake": None,
        "counterexample": None,
        "warnings": [],
        "method": error,
        "seconds": seconds if error == "timeout" else 0.0,
        "parsed_mathml": None,
    }


def _parsed_mathml(entry: Entry, answer: str, lenient: bool) -> str | None:
    """The answer as the grader reads it, printed as MathML (None when it cannot be read)."""
    try:
        reading = Reader(entry.derivation, lenient).read(answer)
    except AnswerError:
        return None
    return M.math(M.MathmlPrinter.for_spec(entry.network.spec).doprint(reading.expr))


def check_answer(
    entry: Entry, wrt: str, answer: str, lenient: bool, seconds: float, memory_mb: int
) -> dict[str, Any]:
    """The keys of `gradproof check --json`, plus `parsed_mathml`."""

    def work() -> dict[str, Any]:
        result = asdict(grade(entry.derivation, wrt, answer, lenient))
        result["parsed_mathml"] = _parsed_mathml(entry, answer, lenient)
        return result

    result = _bounded(work, seconds, memory_mb)
    if "error" in result:
        return _unjudged(entry, wrt, seconds, str(result["error"]))
    return result


def preview_answer(
    entry: Entry, wrt: str, answer: str, lenient: bool, seconds: float, memory_mb: int
) -> dict[str, Any]:
    """What the grader reads in the answer, without grading it: LaTeX, MathML, shape, warnings,
    or the reason it cannot be read (`error`, with the place)."""
    expected_shape = fmt_shape(entry.derivation[wrt].shape)

    def work() -> dict[str, Any]:
        spec = entry.network.spec
        try:
            reading = Reader(entry.derivation, lenient).read(answer)
        except AnswerError as exc:
            return {"error": None, "problem": str(exc), "position": exc.position}
        return {
            "error": None,
            "problem": None,
            "position": None,
            "parsed": printer_for(spec).doprint(reading.expr),
            "parsed_mathml": M.math(M.MathmlPrinter.for_spec(spec).doprint(reading.expr)),
            "answer_shape": fmt_shape(reading.expr.shape),
            "warnings": reading.warnings,
        }

    result = _bounded(work, seconds, memory_mb)
    failure = result.get("error")
    if failure:
        problem = _unjudged(entry, wrt, seconds, str(failure))["diagnosis"]
        result = {"problem": problem, "position": None}
    return {
        "wrt": wrt,
        "parsed": result.get("parsed"),
        "parsed_mathml": result.get("parsed_mathml"),
        "answer_shape": result.get("answer_shape"),
        "expected_shape": expected_shape,
        "warnings": result.get("warnings", []),
        "problem": result.get("problem"),
        "position": result.get("position"),
    }
