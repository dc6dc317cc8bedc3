"""An assignment file (TOML): its questions, each a gradient of a network, validated up front.

```toml
title = "Homework 3: backpropagation"
course = "Introduction to AI"          # optional
due = "2026-12-15"                     # optional (a TOML date or "YYYY-MM-DD")
[[question]]
id = "q1"                              # letters, digits, . _ -; unique
spec = "two_layer.toml"                # relative to the assignment file
wrt = "W2"                             # a name the network's gradient is taken with respect to
points = 2                             # a number >= 0
prompt = "Derive ... $W^{(2)}$."       # optional; $...$ spans are math; a default is written
partial = { transpose = 1 }            # optional: points when exactly that mistake is diagnosed
```

The keys of `partial` are the mistake kinds of `derive.answers.diagnosis.MISTAKE_KINDS` (what
`check --json` reports in `mistake`), or two of them joined by `+` for a pair of mistakes. Any
error is one line naming the file, the question and the field (`AssignmentError`, exit 2).
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Any

from derive.answers.diagnosis import MISTAKE_KINDS
from derive.api import Network
from derive.errors import AssignmentError, GradproofError
from derive.limits import DEFAULT, Limits, read_bounded, toml_depth

if TYPE_CHECKING:
    from derive.document.model import Document

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")
MAX_QUESTIONS = 200
MAX_TEXT = 2_000  # title, course, prompt: characters
MAX_POINTS = Decimal(10_000)
TOP_FIELDS = ("title", "course", "due", "question")
QUESTION_FIELDS = ("id", "spec", "wrt", "points", "prompt", "partial")


@dataclass(frozen=True)
class Question:
    """One question: the gradient of `wrt` in the network of `spec`, worth `points`."""

    id: str
    spec: Path  # resolved
    wrt: str
    points: Decimal
    prompt: str | None  # as written; None: the default (see `prompt_parts`)
    partial: Mapping[str, Decimal]
    network: Network = field(compare=False, repr=False)

    @property
    def wrt_latex(self) -> str:
        """The LaTeX name of `wrt` (validated by the spec's grammar)."""
        return self.network.spec.latex_of(self.wrt)

    def prompt_parts(self) -> list[tuple[str, str]]:
        """The prompt as ("text", plain text) and ("math", LaTeX) pieces, for a printer to escape.

        A written prompt is split at each `$` not escaped as `\\$`; the default names the variable
        in math: "Derive the gradient of the loss with respect to $W^{(2)}$."
        """
        if self.prompt is None:
            return [
                ("text", "Derive the gradient of the loss with respect to "),
                ("math", self.wrt_latex),
                ("text", "."),
            ]
        parts: list[tuple[str, str]] = []
        pieces = re.split(r"(?<!\\)\$", self.prompt)
        for i, piece in enumerate(pieces):
            if piece:
                parts.append(("math" if i % 2 else "text", piece.replace("\\$", "$")))
        return parts

    @property
    def prompt_text(self) -> str:
        """The prompt as one line of plain text (math kept as typed between $ signs)."""
        return "".join(s if k == "text" else f"${s}$" for k, s in self.prompt_parts())

    def points_for(self, verdict: str, mistake: str | None) -> Decimal:
        """Full points when correct; `partial[mistake]` when exactly that mistake is diagnosed."""
        if verdict == "correct":
            return self.points
        if verdict != "incorrect" or not mistake:
            return Decimal(0)
        return self.partial.get(_kind_key(mistake), Decimal(0))


@dataclass(frozen=True)
class Assignment:
    """A validated assignment: a title, its questions, and the bytes it was read from."""

    title: str
    course: str | None
    due: datetime.date | None
    questions: tuple[Question, ...]
    source: Path
    fingerprint: str  # sha256 over the assignment file and every spec file it names

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self.questions]

    @property
    def total_points(self) -> Decimal:
        return sum((q.points for q in self.questions), Decimal(0))

    def grade(self, submissions: Any, out: str | Path | None = None, **options: Any) -> Any:
        """Grade submissions (a file, or rows as dicts); see `derive.assignment.grade`."""
        from derive.assignment.grading import grade

        return grade(self, submissions, out, **options)

    def key(self, out: str | Path | None = None, *, pdf: bool = False) -> Document:
        """The answer key; see `derive.assignment.key` for the other options."""
        from derive.assignment.publish import key

        return key(self, out, pdf=pdf)

    def sheet(self, out: str | Path | None = None, *, pdf: bool = False) -> Document:
        """The students' sheet; see `derive.assignment.sheet`."""
        from derive.assignment.publish import sheet

        return sheet(self, out, pdf=pdf)

    def __repr__(self) -> str:
        size = f"{len(self.questions)} questions, {self.total_points} points"
        return f"<assignment {self.title!r}: {size}>"


def mistake_kinds() -> dict[str, str]:
    """The mistake kinds `partial` may name, with their meaning (the diagnosis's own table)."""
    return dict(MISTAKE_KINDS)


def _kind_key(mistake: str) -> str:
    """A kind, or a pair of kinds in the table's order ("factor+transpose": "transpose+factor")."""
    parts = mistake.split("+")
    order = list(MISTAKE_KINDS)
    return "+".join(sorted(parts, key=lambda k: order.index(k) if k in order else len(order)))


def load(path: str | Path, limits: Limits = DEFAULT) -> Assignment:
    """Read and validate an assignment file and every spec it names (each network derived once)."""
    source = str(path)
    raw = read_bounded(path, limits.file_bytes, "the assignment file", limits, "file_bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AssignmentError(source, f"is not UTF-8 text (byte {exc.start})") from None
    if toml_depth(text, limits.toml_depth) > limits.toml_depth:
        raise limits.too_large(
            "toml_depth", "brackets nested in the assignment", toml_depth(text, 10**6), "", source
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(source, f"not valid TOML ({exc})") from None
    digest = hashlib.sha256(b"assignment\0" + raw)
    return _build(data, Path(path), digest, limits)


def _build(data: dict[str, Any], path: Path, digest: Any, limits: Limits) -> Assignment:
    source = str(path)
    _no_unknown(source, data, TOP_FIELDS, None)
    title = _text(source, data, "title", None, required=True)
    assert title is not None
    course = _text(source, data, "course", None)
    due = _due(source, data.get("due"))
    items = data.get("question")
    if not isinstance(items, list) or not items:
        raise AssignmentError(
            source, "expected at least one [[question]] table (id, spec, wrt, points)", None,
            "question",
        )  # fmt: skip
    if len(items) > MAX_QUESTIONS:
        raise AssignmentError(source, f"{len(items)} questions (at most {MAX_QUESTIONS})")
    networks: dict[Path, tuple[Network, bytes]] = {}
    questions: list[Question] = []
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        q = _question(source, path.parent, item, n, networks, limits)
        if q.id in seen:
            raise AssignmentError(source, f"duplicate id {q.id!r} (ids must be unique)", q.id, "id")
        seen.add(q.id)
        questions.append(q)
    for spec_path, (_, spec_raw) in sorted(networks.items()):
        digest.update(b"\0spec\0" + str(spec_path.name).encode() + b"\0" + spec_raw)
    return Assignment(title, course, due, tuple(questions), path, digest.hexdigest())


def _question(
    source: str,
    folder: Path,
    item: Any,
    n: int,
    networks: dict[Path, tuple[Network, bytes]],
    limits: Limits,
) -> Question:
    if not isinstance(item, dict):
        raise AssignmentError(source, "expected a table", f"#{n}")
    qid = item.get("id")
    if not isinstance(qid, str) or not ID_PATTERN.match(qid):
        raise AssignmentError(
            source,
            f"expected 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit; "
            f"found {qid!r}"
            if "id" in item
            else "missing (every question needs an id)",
            f"#{n}",
            "id",
        )
    _no_unknown(source, item, QUESTION_FIELDS, qid)
    spec_name = item.get("spec")
    if not isinstance(spec_name, str) or not spec_name:
        raise AssignmentError(source, "missing: expected the path of a spec file", qid, "spec")
    spec_path = (folder / spec_name).resolve()
    if spec_path not in networks:
        try:
            spec_raw = read_bounded(
                spec_path, limits.file_bytes, "the spec file", limits, "file_bytes"
            )
            text = spec_raw.decode("utf-8")
            net = Network.from_toml(text, str(folder / spec_name), limits)
        except UnicodeDecodeError as exc:
            raise AssignmentError(
                source, f"{spec_name}: is not UTF-8 text (byte {exc.start})", qid, "spec"
            ) from None
        except GradproofError as exc:
            raise AssignmentError(source, str(exc), qid, "spec") from None
        networks[spec_path] = (net, spec_raw)
    net = networks[spec_path][0]
    wrt = item.get("wrt")
    if not isinstance(wrt, str) or not wrt:
        raise AssignmentError(source, "missing: expected a variable of the spec", qid, "wrt")
    names = net.names  # what the gradient can be taken with respect to (derives the network)
    if wrt not in names:
        close = get_close_matches(wrt, names, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AssignmentError(
            source,
            f"{wrt!r} is not a name of {spec_name}{hint}; expected one of {', '.join(names)}",
            qid,
            "wrt",
        )
    points = _number(source, item.get("points"), qid, "points")
    prompt = _text(source, item, "prompt", qid)
    partial_raw = item.get("partial", {})
    if not isinstance(partial_raw, dict):
        raise AssignmentError(source, "expected a table { kind = points, ... }", qid, "partial")
    partial: dict[str, Decimal] = {}
    for kind, value in partial_raw.items():
        where = f"partial.{kind}"
        parts = kind.split("+")
        unknown = [p for p in parts if p not in MISTAKE_KINDS]
        if unknown or len(parts) > 2 or len(set(parts)) != len(parts):
            bad = unknown[0] if unknown else kind
            close = get_close_matches(bad, list(MISTAKE_KINDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise AssignmentError(
                source,
                f"unknown mistake kind {bad!r}{hint}; expected one of {', '.join(MISTAKE_KINDS)}, "
                "or two joined by '+'",
                qid,
                where,
            )
        amount = _number(source, value, qid, where)
        if amount > points:
            raise AssignmentError(
                source, f"{amount} is more than the question's {points} points", qid, where
            )
        key = _kind_key(kind)
        if key in partial:
            raise AssignmentError(source, f"the same mistake as another key ({key})", qid, where)
        partial[key] = amount
    return Question(qid, spec_path, wrt, points, prompt, partial, net)


def _no_unknown(source: str, table: dict[str, Any], known: Sequence[str], qid: str | None) -> None:
    for key in table:
        if key not in known:
            close = get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise AssignmentError(
                source, f"unknown field{hint}; expected {', '.join(known)}", qid, key
            )


def _text(
    source: str, table: dict[str, Any], key: str, qid: str | None, required: bool = False
) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise AssignmentError(source, "missing: expected a string", qid, key)
        return None
    if not isinstance(value, str):
        raise AssignmentError(source, f"expected a string, found {type(value).__name__}", qid, key)
    if len(value) > MAX_TEXT:
        raise AssignmentError(source, f"{len(value)} characters (at most {MAX_TEXT})", qid, key)
    bad = next((c for c in value if (ord(c) < 32 and c not in "\n\t") or ord(c) == 127), None)
    if bad is not None:
        raise AssignmentError(source, f"control character {bad!r} (U+{ord(bad):04X})", qid, key)
    if required and not value.strip():
        raise AssignmentError(source, "empty: expected a string", qid, key)
    return value


def _number(source: str, value: Any, qid: str | None, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        found = "nothing" if value is None else type(value).__name__
        raise AssignmentError(source, f"expected a number >= 0, found {found}", qid, where)
    if isinstance(value, float) and not math.isfinite(value):
        raise AssignmentError(source, f"expected a finite number, found {value}", qid, where)
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if amount < 0:
        raise AssignmentError(source, f"expected a number >= 0, found {value}", qid, where)
    if amount > MAX_POINTS:
        raise AssignmentError(source, f"{value} is over {MAX_POINTS}", qid, where)
    if amount != amount.quantize(Decimal("0.001")):
        raise AssignmentError(source, f"{value}: at most 3 decimals", qid, where)
    return amount.normalize() if amount != amount.to_integral() else amount.quantize(Decimal(1))


def _due(source: str, value: Any) -> datetime.date | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise AssignmentError(source, f"expected a date YYYY-MM-DD, found {value!r}", None, "due")
