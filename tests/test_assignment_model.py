"""Assignment files: the example loads; every bad one is refused with one line naming the file,
the question and the field (exit 2 from the CLI); partial credit follows the diagnosis's kinds."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import derive.assignment as A
from derive.answers.diagnosis import MISTAKE_KINDS
from derive.errors import AssignmentError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hw_seed" / "assignment.toml"
SPEC = (ROOT / "examples" / "seed_example2.toml").as_posix()


def test_the_example_assignment_loads() -> None:
    hw = A.load(EXAMPLE)
    assert hw.title.startswith("Homework 1")
    assert hw.ids == ["q1", "q2", "q3", "q4", "q5", "q6"]
    assert hw.total_points == 11
    assert str(hw.due) == "2026-12-15"
    q5 = hw.question("q5")
    assert q5.wrt == "W1" and q5.points == 3
    assert q5.partial == {"transpose": 2, "factor": 2, "transpose+factor": 1, "missing_factor": 1}
    # both questions over Example 2 share one network, derived once
    assert hw.question("q3").network is q5.network


def test_default_and_written_prompts_split_into_text_and_math() -> None:
    hw = A.load(EXAMPLE)
    assert hw.question("q3").prompt_parts() == [
        ("text", "Derive the gradient of the loss with respect to "),
        ("math", "W^{(2)}"),
        ("text", "."),
    ]
    parts = hw.question("q1").prompt_parts()
    assert ("math", r"\frac{\partial J}{\partial w_1}") in parts
    assert parts[0][0] == "text" and "Example 1" in parts[0][1]


def test_partial_points_need_exactly_that_mistake() -> None:
    q5 = A.load(EXAMPLE).question("q5")
    assert q5.points_for("correct", None) == 3
    assert q5.points_for("incorrect", "transpose") == 2
    assert q5.points_for("incorrect", "factor+transpose") == 1  # a pair, in either order
    assert q5.points_for("incorrect", "transpose+factor") == 1
    assert q5.points_for("incorrect", "sign") == 0
    assert q5.points_for("incorrect", None) == 0
    assert q5.points_for("invalid", "transpose") == 0
    assert q5.points_for("timeout", None) == 0


def test_the_kinds_are_the_diagnosis_table() -> None:
    assert A.mistake_kinds() == MISTAKE_KINDS


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "hw.toml"
    path.write_text('title = "T"\n' + body, encoding="utf-8")
    return path


def _q(**fields: str) -> str:
    base = {"id": '"q1"', "spec": f'"{SPEC}"', "wrt": '"W2"', "points": "2"}
    base.update(fields)
    return "[[question]]\n" + "".join(f"{k} = {v}\n" for k, v in base.items() if v != "-")


BAD = [
    # (what, body, the question and field named, words in the message)
    ("missing spec", _q(spec='"nowhere.toml"'), "question q1: spec:", "no such file"),
    ("no spec field", _q(spec="-"), "question q1: spec:", "missing"),
    ("unknown wrt", _q(wrt='"W3"'), "question q1: wrt:", "did you mean 'W2'"),
    ("duplicate id", _q() + _q(), "question q1: id:", "duplicate"),
    ("unknown kind", _q(partial="{ missing_transpose = 1 }"),
     "question q1: partial.missing_transpose:", "did you mean 'transpose'"),
    ("the issue's example kind", _q(partial="{ wrong_constant = 1 }"), "partial.wrong_constant:",
     "unknown mistake kind"),
    ("negative points", _q(points="-1"), "question q1: points:", "expected a number >= 0"),
    ("points as text", _q(points='"two"'), "question q1: points:", "found str"),
    ("partial over points", _q(partial="{ transpose = 3 }"), "partial.transpose:", "more than"),
    ("negative partial", _q(partial="{ sign = -1 }"), "partial.sign:", ">= 0"),
    ("unknown field", _q(point="2"), "question q1: point:", "did you mean 'points'"),
    ("bad id", _q(id='"q 1"'), "question #1: id:", "letters, digits"),
    ("no questions", "", "question:", "at least one"),
    ("nan points", _q(points="nan"), "points:", "finite"),
    ("one kind twice", _q(partial='{ "sign+sign" = 1 }'), "partial.sign+sign:", "unknown"),
    ("a bad date", 'due = "soon"\n' + _q(), "due:", "YYYY-MM-DD"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "body", "where", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_assignment_is_one_line_naming_question_and_field(
    tmp_path: Path, what: str, body: str, where: str, words: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(AssignmentError) as err:
        A.load(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert where in message and words in message


def test_a_spec_error_is_named_with_the_question(tmp_path: Path) -> None:
    spec = tmp_path / "broken.toml"
    spec.write_text('title = "x"\n[forward]\nJ = "sum(q)"\n', encoding="utf-8")
    path = _write(tmp_path, _q(spec='"broken.toml"'))
    with pytest.raises(AssignmentError, match=r"hw.toml: question q1: spec: .*broken.toml"):
        A.load(path)


def test_the_cli_refuses_a_bad_assignment_with_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, _q(partial="{ wrong_constant = 1 }"))
    subs = tmp_path / "s.csv"
    subs.write_text("student_id,question,answer\na,q1,x\n", encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "derive.cli",
            "grade",
            str(path),
            str(subs),
            "-o",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "question q1: partial.wrong_constant" in lines[0]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "o").exists()


def test_points_keep_their_decimals(tmp_path: Path) -> None:
    path = _write(tmp_path, _q(points="1.5", partial="{ transpose = 0.25 }"))
    q = A.load(path).question("q1")
    assert q.points == Decimal("1.5") and q.partial["transpose"] == Decimal("0.25")
    with pytest.raises(AssignmentError, match="at most 3 decimals"):
        A.load(_write(tmp_path, _q(points="0.0001")))
