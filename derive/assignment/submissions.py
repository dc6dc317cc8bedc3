"""Reading a class's submissions: CSV (header `student_id,question,answer`) or JSONL (one object a
line with those keys), every row kept with its line number, whatever is wrong with it.

A row that cannot be read (a malformed CSV record, bad JSON, bytes that are not UTF-8, a missing
field) becomes a `Submission` with a `problem`, so that it still gets its one result row; only a
file that cannot be read at all (no header, over its size limit, not text) raises
`SubmissionsError`. UTF-8 (with or without a byte-order mark) and UTF-16 with a byte-order mark are
read; a line of UTF-8 with a bad byte is that row's problem, not the file's.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from derive.assignment.bounds import GRADE_DEFAULT, GradeLimits
from derive.errors import GradproofError, SubmissionsError, TooLargeError
from derive.limits import DEFAULT, read_bounded

COLUMNS = ("student_id", "question", "answer")
STUDENT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")
STUDENT_RULE = (
    "1 to 64 ASCII letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit"
)


@dataclass(frozen=True)
class Submission:
    """One row of the file: where it starts, what it holds, and why it cannot be graded (if so)."""

    line: int
    student_id: str | None
    question: str | None
    answer: str | None
    problem: str | None = None


@dataclass
class SubmissionsFile:
    """Every row of a submissions file, the file's sha256, and notes about the whole file."""

    source: str
    rows: list[Submission]
    sha256: str
    notes: list[str] = field(default_factory=list)


def valid_student(student_id: str) -> bool:
    """Whether a student id may name a file and a gradebook row (a grammar, not a blacklist)."""
    return bool(STUDENT_PATTERN.match(student_id))


def read_file(path: str | Path, limits: GradeLimits = GRADE_DEFAULT) -> SubmissionsFile:
    """Read a .csv or .jsonl submissions file (by its extension; .json and .ndjson are JSONL)."""
    source = str(path)
    try:
        raw = read_bounded(
            path, limits.submissions_bytes, "the submissions file", DEFAULT, "file_bytes"
        )
    except TooLargeError:
        size = Path(path).stat().st_size if Path(path).is_file() else limits.submissions_bytes + 1
        raise limits.too_large(
            "submissions_bytes", f"the submissions file is {size} bytes", size, source
        ) from None
    except GradproofError as exc:
        raise SubmissionsError(str(exc)) from None
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson", ".json"):
        raise SubmissionsError(
            f"{source}: expected a .csv file (header student_id,question,answer) or .jsonl "
            "(one JSON object a line)"
        )
    lines, notes = _lines(raw, source)
    rows = _csv_rows(lines, source, limits, notes) if suffix == ".csv" else _jsonl_rows(lines)
    if len(rows) > limits.submissions:
        raise limits.too_large("submissions", f"{len(rows)} rows", len(rows), source)
    return SubmissionsFile(source, rows, hashlib.sha256(raw).hexdigest(), notes)


def from_records(
    records: Iterable[Mapping[str, Any]], source: str = "<records>"
) -> SubmissionsFile:
    """Submissions given in code: dicts with student_id, question, answer (row n is line n)."""
    rows: list[Submission] = []
    digest = hashlib.sha256(b"records\0")
    for n, rec in enumerate(records, 1):
        text = json.dumps(dict(rec), ensure_ascii=False, sort_keys=True, default=str)
        digest.update(text.encode("utf-8") + b"\n")
        rows.append(_from_mapping(n, rec))
    return SubmissionsFile(source, rows, digest.hexdigest())


def _lines(raw: bytes, source: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The file's physical lines (with their ends), each with the problem of its bytes, if any."""
    notes: list[str] = []
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SubmissionsError(f"{source}: not UTF-16 text (byte {exc.start})") from None
        notes.append("read as UTF-16 (it has a UTF-16 byte-order mark)")
        return [(line, None) for line in text.splitlines(keepends=True)], notes
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    out: list[tuple[str, str | None]] = []
    for chunk in raw.split(b"\n"):
        try:
            out.append((chunk.decode("utf-8") + "\n", None))
        except UnicodeDecodeError as exc:
            problem = f"not UTF-8 text (byte {exc.start + 1} of the line); save the file as UTF-8"
            out.append((chunk.decode("utf-8", "replace") + "\n", problem))
    if out and out[-1][0] == "\n":
        out.pop()  # the end of the last line, not an empty line after it
    return out, notes


class _Feed:
    """Lines to `csv.reader` from a start, at most `most` (a quote left open stops there)."""

    def __init__(self, lines: list[tuple[str, str | None]], start: int, most: int) -> None:
        self.lines, self.start, self.most = lines, start, most
        self.used = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        i = self.start + self.used
        if i >= len(self.lines) or self.used >= self.most:
            raise StopIteration
        self.used += 1
        return self.lines[i][0]


def _csv_rows(
    lines: list[tuple[str, str | None]], source: str, limits: GradeLimits, notes: list[str]
) -> list[Submission]:
    rows: list[Submission] = []
    previous = csv.field_size_limit(limits.submissions_bytes + 1)  # a huge cell: the answer's limit
    try:
        _read_records(lines, source, limits, notes, rows)
    finally:
        csv.field_size_limit(previous)
    return rows


def _read_records(
    lines: list[tuple[str, str | None]],
    source: str,
    limits: GradeLimits,
    notes: list[str],
    rows: list[Submission],
) -> None:
    header: list[str] | None = None
    index: dict[str, int] = {}
    pos = 0
    while pos < len(lines):
        feed = _Feed(lines, pos, limits.record_lines)
        line = pos + 1
        try:
            record = next(csv.reader(feed, strict=True))
        except StopIteration:
            break
        except csv.Error as exc:
            if header is None:
                raise SubmissionsError(f"{source}: line {line}: not a CSV header ({exc})") from None
            if feed.used >= limits.record_lines:
                why = f"a quoted field is not closed within {limits.record_lines} lines"
            else:
                why = str(exc)
            # the record's first line alone, read leniently, still says whose it is
            first = next(csv.reader([lines[pos][0]], strict=False), [])
            values = {c: first[i] if i < len(first) else None for c, i in index.items()}
            rows.append(_malformed(line, f"malformed CSV row ({why})", values))
            pos += 1  # read on from the next line
            continue
        span = lines[pos : pos + feed.used]
        pos += feed.used
        if not record or all(not cell.strip() for cell in record):
            continue  # a blank line
        if header is None:
            header = [cell.strip().lower().lstrip("\ufeff") for cell in record]
            missing = [c for c in COLUMNS if c not in header]
            if missing or len(set(header)) != len(header):
                raise SubmissionsError(
                    f"{source}: line {line}: the header must name the columns "
                    f"{','.join(COLUMNS)} once each; found {','.join(header)[:200]!r}"
                )
            index = {c: header.index(c) for c in COLUMNS}
            extra = [c for c in header if c not in COLUMNS]
            if extra:
                notes.append(f"columns ignored: {', '.join(extra)[:200]}")
            continue
        bad = next((p for _, p in span if p), None)
        values = {c: record[i] if i < len(record) else None for c, i in index.items()}
        if bad:
            rows.append(_malformed(line, bad, values))
        elif len(record) != len(header):
            rows.append(
                _malformed(
                    line,
                    f"malformed CSV row: {len(record)} fields, the header has {len(header)}",
                    values,
                )
            )
        else:
            rows.append(_from_mapping(line, values))
    if header is None:
        raise SubmissionsError(
            f"{source}: empty: expected a header line {','.join(COLUMNS)} and one row per answer"
        )


def _jsonl_rows(lines: list[tuple[str, str | None]]) -> list[Submission]:
    rows: list[Submission] = []
    for n, (text, problem) in enumerate(lines, 1):
        if not text.strip():
            continue
        if problem:
            rows.append(_malformed(n, problem))
            continue
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            why = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
            rows.append(_malformed(n, f"not a JSON object ({why[:120]})"))
            continue
        if not isinstance(value, dict):
            rows.append(_malformed(n, f"expected a JSON object, found {type(value).__name__}"))
            continue
        rows.append(_from_mapping(n, value))
    return rows


def _malformed(line: int, why: str, values: Mapping[str, str | None] | None = None) -> Submission:
    v = values or {}
    student, question = v.get("student_id"), v.get("question")
    return Submission(
        line,
        student.strip() if student else student,
        question.strip() if question else question,
        v.get("answer"),
        why,
    )


def _from_mapping(line: int, rec: Mapping[str, Any]) -> Submission:
    """A row from its three fields; a missing or mistyped field is the row's problem."""
    student, question, answer = (rec.get(c) for c in COLUMNS)
    if isinstance(student, int) and not isinstance(student, bool):
        student = str(student)  # a numeric id in JSON
    got = {c: v for c, v in zip(COLUMNS, (student, question, answer), strict=True)}
    kept = {c: v if isinstance(v, str) else None for c, v in got.items()}
    for c, v in got.items():
        if v is None:
            return _malformed(line, f"no {c}", kept)
        if not isinstance(v, str):
            return _malformed(line, f"{c}: expected a string, found {type(v).__name__}", kept)
    return Submission(line, str(student).strip(), str(question).strip(), kept["answer"])
