"""How long `gradproof grade` takes on a class: 1,000 generated submissions over 5 questions.

    .venv/bin/python benchmarks/grade_speed.py [--rows N] [--runs K] [--jobs J] [--out FILE]

The class comes from tests/grade_class.py (correct answers in varied notation, every mistake
kind, hostile answers, duplicates, malformed rows). Each run is a fresh process, as a user's
command is: it imports gradproof, loads the assignment (each network derived once), then grades
with `derive.assignment.grade` into a new folder (results, grades, feedback, summary, charts).
Prints JSON: the median of the runs' wall time, answers per second, the share of the time in
start-up (interpreter, imports, loading the assignment), reading the submissions, checking
(deriving included) and writing; and two baselines measured in the same invocation: one
single-job run (the pool's speed-up) and one warm in-process check of one answer, the median
over the class's own answers (what a row would cost with no process, no pool, no deadline and
no sharing of identical answers).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS_USED = 5


def child(assignment: str, submissions: str, out: str, jobs: int | None) -> dict[str, Any]:
    """One graded run in this (fresh) process; the parent passed its start time."""
    started = float(os.environ["GRADE_SPEED_START"])
    import derive.assignment as a

    hw = a.load(assignment)
    loaded = time.time()
    report = a.grade(hw, submissions, out, jobs=jobs)
    ended = time.time()
    return {
        "startup": loaded - started,
        "reading": report.timings.get("reading", 0.0),
        "checking": report.timings.get("deriving", 0.0) + report.timings.get("checking", 0.0),
        "writing": report.timings.get("writing", 0.0),
        "total": ended - started,
        "rows": len(report.rows),
        "checks": report.checks,
        "reused": report.reused,
        "verdicts": {v: sum(r.verdict == v for r in report.rows) for v in a.VERDICTS},
    }


def run(assignment: Path, submissions: Path, jobs: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="grade-speed-") as tmp:
        env = dict(os.environ, GRADE_SPEED_START=repr(time.time()))
        args = [sys.executable, __file__, "--child", str(assignment), str(submissions), tmp]
        if jobs is not None:
            args += ["--jobs", str(jobs)]
        proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
        data: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
        return data


def one_check_seconds(assignment: Path, per_question: int = 8) -> float:
    """The median time of one in-process check of one answer, over the class's own answers
    (the first `per_question` of each question's bank: correct and incorrect ones)."""
    import derive.assignment as a
    from derive.answers.check import grade
    from tests.grade_class import QUESTIONS, _bank

    hw = a.load(assignment)
    bank = _bank(QUESTIONS[:QUESTIONS_USED])
    times = []
    for q in hw.questions:
        deriv = q.network.derivation
        for latex, _, _ in bank[q.id][:per_question]:
            grade(deriv, q.wrt, latex)  # warm: this answer's code paths loaded
            t = time.perf_counter()
            grade(deriv, q.wrt, latex)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, help="workers (default: one per core, as grade's)")
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--child", nargs=3, metavar=("ASSIGNMENT", "SUBMISSIONS", "OUT"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.jobs)))
        return 0
    from tests.grade_class import QUESTIONS, make_class

    with tempfile.TemporaryDirectory(prefix="grade-speed-class-") as tmp:
        made = make_class(Path(tmp), args.rows, seed=0, questions=QUESTIONS[:QUESTIONS_USED])
        runs = [run(made.assignment, made.submissions, args.jobs) for _ in range(args.runs)]
        single = run(made.assignment, made.submissions, 1)
        check_s = one_check_seconds(made.assignment)
    totals = [r["total"] for r in runs]
    median = statistics.median(totals)
    mid = runs[totals.index(median)] if median in totals else runs[0]
    parts = ("startup", "reading", "checking", "writing")
    result = {
        "benchmark": "grade_speed",
        "rows": args.rows,
        "questions": QUESTIONS_USED,
        "cores": os.cpu_count(),
        "jobs": args.jobs or os.cpu_count(),
        "runs": args.runs,
        "seconds_median": round(median, 3),
        "seconds_all": [round(t, 3) for t in totals],
        "answers_per_second": round(args.rows / median, 1),
        "share": {p: round(mid[p] / mid["total"], 3) for p in parts},
        "seconds": {p: round(mid[p], 3) for p in parts},
        "checks_run": mid["checks"],
        "rows_reused": mid["reused"],
        "verdicts": mid["verdicts"],
        "baseline_single_job_seconds": round(single["total"], 3),
        "speedup_vs_single_job": round(single["total"] / median, 2),
        "baseline_one_check_ms": round(1000 * check_s, 2),
        "batch_vs_one_check_per_row": round(args.rows * check_s / median, 2),
        "target_seconds": 30,
        "goal_seconds": 10,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
