"""The graded corpus: every correct answer accepted, every wrong one rejected, diagnoses right.

tests/answers/corpus.toml holds student-style answers over the example networks, each labelled
correct, incorrect (with the one mistake it contains) or invalid.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from functools import cache
from typing import Any

import pytest

import derive
from derive.answers.check import grade
from derive.answers.diagnosis import MISTAKE_KINDS
from tests.conftest import EXAMPLES, ROOT

CORPUS: list[dict[str, Any]] = tomllib.loads(
    (ROOT / "tests" / "answers" / "corpus.toml").read_text(encoding="utf-8")
)["answer"]
KINDS = set(MISTAKE_KINDS) - {"shape"}  # a wrong shape is told by the shape alone


@cache
def network(spec: str) -> derive.Network:
    return derive.load(EXAMPLES / f"{spec}.toml")


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 150
    assert len({a["spec"] for a in CORPUS}) >= 8
    counts = Counter(a["mistake"] for a in CORPUS if a["verdict"] == "incorrect")
    singles = {k for k in counts if "+" not in k}
    pairs = {k for k in counts if "+" in k}
    assert singles <= KINDS
    assert all(set(p.split("+")) <= KINDS for p in pairs)
    assert all(counts[k] >= 6 for k in KINDS), counts
    assert sum(counts[p] for p in pairs) >= 6, "pairs of mistakes"


@pytest.mark.parametrize("item", CORPUS, ids=lambda a: f"{a['spec']}-{a['wrt']}-{a['verdict']}")
def test_verdict(item: dict[str, Any]) -> None:
    result = grade(network(item["spec"]).derivation, item["wrt"], item["latex"])
    assert result.verdict == item["verdict"], (item["latex"], result.diagnosis, result.parsed)


def test_diagnosis_is_right_for_at_least_90_percent() -> None:
    wrong = [a for a in CORPUS if a["verdict"] == "incorrect"]
    misses = []
    for a in wrong:
        result = grade(network(a["spec"]).derivation, a["wrt"], a["latex"])
        if result.mistake != a["mistake"]:
            misses.append((a["spec"], a["wrt"], a["latex"], a["mistake"], result.mistake))
    share = 1 - len(misses) / len(wrong)
    assert share >= 0.90, misses
