"""Grading a class: every submission gets exactly one result row, whatever happens to it.

The plan comes first and is a pure function of the assignment and the submissions file: rows that
cannot be graded (malformed, an unknown question or student id, an answer over the size limit,
superseded by a later row of the same student and question) get their row at once; the others
wait for a check. Checks run in a pool of forked workers (`derive.workers.Pool`), forked after
every question's network is derived and the grader warmed up on its key, so neither is redone per
answer; identical answers to a question, up to spacing that cannot change how they read, are
checked once. A check killed at its deadline is `timeout`; a check that crashes is `error`; the
batch goes on. With an output folder, rows are appended as they come (see `results.py`), and a
run after a kill grades only what is missing.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from derive.answers.check import CORRECT, ERROR, INCORRECT, INVALID
from derive.answers.check import grade as check_answer
from derive.assignment.bounds import GRADE_DEFAULT, GradeLimits
from derive.assignment.model import Assignment, Question
from derive.assignment.results import Folder, Row
from derive.assignment.submissions import (
    STUDENT_RULE,
    Submission,
    SubmissionsFile,
    from_records,
    read_file,
    valid_student,
)
from derive.workers import Pool, default_jobs

TIMEOUT, SUPERSEDED, MISSING = "timeout", "superseded", "missing"
RESULT_FIELDS = ("verdict", "mistake", "diagnosis", "counterexample", "parsed", "warnings")
REUSABLE = (CORRECT, INCORRECT)  # verdicts whose words never quote a place in the typed text
PREVIEW_CHARS = 1_000  # of an answer over the limit, kept in its row


def normalized(answer: str) -> str:
    """The answer up to spacing that cannot change its tokens: NFC, the ends stripped, runs of
    white space made one space, and a space next to an operator or bracket dropped (not after a
    backslash, where `\\ ` is a command of its own)."""
    text = unicodedata.normalize("NFC", answer).strip()
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"(?<!\\) (?=[-+*/=^_'(){}\[\]|,<>!])|(?<=[-+*/=^_'(){}\[\]|,<>!]) ", "", text)


@dataclass
class Pending:
    """A submission waiting for a check of its (question, answer)."""

    index: int  # its place in the plan
    sub: Submission
    question: Question


@dataclass
class Plan:
    """Every row in canonical order: done ones filled in, the others waiting for a check."""

    rows: list[Row | None]
    pending: list[Pending]
    students: list[str]
    missing: list[Row]
    notes: list[str]


@dataclass
class GradeReport:
    """What `grade` returns: every row, each student's points, and how the time was spent."""

    assignment: Assignment
    rows: list[Row]
    students: list[str]
    scores: dict[str, dict[str, Decimal]]
    notes: list[str]
    timings: dict[str, float]
    checks: int  # checks run in this call
    reused: int  # rows that took the result of an identical answer, or of an earlier run
    written: list[Path] = field(default_factory=list)

    def total(self, student: str) -> Decimal:
        return sum(self.scores[student].values(), Decimal(0))

    def counts(self, question: str) -> dict[str, int]:
        """Rows of a question by verdict."""
        out: dict[str, int] = {}
        for r in self.rows:
            if r.question == question:
                out[r.verdict] = out.get(r.verdict, 0) + 1
        return out

    def _repr_markdown_(self) -> str:
        from derive.assignment.summary import summary_markdown

        return summary_markdown(self, charts={})


def plan(assignment: Assignment, subs: SubmissionsFile, limits: GradeLimits) -> Plan:
    """The rows of every submission that needs no check, and the ones that wait for one."""
    questions = {q.id: q for q in assignment.questions}
    last: dict[tuple[str, str], int] = {}
    for sub in subs.rows:
        if sub.student_id and valid_student(sub.student_id) and sub.question in questions:
            last[(sub.student_id, sub.question)] = sub.line
    rows: list[Row | None] = []
    pending: list[Pending] = []
    students: set[str] = set()
    notes = list(subs.notes)
    superseded = 0
    for sub in subs.rows:
        base = Row(sub.line, sub.student_id, sub.question, _kept(sub.answer, limits), INVALID)
        if sub.student_id and valid_student(sub.student_id):
            students.add(sub.student_id)
        key = (sub.student_id or "", sub.question or "")
        if key in last and last[key] != sub.line:
            base.verdict = SUPERSEDED
            base.diagnosis = (
                f"superseded by the row at line {last[key]} (the last row of a student and "
                "question counts)"
            )
            superseded += 1
        elif sub.problem:
            base.diagnosis = f"line {sub.line}: {sub.problem}"
        elif not sub.student_id or not valid_student(sub.student_id):
            base.diagnosis = (
                f"line {sub.line}: student_id {sub.student_id!r}: expected {STUDENT_RULE}"
            )
        elif sub.question not in questions:
            close = get_close_matches(sub.question or "", list(questions), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            base.diagnosis = (
                f"line {sub.line}: no question {sub.question!r} in the assignment{hint}; "
                f"expected one of {', '.join(questions)}"
            )
        elif sub.answer is not None and len(sub.answer) > limits.answer_chars:
            base.diagnosis = (
                f"the answer is {len(sub.answer)} characters long (at most {limits.answer_chars})"
            )
        else:
            pending.append(Pending(len(rows), sub, questions[sub.question]))
            rows.append(None)
            continue
        rows.append(base)
    if superseded:
        notes.append(
            f"{superseded} row(s) superseded by a later row of the same student and question"
        )
    counted = {(s, q) for (s, q) in last}
    missing = [
        Row(None, s, q.id, None, MISSING, diagnosis="no answer was submitted")
        for s in sorted(students)
        for q in assignment.questions
        if (s, q.id) not in counted
    ]
    return Plan(rows, pending, sorted(students), missing, notes)


def _kept(answer: str | None, limits: GradeLimits) -> str | None:
    if answer is None or len(answer) <= limits.answer_chars:
        return answer
    return answer[:PREVIEW_CHARS] + f"… ({len(answer)} characters in all)"


def row_from(p: Pending, result: Mapping[str, Any]) -> Row:
    """A submission's row from a check's result."""
    row = Row(p.sub.line, p.sub.student_id, p.question.id, p.sub.answer, str(result["verdict"]))
    row.mistake = result.get("mistake")
    row.diagnosis = result.get("diagnosis")
    row.counterexample = result.get("counterexample")
    row.parsed = result.get("parsed")
    row.warnings = list(result.get("warnings") or [])
    row.points = p.question.points_for(row.verdict, row.mistake)
    return row


def result_of(row: Row) -> dict[str, Any]:
    return {name: getattr(row, name) for name in RESULT_FIELDS}


class _Checker:
    """The work each worker does: one answer to one question, with `derive.answers.check.grade`."""

    def __init__(self, assignment: Assignment, lenient: bool, seed: int) -> None:
        self.questions = {q.id: q for q in assignment.questions}
        self.lenient = lenient
        self.seed = seed

    def __call__(self, task: dict[str, Any]) -> dict[str, Any]:
        q = self.questions[task["question"]]
        result = check_answer(q.network.derivation, q.wrt, task["answer"], self.lenient, self.seed)
        data = asdict(result)
        return {name: data[name] for name in RESULT_FIELDS}


def _timed_out(seconds: float) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def result(task: dict[str, Any]) -> dict[str, Any]:
        return {
            "verdict": TIMEOUT,
            "diagnosis": f"the check did not finish within {seconds:g} s and was stopped; "
            "this is not counted as incorrect: your instructor will look at it",
        }

    return result


def _died(task: dict[str, Any], why: str) -> dict[str, Any]:
    return {
        "verdict": ERROR,
        "diagnosis": f"the grader's process died on this answer ({why}); please report it",
    }


FAILED_WORDS = {
    "memory": (INVALID, "the check ran out of memory (the answer is too large)"),
    "nesting": (INVALID, "the answer is nested too deeply"),
}


def _settled(result: dict[str, Any]) -> dict[str, Any]:
    """A worker's own failure (`failed`) as a verdict."""
    if "failed" not in result:
        return result
    verdict, words = FAILED_WORDS.get(
        result["failed"],
        (ERROR, f"gradproof failed on this answer ({result.get('message', '')}); please report it"),
    )
    return {"verdict": verdict, "diagnosis": words}


def grade(
    assignment: Assignment,
    submissions: str | Path | SubmissionsFile | Iterable[Mapping[str, Any]],
    out: str | Path | None = None,
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    lenient: bool = False,
    seed: int = 0,
    restart: bool = False,
    reveal: bool = False,
    progress: Callable[[int, int], None] | None = None,
    limits: GradeLimits = GRADE_DEFAULT,
    charts: bool = True,
    version: str = "",
) -> GradeReport:
    """Grade every submission; with `out`, write results.jsonl, grades.csv, feedback/, summary.

    `submissions` is a .csv or .jsonl file, or rows as dicts (student_id, question, answer).
    `progress(done, total)` is called as rows are settled. Returns the rows and the scores.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    timeout = limits.check_seconds if timeout is None else timeout
    if isinstance(submissions, SubmissionsFile):
        subs = submissions
    elif isinstance(submissions, (str, Path)):
        subs = read_file(submissions, limits)
    else:
        subs = from_records(submissions)
    the_plan = plan(assignment, subs, limits)
    rows = the_plan.rows
    total = len(rows)
    timings["reading"] = time.perf_counter() - started
    state = {
        "assignment": assignment.fingerprint,
        "submissions": subs.sha256,
        "options": {"lenient": lenient, "seed": seed, "timeout": timeout},
        "gradproof": version,
    }
    folder = Folder(Path(out), state, restart) if out is not None else None
    checks = reused = 0
    mark = time.perf_counter()
    try:
        if folder is not None:
            folder.__enter__()
        earlier = folder.graded() if folder is not None else {}
        done = 0
        # rows settled by an earlier run, and rows that need no check
        by_exact: dict[tuple[str, str], dict[str, Any]] = {}
        for p in the_plan.pending:
            old = earlier.get(p.sub.line)
            if old is not None:
                _same_submission(folder, old, p.sub)
                rows[p.index] = row_from(p, result_of(old))
                by_exact[(p.question.id, p.sub.answer or "")] = result_of(old)
                reused += 1
        for row in rows:
            if row is None:
                continue
            if folder is not None and row.line not in earlier:
                folder.append(row)
            elif row.line in earlier:
                _same_submission(folder, earlier[row.line], None, row)
            done += 1
        if progress:
            progress(done, total)
        waiting = [p for p in the_plan.pending if rows[p.index] is None]
        timings["resuming"] = time.perf_counter() - mark
        mark = time.perf_counter()
        if waiting:
            checker = _Checker(assignment, lenient, seed)
            the_plan.notes += _warm(assignment, {p.question.id for p in waiting}, checker)
            timings["deriving"] = time.perf_counter() - mark
            mark = time.perf_counter()
            checks, more = _run_checks(
                waiting, rows, by_exact, checker, jobs, timeout, limits, folder, progress, done,
                total,
            )  # fmt: skip
            reused += more
        timings["checking"] = time.perf_counter() - mark
        mark = time.perf_counter()
        final = [r for r in rows if r is not None] + the_plan.missing
        assert len(final) == total + len(the_plan.missing)
        scores = _scores(assignment, the_plan.students, final)
        report = GradeReport(
            assignment, final, the_plan.students, scores, the_plan.notes, timings, checks, reused
        )
        if folder is not None:
            folder.finish(final)
            from derive.assignment.outputs import write_outputs

            report.written = write_outputs(report, folder.path, reveal=reveal, charts=charts)
        timings["writing"] = time.perf_counter() - mark
        return report
    finally:
        if folder is not None:
            folder.close()


def _same_submission(
    folder: Folder | None, old: Row, sub: Submission | None, row: Row | None = None
) -> None:
    """An earlier run's row must be the row of the same submission (the state file matched)."""
    here = (sub.student_id, sub.question, sub.answer) if sub else (
        row.student_id, row.question, row.answer) if row else None  # fmt: skip
    if here != (old.student_id, old.question, old.answer):
        from derive.errors import GradeStateError

        where = folder.path if folder else "the output folder"
        raise GradeStateError(
            f"{where}: results.jsonl's row for line {old.line} is not that submission's; "
            "use --restart to grade afresh"
        )


def _warm(assignment: Assignment, ids: set[str], checker: _Checker) -> list[str]:
    """Derive each question's network and grade its own key once, here, before the workers fork:
    they inherit the derivation and the grader's caches instead of building them per answer."""
    notes: list[str] = []
    for q in assignment.questions:
        if q.id in ids:
            key = q.network.gradient(q.wrt).latex
            verdict = checker({"question": q.id, "answer": key})["verdict"]
            if verdict != CORRECT:  # a bug of the grader's, said before any student is graded
                notes.append(
                    f"question {q.id}: the key itself is graded {verdict}; please report it"
                )
    return notes


def _run_checks(
    waiting: list[Pending],
    rows: list[Row | None],
    by_exact: dict[tuple[str, str], dict[str, Any]],
    checker: _Checker,
    jobs: int | None,
    timeout: float,
    limits: GradeLimits,
    folder: Folder | None,
    progress: Callable[[int, int], None] | None,
    done: int,
    total: int,
) -> tuple[int, int]:
    """Check each distinct answer once; settle every waiting row as its result comes."""
    by_norm: dict[tuple[str, str], dict[str, Any]] = {}
    representative: dict[tuple[str, str], str] = {}
    waiters: dict[tuple[str, str, str], list[Pending]] = {}
    queue: deque[dict[str, Any]] = deque()
    checks = 0
    for (qid, answer), result in by_exact.items():
        key = (qid, normalized(answer))
        if key not in by_norm and result["verdict"] in REUSABLE:
            by_norm[key] = result
            representative[key] = answer

    def settle(p: Pending, result: dict[str, Any]) -> None:
        nonlocal done
        row = row_from(p, result)
        rows[p.index] = row
        if folder is not None:
            folder.append(row)
        done += 1
        if progress:
            progress(done, total)

    def route(p: Pending) -> bool:
        """Settle p from a known result, or queue the check it waits for; True if settled."""
        answer = p.sub.answer or ""
        exact = (p.question.id, answer)
        if exact in by_exact:
            settle(p, by_exact[exact])
            return True
        norm = (p.question.id, normalized(answer))
        if norm in by_norm and by_norm[norm]["verdict"] in REUSABLE:
            settle(p, by_norm[norm])
            return True
        if norm not in representative:  # the first of its kind is checked as typed
            representative[norm] = answer
        ask = answer if norm in by_norm else representative[norm]
        task_key = (p.question.id, ask, "exact" if norm in by_norm else "norm")
        if task_key not in waiters:
            waiters[task_key] = []
            queue.append({"question": p.question.id, "answer": ask, "kind": task_key[2]})
        waiters[task_key].append(p)
        return False

    for p in waiting:
        route(p)
    pool = Pool(
        checker,
        jobs or default_jobs(),
        timeout,
        on_timeout=_timed_out(timeout),
        on_death=_died,
        memory_mib=limits.check_memory_mib,
    )
    with pool:
        for task, raw in pool.run(queue):
            checks += 1
            result = _settled(raw)
            qid, answer = task["question"], task["answer"]
            by_exact[(qid, answer)] = result
            norm = (qid, normalized(answer))
            by_norm.setdefault(norm, result)
            for p in sorted(waiters.pop((qid, answer, task["kind"])), key=lambda w: w.index):
                route(p)
    return checks, len(waiting) - checks  # every row settled without a check of its own


def _scores(
    assignment: Assignment, students: list[str], rows: list[Row]
) -> dict[str, dict[str, Decimal]]:
    scores = {s: {q.id: Decimal(0) for q in assignment.questions} for s in students}
    for r in rows:
        counted = r.verdict not in (SUPERSEDED, MISSING) and r.student_id in scores
        if counted and r.question in scores[r.student_id or ""]:
            scores[r.student_id or ""][r.question or ""] = r.points
    return scores
