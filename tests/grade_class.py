"""A generated class for the grading tests and benchmark: an assignment over six corpus questions
and a submissions file of N rows, each with the verdict (and mistake) it must get.

The answers come from the labelled corpus (tests/answers/corpus.toml: correct answers in varied
notation, every mistake kind), respaced or wrapped in $...$ at random (the same verdict), plus
hostile answers (invalid), duplicates (the earlier one superseded), malformed rows (a field too
many, an unclosed quote, bytes that are not UTF-8), unknown questions, student ids that are no
ids, and one cell over the answer limit.
"""

from __future__ import annotations

import csv
import io
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "answers" / "corpus.toml"

# (id, spec, wrt): together their corpus answers have every mistake kind of the diagnosis
QUESTIONS = [
    ("q1", "shared_weight", "W"),
    ("q2", "sigmoid_layer", "b"),
    ("q3", "quadratic_form", "x"),
    ("q4", "seed_example1", "w1"),
    ("q5", "seed_example2", "W1"),
    ("q6", "seed_example2", "W2"),
    ("q7", "softmax_regression", "z"),
]
PARTIAL = {"transpose": 1, "factor": 1, "sign": 0.5, "transpose+factor": 0.5}
EXTRA = [("q5", r"2(\hat{y}-y)", "incorrect", "shape")]  # the one kind the corpus lacks

HOSTILE = [
    "<script>alert(1)</script>",
    r"\input{/etc/passwd}",
    r"\def\x{y}\x",
    "(" * 300 + "x" + ")" * 300,
    r"\frac{" * 200 + "1" + "}{2}" * 200,
    "x\u202e2",
    "__import__('os').system('ls')",
    "😀",
    "x^{999999999}",
    "",
    "\\",
    "{{{{",
    r"\begin{pmatrix}1\end{pmatrix}",
    "=cmd|' /C calc'!A0",
]


@dataclass(frozen=True)
class Expected:
    line: int
    verdict: str
    mistake: str | None = None


@dataclass
class GeneratedClass:
    assignment: Path
    submissions: Path
    expected: dict[int, Expected]  # by line
    students: list[str]
    answered: set[tuple[str, str]]  # (student, question) with a counted row


def assignment_toml(questions: list[tuple[str, str, str]] = QUESTIONS) -> str:
    lines = ['title = "A generated class"', 'course = "Tests"']
    for qid, spec, wrt in questions:
        partial = ", ".join(f'"{k}" = {v}' for k, v in PARTIAL.items())
        lines += [
            "",
            "[[question]]",
            f'id = "{qid}"',
            f'spec = "{(ROOT / "examples" / f"{spec}.toml").as_posix()}"',
            f'wrt = "{wrt}"',
            "points = 2",
            f"partial = {{ {partial} }}",
        ]
    return "\n".join(lines) + "\n"


def _bank(questions: list[tuple[str, str, str]]) -> dict[str, list[tuple[str, str, str | None]]]:
    corpus = tomllib.loads(CORPUS.read_text(encoding="utf-8"))["answer"]
    bank: dict[str, list[tuple[str, str, str | None]]] = {q: [] for q, _, _ in questions}
    for qid, spec, wrt in questions:
        for a in corpus:
            if a["spec"] == spec and a["wrt"] == wrt:
                bank[qid].append((a["latex"], a["verdict"], a["mistake"] or None))
    for qid, latex, verdict, mistake in EXTRA:
        if qid in bank:
            bank[qid].append((latex, verdict, mistake))
    return bank


def _respaced(rng: random.Random, latex: str) -> str:
    """The same answer as another student might space it (the same tokens)."""
    choice = rng.random()
    if choice < 0.3:
        return latex.replace("+", " + ").replace("-", " - ")
    if choice < 0.45:
        return f"${latex}$"
    if choice < 0.55:
        return f"  {latex}  "
    return latex


def make_class(
    folder: Path, rows: int = 1000, seed: int = 0, questions: list[tuple[str, str, str]] = QUESTIONS
) -> GeneratedClass:
    """Write assignment.toml and submissions.csv into folder; return what each row must get."""
    rng = random.Random(seed)
    bank = _bank(questions)
    ids = [q for q, _, _ in questions]
    students = [f"s{n:03d}" for n in range(1, max(2, rows // 5) + 1)]
    out = io.BytesIO()
    out.write(b"student_id,question,answer\n")
    line = 2
    expected: dict[int, Expected] = {}
    last: dict[tuple[str, str], int] = {}

    def record(cells: list[str]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(cells)
        return buf.getvalue().encode("utf-8")

    def put(data: bytes, verdict: str, mistake: str | None = None) -> int:
        nonlocal line
        start = line
        out.write(data)
        line += data.count(b"\n")
        expected[start] = Expected(start, verdict, mistake)
        return start

    specials = [
        "hostile", "duplicate", "fields", "quote", "encoding", "unknown", "student", "huge",
    ]  # fmt: skip
    appeared: set[str] = set()
    every = [(qid, entry) for qid in ids for entry in bank[qid]]  # each corpus answer once first
    for n in range(rows):
        student = rng.choice(students)
        qid = every[n][0] if n < len(every) else rng.choice(ids)
        first = n < len(every)
        kind = "answer" if first or rng.random() < 0.8 else specials[n % len(specials)]
        if n == rows - 1:
            kind = "huge"
        if kind != "student":
            appeared.add(student)
        if kind == "answer" or kind == "duplicate":
            latex, verdict, mistake = every[n][1] if first else rng.choice(bank[qid])
            if kind == "duplicate" and (student, qid) in last:
                # the same student and question again: the earlier row is superseded
                earlier = last[(student, qid)]
                expected[earlier] = Expected(earlier, "superseded")
            elif (student, qid) in last:
                earlier = last[(student, qid)]
                expected[earlier] = Expected(earlier, "superseded")
            at = put(record([student, qid, _respaced(rng, latex)]), verdict, mistake)
            last[(student, qid)] = at
        elif kind == "hostile":
            if (student, qid) in last:
                expected[last[(student, qid)]] = Expected(last[(student, qid)], "superseded")
            last[(student, qid)] = put(record([student, qid, rng.choice(HOSTILE)]), "invalid")
        elif kind == "fields":
            if (student, qid) in last:
                expected[last[(student, qid)]] = Expected(last[(student, qid)], "superseded")
            last[(student, qid)] = put(record([student, qid, "2 x", "surplus"]), "invalid")
        elif kind == "quote":
            # a quote left open: the row is malformed, the rows after it are read as usual
            if (student, qid) in last:
                expected[last[(student, qid)]] = Expected(last[(student, qid)], "superseded")
            data = f'{student},{qid},"2 (\\hat{{y}} - y\n'.encode()
            last[(student, qid)] = put(data, "invalid")
        elif kind == "encoding":
            if (student, qid) in last:
                expected[last[(student, qid)]] = Expected(last[(student, qid)], "superseded")
            last[(student, qid)] = put(f"{student},{qid},2 ".encode() + b"\xff\xfe x\n", "invalid")
        elif kind == "unknown":
            put(record([student, "q99", "2 x"]), "invalid")
        elif kind == "student":
            put(
                record([rng.choice(["../../etc/passwd", "=HYPERLINK(1)", ""]), qid, "x"]), "invalid"
            )
        elif kind == "huge":
            if (student, qid) in last:
                expected[last[(student, qid)]] = Expected(last[(student, qid)], "superseded")
            last[(student, qid)] = put(record([student, qid, "x + " * 6000 + "x"]), "invalid")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "assignment.toml").write_text(assignment_toml(questions), encoding="utf-8")
    (folder / "submissions.csv").write_bytes(out.getvalue())
    return GeneratedClass(
        folder / "assignment.toml",
        folder / "submissions.csv",
        expected,
        sorted(appeared),
        set(last),
    )
