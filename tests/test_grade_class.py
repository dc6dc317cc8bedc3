"""Grading a generated class of 1,000 submissions over six questions: exactly one row each with the
verdict it must get; killed with SIGKILL at random points (or ^C) and run again, the final files
are byte for byte those of a run that was never stopped, with no row twice and none missing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import derive.assignment as A
from tests.grade_class import QUESTIONS, GeneratedClass, make_class

ROWS = 1000
TIMEOUT = "60"  # per check: far over any check here, so that no verdict depends on the load


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedClass:
    return make_class(tmp_path_factory.mktemp("class"), ROWS, seed=11)


@pytest.fixture(scope="module")
def unkilled(generated: GeneratedClass, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unkilled") / "out"
    run = _grade(generated, out)
    assert run.returncode == 0, run.stderr
    return out


def _command(c: GeneratedClass, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "derive.cli", "grade", str(c.assignment), str(c.submissions),
        "-o", str(out), "--quiet", "--timeout", TIMEOUT, *extra,
    ]  # fmt: skip


def _grade(c: GeneratedClass, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(c, out, *extra), capture_output=True, text=True, timeout=300, check=False
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".grade.lock"
    }


def _rows(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def test_one_row_per_submission_with_the_right_verdicts(
    generated: GeneratedClass, unkilled: Path
) -> None:
    rows = _rows(unkilled)
    lines = [r["line"] for r in rows if r["line"] is not None]
    assert len(lines) == len(set(lines)) == ROWS
    assert set(lines) == set(generated.expected)
    wrong = []
    labelled = agreed = 0
    for r in rows:
        if r["line"] is None:
            continue
        want = generated.expected[int(r["line"])]  # type: ignore[call-overload]
        if r["verdict"] != want.verdict:
            wrong.append((r["line"], want, r["verdict"], r["answer"], r["diagnosis"]))
        if want.mistake and r["verdict"] == "incorrect":
            labelled += 1
            agreed += r["mistake"] == want.mistake
    assert not wrong, wrong[:5]
    assert labelled > 100 and agreed >= 0.9 * labelled  # the corpus test's own threshold
    verdicts = Counter(str(r["verdict"]) for r in rows)
    for v in ("correct", "incorrect", "invalid", "superseded", "missing"):
        assert verdicts[v] > 0, verdicts
    # every mistake kind of the diagnosis is in the class
    kinds = {str(r["mistake"]) for r in rows if r["mistake"]}
    assert {k for k in A.mistake_kinds()} <= {p for k in kinds for p in k.split("+")}
    # one missing row per student and question without a counted row
    missing = {(r["student_id"], r["question"]) for r in rows if r["verdict"] == "missing"}
    expected_missing = {
        (s, q) for s in generated.students for q in A.load(generated.assignment).ids
    } - generated.answered
    assert missing == expected_missing


def test_points_and_grades_follow_the_rows(generated: GeneratedClass, unkilled: Path) -> None:
    hw = A.load(generated.assignment)
    rows = _rows(unkilled)
    for r in rows:
        q = hw.question(str(r["question"])) if r["question"] in hw.ids else None
        if r["verdict"] == "correct":
            assert q is not None and r["points"] == q.points
        elif r["verdict"] == "incorrect":
            assert q is not None
            assert r["points"] == float(q.points_for("incorrect", r["mistake"]))  # type: ignore[arg-type]
        else:
            assert r["points"] == 0
    grades = (unkilled / "grades.csv").read_text().splitlines()
    assert grades[0] == ",".join(["student_id", *(q for q, _, _ in QUESTIONS), "total"])
    assert len(grades) == 1 + len(generated.students)
    totals: Counter[str] = Counter()
    for r in rows:
        if r["verdict"] not in ("superseded", "missing") and r["student_id"] in generated.students:
            totals[str(r["student_id"])] += float(r["points"])  # type: ignore[arg-type]
    for line in grades[1:]:
        cells = line.split(",")
        assert float(cells[-1]) == pytest.approx(totals[cells[0]])
        assert float(cells[-1]) == pytest.approx(sum(float(c) for c in cells[1:-1]))
    assert len(list((unkilled / "feedback").glob("*.md"))) == len(generated.students)


def _wait_for_rows(proc: subprocess.Popen[bytes], results: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if results.exists() and results.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.005)


def test_killed_at_random_points_and_resumed_gives_the_same_files(
    generated: GeneratedClass, unkilled: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    rng = random.Random(5)
    kills = 0
    for attempt in range(3):
        proc = subprocess.Popen(
            _command(generated, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        _wait_for_rows(proc, out / "results.jsonl", rng.randint(250, 950))
        if proc.poll() is None:
            if attempt == 0:
                os.kill(proc.pid, signal.SIGKILL)  # `kill -9 PID`: its grading process goes too
            else:
                os.killpg(proc.pid, signal.SIGKILL)  # the whole group, workers included
            kills += 1
        proc.wait(timeout=60)
        rows = [json.loads(x) for x in (out / "results.jsonl").read_bytes().splitlines()[:-1]]
        lines = [r["line"] for r in rows if r["line"] is not None]
        assert len(lines) == len(set(lines))  # never a row twice
    assert kills >= 2
    before = len(_rows(out))
    final = _grade(generated, out)
    assert final.returncode == 0, final.stderr
    assert before < ROWS + 600  # the rerun had rows left to grade, and graded only those
    assert _files(out) == _files(unkilled)


def test_interrupted_keeps_every_row_and_exits_130(
    generated: GeneratedClass, unkilled: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _command(generated, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    _wait_for_rows(proc, out / "results.jsonl", 400)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the interrupt reached it")
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    kept = (out / "results.jsonl").read_bytes().count(b"\n")
    assert kept >= 400
    again = _grade(generated, out)
    assert again.returncode == 0, again.stderr
    assert _files(out) == _files(unkilled)


def test_a_changed_submissions_file_is_refused_unless_restart(tmp_path: Path) -> None:
    small = make_class(tmp_path / "class", 120, seed=3)
    out = tmp_path / "out"
    assert _grade(small, out).returncode == 0
    graded = _files(out)
    changed = tmp_path / "changed.csv"
    changed.write_bytes(small.submissions.read_bytes() + b"s001,q1,2 x\n")
    other = GeneratedClass(small.assignment, changed, {}, [], set())
    refused = _grade(other, out)
    assert refused.returncode == 2
    assert "different submissions" in refused.stderr and "--restart" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert _files(out) == graded  # nothing touched
    restarted = _grade(other, out, "--restart")
    assert restarted.returncode == 0, restarted.stderr
    assert len([r for r in _rows(out) if r["line"] is not None]) == 121
    # the same command again: every row already there, the same files
    kept = _files(out)
    assert _grade(other, out).returncode == 0
    assert _files(out) == kept
