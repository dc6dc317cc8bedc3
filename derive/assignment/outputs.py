"""The files a grading run leaves besides results.jsonl: grades.csv, feedback/, summary.md/html."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from derive.assignment.feedback import student_feedback
from derive.assignment.results import Row, points_text
from derive.assignment.summary import summary_html, summary_markdown, write_charts
from derive.document.escape import md_parts
from derive.errors import GradproofError
from derive.files import write_text_atomic

if TYPE_CHECKING:
    from derive.assignment.grading import GradeReport

FEEDBACK = "feedback"


def grades_csv(report: GradeReport) -> str:
    """One row per student, a column per question and `total` (student ids follow a grammar that
    starts with a letter or digit, so no cell can be read as a spreadsheet formula)."""
    ids = report.assignment.ids
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", *ids, "total"])
    for s in report.students:
        w.writerow(
            [s, *(points_text(report.scores[s][q]) for q in ids), points_text(report.total(s))]
        )
    return buf.getvalue()


def _replace_unsynced(path: Path, text: str) -> None:
    """Replace a file atomically without an fsync per file: a feedback file is rebuilt from
    results.jsonl (which is synced) by running the same command again, and one fsync each would
    cost more than grading a class of 200 (measured: 3 ms each here)."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise GradproofError(f"{path}: expected a regular file to replace")
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise GradproofError(f"{path}: cannot write it ({exc.strerror})") from None


def write_outputs(report: GradeReport, folder: Path, reveal: bool, charts: bool) -> list[Path]:
    """Write every file; return their paths (results.jsonl is written by the caller)."""
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        write_text_atomic(folder / name, text)
        written.append(folder / name)

    put("grades.csv", grades_csv(report))
    a = report.assignment
    questions = [(q.id, md_parts(q.prompt_parts()), points_text(q.points)) for q in a.questions]
    keys = {q.id: q.network.gradient(q.wrt).latex for q in a.questions} if reveal else None
    counted: dict[str, dict[str, Row]] = {s: {} for s in report.students}
    for r in report.rows:
        if r.student_id in counted and r.question in a.ids and r.verdict != "superseded":
            counted[r.student_id][r.question] = r
    (folder / FEEDBACK).mkdir(exist_ok=True)
    wanted = {f"{s}.md" for s in report.students}
    for old in (folder / FEEDBACK).glob("*.md"):
        if old.name not in wanted:  # a student of an earlier run (--restart with other rows)
            old.unlink()
    for s in report.students:
        text = student_feedback(
            a.title, s, questions, counted[s], points_text(report.total(s)),
            points_text(a.total_points), keys,
        )  # fmt: skip
        _replace_unsynced(folder / FEEDBACK / f"{s}.md", text)
        written.append(folder / FEEDBACK / f"{s}.md")
    made = write_charts(report, folder) if charts else {}
    written += [folder / p for p in made.values()]
    put("summary.md", summary_markdown(report, made))
    put("summary.html", summary_html(report, made))
    return written
