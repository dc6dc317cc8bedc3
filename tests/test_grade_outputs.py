"""The example class (examples/hw_seed): what each file holds, that submissions are escaped in it,
that a slow or crashing check is `timeout` or `error` with the batch going on, and that each
network is derived once and each distinct answer checked once."""

from __future__ import annotations

import json
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import derive.api
import derive.assignment as A
from derive.assignment import grading

ROOT = Path(__file__).resolve().parent.parent
HW = ROOT / "examples" / "hw_seed"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[A.GradeReport, Path]:
    out = tmp_path_factory.mktemp("hw") / "out"
    report = A.load(HW / "assignment.toml").grade(HW / "submissions.csv", out=out)
    return report, out


def test_the_example_class(graded: tuple[A.GradeReport, Path]) -> None:
    report, out = graded
    assert (out / "grades.csv").read_text() == (
        "student_id,q1,q2,q3,q4,q5,q6,total\n"
        "ada,2,1,2,1,3,2,11\n"
        "bo,1,1,1,1,3,2,9\n"
        "cy,2,0,1,1,2,0,6\n"
        "dee,0,0,2,0,2,2,6\n"
        "eve,0,0,0,0,0,0,0\n"
        "fay,2,0,2,0,3,0,7\n"
    )
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    # one row per record (lines 13-14 are one answer over two lines)
    assert [r["line"] for r in rows if r["line"]] == [n for n in range(2, 36) if n != 14]
    by_line = {r["line"]: r for r in rows}
    assert by_line[16]["verdict"] == "superseded" and "line 17" in by_line[16]["diagnosis"]
    assert by_line[10]["mistake"] == "transpose" and by_line[10]["points"] == 1
    assert by_line[27]["diagnosis"].startswith("line 27: no question 'q7'")
    assert "malformed CSV row" in by_line[30]["diagnosis"] and by_line[30]["student_id"] == "eve"
    assert "student_id '../../etc'" in by_line[35]["diagnosis"]
    assert report.scores["bo"]["q3"] == 1 and report.total("ada") == 11
    assert report.counts("q3") == {"correct": 3, "incorrect": 2, "superseded": 1, "invalid": 1}


def test_feedback_tells_what_went_wrong_and_never_the_answer(
    graded: tuple[A.GradeReport, Path],
) -> None:
    _, out = graded
    bo = (out / "feedback" / "bo.md").read_text()
    assert "**9 of 11 points**" in bo
    assert "## q3: 1 of 2 points, incorrect" in bo
    assert "transpose your answer" in bo and "How to fix it" in bo
    assert "The expected answer" not in bo
    eve = (out / "feedback" / "eve.md").read_text()
    assert "`<script>alert(1)</script>`" in eve  # a code span: shown, not markup
    outside = re.sub(r"(`+).*?\1", "", eve)
    assert "<" not in outside.replace("\\<", "")  # elsewhere every < is escaped
    assert sorted(p.name for p in (out / "feedback").iterdir()) == [
        "ada.md", "bo.md", "cy.md", "dee.md", "eve.md", "fay.md",
    ]  # fmt: skip


def test_reveal_puts_the_key_into_feedback(tmp_path: Path) -> None:
    A.load(HW / "assignment.toml").grade(HW / "submissions.csv", out=tmp_path, reveal=True)
    bo = (tmp_path / "feedback" / "bo.md").read_text()
    assert r"The expected answer: `2 (\hat{y} - y) z^{T}`" in bo


class _Tags(HTMLParser):
    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()


def test_the_summary_is_well_formed_escaped_html(graded: tuple[A.GradeReport, Path]) -> None:
    _, out = graded
    page = (out / "summary.html").read_text()
    parser = _Tags()
    parser.feed(page)
    assert parser.open == []
    assert "script" not in parser.tags  # the hostile answer is text
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in page
    for q in ("q1", "q6"):
        assert f'<img src="charts/{q}.png"' in page
        assert (out / "charts" / f"{q}.png").read_bytes().startswith(b"\x89PNG")
    md = (out / "summary.md").read_text()
    assert "## q3 (2 points)" in md and "`transpose` (1)" in md
    assert "![The students' totals](charts/scores.png)" in md


def test_grading_again_changes_nothing(graded: tuple[A.GradeReport, Path]) -> None:
    _, out = graded
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = A.load(HW / "assignment.toml").grade(HW / "submissions.csv", out=out)
    assert again.checks == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_slow_or_crashing_check_is_timeout_or_error_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = grading._Checker.__call__

    def patched(self: Any, task: dict[str, Any]) -> dict[str, Any]:
        if task["answer"] == "SLOW":
            time.sleep(30)
        if task["answer"] == "CRASH":
            os._exit(9)
        if task["answer"] == "BUG":
            raise KeyError("a bug")
        return real(self, task)

    monkeypatch.setattr(grading._Checker, "__call__", patched)  # the workers fork after this
    rows = [
        {"student_id": "a", "question": "q3", "answer": "SLOW"},
        {"student_id": "b", "question": "q3", "answer": "CRASH"},
        {"student_id": "c", "question": "q3", "answer": "BUG"},
        *(
            {"student_id": f"s{i}", "question": "q3", "answer": r"2(\hat{y}-y)z^T"}
            for i in range(5)
        ),
    ]
    started = time.monotonic()
    report = A.load(HW / "assignment.toml").grade(rows, timeout=1.0)
    assert time.monotonic() - started < 20
    by = {r.student_id: r for r in report.rows if r.question == "q3"}
    assert by["a"].verdict == "timeout" and "not counted as incorrect" in (by["a"].diagnosis or "")
    assert by["b"].verdict == "error" and "exit status 9" in (by["b"].diagnosis or "")
    assert by["c"].verdict == "error" and "KeyError" in (by["c"].diagnosis or "")
    assert all(by[f"s{i}"].verdict == "correct" for i in range(5))
    assert report.scores["a"]["q3"] == 0


def test_each_network_is_derived_once_and_each_answer_checked_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "derived"
    real = derive.api.derive_gradients

    def counted(spec: Any) -> Any:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # from any process
        os.write(fd, b"x")
        os.close(fd)
        return real(spec)

    monkeypatch.setattr(derive.api, "derive_gradients", counted)
    hw = A.load(HW / "assignment.toml")
    spaced = [r"2(\hat{y}-y)z^T", r"2 ( \hat{y} - y ) z^T", r" 2(\hat{y}-y) z ^ T "]
    rows = [
        {"student_id": f"s{i}", "question": q, "answer": spaced[i % 3]}
        for i in range(60)
        for q in ("q3", "q5")
    ]
    report = hw.grade(rows, jobs=2)
    assert log.read_bytes() == b"xx"  # two networks (Example 1 and 2), at load, never again
    assert report.checks == 2  # one per question: the spacings read the same
    assert report.reused == 118
    assert {r.verdict for r in report.rows if r.question == "q3"} == {"correct"}
    assert {r.verdict for r in report.rows if r.question == "q5"} == {"incorrect"}


def test_normalized_keeps_what_changes_a_reading() -> None:
    assert A.normalized("  2 ( x + y )  z^T ") == A.normalized("2(x+y) z^T")
    assert A.normalized("x y") != A.normalized("xy")
    assert A.normalized(r"\cdot x") != A.normalized(r"\cdotx")
    assert A.normalized(r"\ x") != A.normalized(r"\x")
