"""The diagnosis: labels that do not depend on the order mutations are tried, pairs of mistakes,
coefficients on one term, piecewise answers checked at enough draws, and the kinds table."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import pytest

import derive
from derive.answers import diagnosis as D
from derive.answers.check import grade
from tests.conftest import EXAMPLES
from tests.test_answers_corpus import CORPUS


@cache
def network(spec: str) -> derive.Network:
    return derive.load(EXAMPLES / f"{spec}.toml")


WRONG = [a for a in CORPUS if a["verdict"] == "incorrect"]


def test_label_does_not_depend_on_the_order_mutations_are_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forward = {i: grade(network(a["spec"]).derivation, a["wrt"], a["latex"]) for i, a in
               enumerate(WRONG)}  # fmt: skip
    original = D.mutations

    def reversed_mutations(deriv: object, wrt: str) -> Iterator[D.Mutation]:
        return iter(list(original(deriv, wrt))[::-1])  # type: ignore[arg-type]

    monkeypatch.setattr(D, "mutations", reversed_mutations)
    changed = []
    for i, a in enumerate(WRONG):
        backward = grade(network(a["spec"]).derivation, a["wrt"], a["latex"])
        if (backward.mistake, backward.diagnosis) != (forward[i].mistake, forward[i].diagnosis):
            changed.append((a["latex"], forward[i].diagnosis, backward.diagnosis))
    assert not changed


def test_a_dropped_transpose_is_missing_never_extra() -> None:
    r = grade(network("seed_example2").derivation, "x", r"2 W_1^T W_2 (\hat y - y)")
    assert r.verdict == "invalid"  # shapes tell this one; a square network shows the label
    r = grade(network("shared_weight").derivation, "h", r"2 W (\hat y - y)")
    assert (r.mistake, r.diagnosis) == ("transpose", "a transpose is missing")


@pytest.mark.parametrize("seed", range(10))
def test_an_indicator_at_the_wrong_argument_is_caught_at_every_seed(seed: int) -> None:
    # 𝟙[Wx > 0] and 𝟙[Wx + b > 0] differ only where the bias flips a sign: 4 draws can miss it
    answer = r"2((h-y)\odot m \odot \mathbb{1}[Wx>0])x^T"
    r = grade(network("dropout_layer").derivation, "W", answer, seed=seed)
    assert r.verdict == "incorrect", r.method
    assert r.mistake == "activation_argument"
    assert "b is left out" in (r.diagnosis or "")


def test_a_pair_names_both_mistakes_most_specific_first() -> None:
    r = grade(network("two_sigmoid_layers").derivation, "W1", r"2(W_2^T(\hat y-y))x^T")
    assert r.mistake == "activation_missing+activation_missing"
    assert r.diagnosis is not None and r.diagnosis.startswith("two mistakes: ")
    assert "giving \\hat{y}" in r.diagnosis and "giving h^{(1)}" in r.diagnosis
    r = grade(network("sigmoid_layer").derivation, "W", r"2(t-h) z^T")
    assert r.mistake == "activation_missing+sign"


def test_a_coefficient_wrong_on_one_term_names_the_term() -> None:
    r = grade(network("ridge_regression").derivation, "W", r"2(\hat y - y)x^T + \lambda W")
    assert r.mistake == "factor"
    assert r.diagnosis is not None and "2 \\lambda W" in r.diagnosis and "1/2" in r.diagnosis


def test_every_kind_in_the_table_is_reachable_and_documented() -> None:
    labels = {k for a in WRONG for k in a["mistake"].split("+")}
    assert labels == set(D.MISTAKE_KINDS) - {"shape"}
    assert all(isinstance(v, str) and v for v in D.MISTAKE_KINDS.values())


def test_nothing_explains_is_said_plainly() -> None:
    r = grade(network("quadratic_form").derivation, "x", r"A x x^T x")
    assert r.verdict == "incorrect" and r.mistake is None
    assert "no common mistake" in (r.diagnosis or "")
