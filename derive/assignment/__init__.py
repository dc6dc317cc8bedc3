"""Assignments: several questions, each a gradient of a spec's network, and batch grading.

hw = derive.assignment.load("examples/hw_seed/assignment.toml")
report = hw.grade("examples/hw_seed/submissions.csv")           # in memory
report = hw.grade("submissions.csv", out="graded/")             # and the files, resumable
derive.assignment.key(hw, out="key/", pdf=True)                  # the answer key (a Document)
derive.assignment.sheet(hw, out="sheet/")                        # the students' sheet
report.scores["s001"], report.rows[0].verdict, report.counts("q1")
"""

from derive.assignment.grading import GradeReport, grade, normalized
from derive.assignment.model import Assignment, Question, load, mistake_kinds
from derive.assignment.publish import (
    Published,
    key,
    publish_key,
    publish_sheet,
    publish_spec_key,
    sheet,
    spec_key,
)
from derive.assignment.results import VERDICTS, Row

__all__ = [
    "VERDICTS",
    "Assignment",
    "GradeReport",
    "Published",
    "Question",
    "Row",
    "grade",
    "key",
    "load",
    "mistake_kinds",
    "normalized",
    "publish_key",
    "publish_sheet",
    "publish_spec_key",
    "sheet",
    "spec_key",
]
