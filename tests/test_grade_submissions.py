"""Reading submissions: every row kept with its line number, whatever is wrong with it; only a
file that cannot be read at all is refused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from derive.assignment.bounds import GRADE_DEFAULT
from derive.assignment.submissions import read_file, valid_student
from derive.errors import SubmissionsError, TooLargeError

HEADER = b"student_id,question,answer\n"


def _csv(tmp_path: Path, body: bytes, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_rows_keep_their_first_line_and_multiline_answers(tmp_path: Path) -> None:
    body = HEADER + b'a,q1,2 z\n\nb,q1,"2 (W^T\n x), y"\nc , q2 ,x\n'
    rows = read_file(_csv(tmp_path, body)).rows
    assert [(r.line, r.student_id, r.question, r.answer, r.problem) for r in rows] == [
        (2, "a", "q1", "2 z", None),
        (4, "b", "q1", "2 (W^T\n x), y", None),
        (6, "c", "q2", "x", None),
    ]


def test_columns_in_any_order_extra_ones_noted(tmp_path: Path) -> None:
    body = b"answer,when,Question,student_id\n2 z,monday,q1,a\n"
    f = read_file(_csv(tmp_path, body))
    assert (f.rows[0].student_id, f.rows[0].question, f.rows[0].answer) == ("a", "q1", "2 z")
    assert any("when" in n for n in f.notes)


MALFORMED = [
    (b"a,q1,x,surplus\n", "4 fields"),
    (b"a,q1\n", "2 fields"),
    (b'a,q1,"x\n', "malformed CSV row"),
    (b'a,q1,"x"y\n', "malformed CSV row"),
    (b"a,q1,2 \xff z\n", "not UTF-8"),
]


@pytest.mark.parametrize(("row", "why"), MALFORMED)
def test_a_malformed_row_is_kept_with_its_line_and_the_rest_read(
    tmp_path: Path, row: bytes, why: str
) -> None:
    body = HEADER + b"z,q1,first\n" + row + b"b,q2,after\n"
    rows = read_file(_csv(tmp_path, body)).rows
    assert rows[0].answer == "first" and rows[0].problem is None
    bad = rows[1]
    assert bad.line == 3 and bad.problem is not None and why in bad.problem
    assert (bad.student_id, bad.question) == ("a", "q1")  # still whose it is
    assert rows[-1].answer == "after" and rows[-1].line == 4 and rows[-1].problem is None


def test_a_quote_left_open_does_not_swallow_the_class(tmp_path: Path) -> None:
    rows_after = b"".join(b"s%d,q1,x\n" % i for i in range(300))
    body = HEADER + b'a,q1,"never closed\n' + rows_after
    rows = read_file(_csv(tmp_path, body)).rows
    assert rows[0].problem is not None and rows[0].line == 2
    assert len(rows) == 301 and all(r.problem is None for r in rows[1:])


def test_encodings(tmp_path: Path) -> None:
    text = "student_id,question,answer\nä,q1,ŷ − y\n"
    bom = read_file(_csv(tmp_path, b"\xef\xbb\xbf" + text.encode())).rows
    assert bom[0].answer == "ŷ − y"
    utf16 = read_file(_csv(tmp_path, text.encode("utf-16"), "u.csv"))
    assert utf16.rows[0].answer == "ŷ − y" and utf16.notes
    assert not valid_student("ä")  # a student id is ASCII: it names a file


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"name,answer\nx,y\n", "the header must name the columns"),
        (b"student_id,question,answer,answer\n", "once each"),
    ],
)
def test_a_file_without_its_header_is_refused(tmp_path: Path, body: bytes, words: str) -> None:
    with pytest.raises(SubmissionsError, match=words):
        read_file(_csv(tmp_path, body))


def test_only_csv_and_jsonl(tmp_path: Path) -> None:
    with pytest.raises(SubmissionsError, match=r"expected a \.csv"):
        read_file(_csv(tmp_path, HEADER, "s.xlsx"))


def test_jsonl_rows(tmp_path: Path) -> None:
    lines = [
        json.dumps({"student_id": "a", "question": "q1", "answer": "2 z"}),
        json.dumps({"student_id": 1234, "question": "q1", "answer": "x"}),
        "{not json",
        "[1, 2]",
        json.dumps({"student_id": "b", "question": "q1"}),
        json.dumps({"student_id": "b", "question": "q1", "answer": 3}),
        "[" * 100_000,
        "",
        json.dumps({"student_id": "c", "question": "q2", "answer": "ok"}),
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = read_file(path).rows
    assert [r.line for r in rows] == [1, 2, 3, 4, 5, 6, 7, 9]
    assert rows[0].problem is None and rows[1].student_id == "1234"
    assert "not a JSON object" in (rows[2].problem or "")
    assert "found list" in (rows[3].problem or "")
    assert rows[4].problem == "no answer" and rows[4].student_id == "b"
    assert "expected a string" in (rows[5].problem or "")
    assert "nested too deeply" in (rows[6].problem or "")
    assert rows[7].answer == "ok"


def test_size_limits(tmp_path: Path) -> None:
    path = _csv(tmp_path, HEADER + b"a,q1,x\n" * 100)
    small = replace(GRADE_DEFAULT, submissions_bytes=200)
    with pytest.raises(TooLargeError, match="--max-submissions-bytes"):
        read_file(path, small)
    with pytest.raises(TooLargeError, match=r"100 rows .*--max-submissions 110"):
        read_file(path, replace(GRADE_DEFAULT, submissions=10))


def test_student_ids_follow_a_grammar() -> None:
    for good in ("s001", "ada.lovelace", "a_b-c@uni.edu", "A1+x"):
        assert valid_student(good)
    for bad in ("", "../x", "a/b", "=SUM(A1)", "-x", ".hidden", "a b", "x" * 65, "+1"):
        assert not valid_student(bad)
