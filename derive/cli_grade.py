"""The `gradproof grade` command: a class's submissions against an assignment, into a folder.

Registered on the main parser by `derive.cli.build_parser`. Exit codes as every command's: 0 the
class was graded (whatever the verdicts), 2 bad input (an assignment refused with one line naming
the file, the question and the field; an unreadable submissions file; a folder holding another
run's results), 130 interrupted (every row graded so far is kept: run the same command again).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from derive import cli_common as opt
from derive.cli_common import EXIT_OK
from derive.errors import OptionError
from derive.limits import Limits


def add_commands(sub: Any) -> None:
    """Add `grade` to `sub` (the main parser's subparsers)."""
    from derive.assignment.bounds import GRADE_DEFAULT as G

    g = opt.add_command(
        sub,
        "grade",
        run_grade,
        help="grade a class's answers to an assignment: results, grades.csv, feedback, summary",
        description=(
            "Grade every submission (CSV with header student_id,question,answer, or JSONL with\n"
            "those keys; LaTeX in answer) against the assignment's questions, in a pool of\n"
            "worker processes. Writes into DIR: results.jsonl (one row per submission),\n"
            "grades.csv (one row per student), feedback/STUDENT.md, summary.md and summary.html.\n"
            "Rows are appended as graded: after a kill or ^C, the same command grades only what\n"
            "is missing."
        ),
        epilog=(
            "verdicts: correct, incorrect, invalid, timeout (not counted as incorrect), error,\n"
            "superseded (a later row of the same student and question counts), missing.\n"
            "The whole command runs within --time-limit (a global option, default 120 s); a\n"
            "class that needs longer resumes where it was stopped, or raise it.\n\n"
            "example:\n"
            "  gradproof grade examples/hw_seed/assignment.toml examples/hw_seed/submissions.csv "
            "-o graded/"
        ),
    )
    opt.add_assignment(g)
    g.add_argument("submissions", metavar="SUBMISSIONS", help="a .csv or .jsonl file of answers")
    opt.add_folder(g)
    g.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: one per core)")
    opt.add_timeout(g, G.check_seconds, "seconds per check, then stopped: verdict timeout")
    opt.add_switches(
        g,
        ("--lenient", "as `check --lenient`, for every answer"),
        ("--restart", "grade afresh, replacing DIR's earlier results"),
        ("--reveal", "put the expected answer into each feedback file"),
        ("--quiet", "no progress on standard error"),
        ("--no-charts", "no bar charts (matplotlib)"),
    )
    opt.add_number(
        g, "--max-submissions", int, G.submissions, "rows in the submissions file", metavar="N"
    )
    opt.add_number(
        g, "--max-submissions-bytes", int, G.submissions_bytes, "size of the submissions file",
        metavar="N",
    )  # fmt: skip


def run_grade(args: argparse.Namespace, limits: Limits) -> int:
    from derive import assignment
    from derive.assignment.bounds import GRADE_DEFAULT
    from derive.workers import die_with_parent

    die_with_parent()  # a killed `gradproof` takes its grading process (and its workers) along
    opt.check_timeout(args.timeout)
    if args.jobs is not None and not 1 <= args.jobs <= 256:
        raise OptionError(f"--jobs {args.jobs}: expected 1 to 256 workers")
    if args.max_submissions < 1 or args.max_submissions_bytes < 1:
        raise OptionError("--max-submissions and --max-submissions-bytes: expected at least 1")
    bounds = replace(
        GRADE_DEFAULT,
        submissions=args.max_submissions,
        submissions_bytes=args.max_submissions_bytes,
        check_seconds=args.timeout,
    )
    hw = assignment.load(args.assignment, limits)
    progress = None if args.quiet else _progress()
    try:
        report = assignment.grade(
            hw,
            args.submissions,
            args.output,
            jobs=args.jobs,
            lenient=args.lenient,
            restart=args.restart,
            reveal=args.reveal,
            progress=progress,
            limits=bounds,
            charts=not args.no_charts,
            version=opt.version(),
        )
    finally:
        if progress is not None:
            progress.close()
    for note in report.notes:
        print(f"gradproof: note: {args.submissions}: {note}", file=sys.stderr)
    by: dict[str, int] = {}
    for r in report.rows:
        by[r.verdict] = by.get(r.verdict, 0) + 1
    for verdict in ("timeout", "error"):
        if by.get(verdict):
            print(
                f"gradproof: warning: {by[verdict]} answer(s) {verdict}: see "
                f"{Path(args.output) / 'results.jsonl'} and summary.md",
                file=sys.stderr,
            )
    counts = ", ".join(f"{n} {v}" for v, n in sorted(by.items(), key=lambda kv: -kv[1]))
    print(
        f"graded {len(report.rows)} rows ({counts}) for {len(report.students)} students: "
        f"{report.checks} checks, {report.reused} rows reused"
    )
    print(f"wrote {args.output}: results.jsonl, grades.csv, feedback/, summary.md, summary.html")
    return EXIT_OK


class _progress:
    """A tqdm bar on a terminal (count, rate, ETA); plain lines every few seconds otherwise."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.live = sys.stderr.isatty()
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if self.live:
            if self.bar is None:
                try:
                    import tqdm  # type: ignore[import-untyped,unused-ignore]

                    tqdm.tqdm.monitor_interval = 0  # no monitor thread: workers fork from here
                    self.bar = tqdm.tqdm(total=total, unit="row", desc="grade", file=sys.stderr)
                except ImportError:
                    self.live = False
            if self.bar is not None:
                self.bar.update(done - self.bar.n)
                return
        now = time.monotonic()
        if done == total or now - self.last >= 2.0:
            rate = done / max(now - self.started, 1e-9)
            print(f"grade: {done}/{total} rows ({rate:.0f}/s)", file=sys.stderr, flush=True)
            self.last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
