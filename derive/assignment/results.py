"""results.jsonl: one row per submission, appended and flushed as graded; resumed after a kill.

While grading, rows are appended to `results.jsonl` in the order they are graded, each flushed
to the operating system as it is written (a SIGKILL loses at most the row being written, which
is then cut off and graded again). When every row is there, the file is replaced, atomically, by
the same rows in their canonical order (the submissions file's, then one `missing` row per
student and question without a submission), so that a run that was killed and resumed ends with
the same bytes as one that was not. `.grade-state.json` in the same folder records what the rows
were graded from (the assignment's and the submissions' sha256, the options); a run over a
changed assignment or submissions file is refused unless `--restart`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from derive.errors import GradeStateError
from derive.files import write_text_atomic

# One table of verdicts: the five a check gives, and the two for rows no check was run on.
VERDICTS: dict[str, str] = {
    "correct": "the answer is the gradient (full points)",
    "incorrect": "the answer is not the gradient (partial points when the mistake is listed)",
    "invalid": "the answer or its row cannot be read (an unknown name, shapes that do not "
    "multiply, a malformed row, an unknown question, an answer over the size limit)",
    "timeout": "the check did not finish in time: not counted as incorrect; look at it by hand",
    "error": "the grader itself failed on this answer (please report it)",
    "superseded": "a later row of the same student and question counts instead",
    "missing": "no row for this student and question (0 points)",
}
FIELDS = (
    "line", "student_id", "question", "answer", "verdict", "points", "mistake", "diagnosis",
    "counterexample", "parsed", "warnings",
)  # fmt: skip
RESULTS, STATE, LOCK = "results.jsonl", ".grade-state.json", ".grade.lock"
STATE_VERSION = 1


@dataclass
class Row:
    """One row of results.jsonl."""

    line: int | None  # the submission's first line in its file; None for a missing row
    student_id: str | None
    question: str | None
    answer: str | None
    verdict: str
    points: Decimal = Decimal(0)
    mistake: str | None = None
    diagnosis: str | None = None
    counterexample: dict[str, Any] | None = None
    parsed: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in FIELDS}
        data["points"] = points_number(self.points)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        if set(data) != set(FIELDS) or data["verdict"] not in VERDICTS:
            raise ValueError("not a results row")
        values = {name: data[name] for name in FIELDS}
        values["points"] = Decimal(str(data["points"]))
        return cls(**values)


def points_number(p: Decimal) -> int | float:
    """Points as a JSON number: an integer when whole."""
    return int(p) if p == p.to_integral() else float(p)


def points_text(p: Decimal) -> str:
    """Points as a gradebook cell: 2, 1.5."""
    return str(int(p)) if p == p.to_integral() else format(p.normalize(), "f")


class Folder:
    """An output folder being graded into: locked, its state checked, its rows appended."""

    def __init__(self, path: Path, state: dict[str, Any], restart: bool) -> None:
        self.path = path
        self.state = state
        self.restart = restart
        self._lock_fd: int | None = None
        self._out: Any = None
        self._last_sync = 0.0

    def __enter__(self) -> Folder:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GradeStateError(
                f"{self.path}: cannot create the folder ({exc.strerror})"
            ) from None
        if not self.path.is_dir():
            raise GradeStateError(f"{self.path}: is not a folder")
        self._lock()
        try:
            self._check_state()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.flush()
                os.fsync(self._out.fileno())
            self._out.close()
            self._out = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def _lock(self) -> None:
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        deadline = time.monotonic() + 5.0  # a killed run's workers may take a moment to go
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise GradeStateError(
                        f"{self.path}: another `gradproof grade` is writing into this folder; "
                        "wait for it to finish or stop it"
                    ) from None
                time.sleep(0.05)
        self._lock_fd = fd

    def _check_state(self) -> None:
        state_path = self.path / STATE
        results = self.path / RESULTS
        if self.restart:
            results.unlink(missing_ok=True)
            state_path.unlink(missing_ok=True)
        old: Any = None
        if state_path.exists():
            try:
                old = json.loads(state_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {"unreadable": True}
        if old is None and results.exists() and results.stat().st_size > 0:
            raise GradeStateError(
                f"{self.path}: holds a {RESULTS} of unknown origin (no {STATE}); "
                "use --restart to grade afresh (it replaces the results) or another -o folder"
            )
        if old is not None and old != self.state:
            what = [k for k in ("assignment", "submissions", "options", "gradproof")
                    if not isinstance(old, dict) or old.get(k) != self.state.get(k)]  # fmt: skip
            raise GradeStateError(
                f"{self.path}: was graded from a different {' and '.join(what) or 'state'} "
                f"(the {STATE} there does not match); use --restart to grade afresh "
                "(it replaces the results) or another -o folder"
            )
        if old is None:
            write_text_atomic(state_path, json.dumps(self.state, indent=2, sort_keys=True) + "\n")

    def graded(self) -> dict[int, Row]:
        """Rows already in results.jsonl, by line; a row cut off by a kill is removed first."""
        results = self.path / RESULTS
        rows: dict[int, Row] = {}
        if not results.exists():
            return rows
        data = results.read_bytes()
        good = 0
        for number, (start, end) in enumerate(_line_spans(data), 1):
            chunk = data[start:end]
            try:
                row = Row.from_dict(json.loads(chunk))
            except (ValueError, TypeError, KeyError):
                if end == len(data) and not chunk.endswith(b"\n"):
                    break  # the last row, cut off by a kill: graded again
                raise GradeStateError(
                    f"{results}: line {number} is not a results row (edited by hand?); "
                    "use --restart to grade afresh"
                ) from None
            if not chunk.endswith(b"\n"):
                break
            good = end
            if row.line is not None:
                rows[row.line] = row
        if good < len(data):
            with open(results, "r+b") as f:
                f.truncate(good)
        return rows

    def append(self, row: Row) -> None:
        """Write one row at the end of results.jsonl and flush it to the operating system."""
        if self._out is None:
            self._out = open(self.path / RESULTS, "a", encoding="utf-8")  # noqa: SIM115
        self._out.write(row.to_json())
        self._out.flush()
        now = time.monotonic()
        if now - self._last_sync > 1.0:  # durable across a power cut too, once a second
            os.fsync(self._out.fileno())
            self._last_sync = now

    def finish(self, rows: list[Row]) -> None:
        """Replace results.jsonl by every row in canonical order."""
        if self._out is not None:
            self._out.close()
            self._out = None
        write_text_atomic(self.path / RESULTS, "".join(r.to_json() for r in rows))


def _line_spans(data: bytes) -> Iterator[tuple[int, int]]:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        yield start, end
        start = end
