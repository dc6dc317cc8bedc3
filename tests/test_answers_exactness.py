"""The grader's comparison cannot be fooled by a small wrong term or by infinities (issue 8's
reproductions: 2(ŷ − y)zᵀ + 10⁻⁹(ŷ − y)zᵀ was `correct`; inf == inf made 2x^{∘−1} `correct`)."""

from __future__ import annotations

import numpy as np
import pytest

import derive
from derive import check
from derive.answers.equivalence import close
from tests.conftest import EXAMPLES

SEED2 = EXAMPLES / "seed_example2.toml"


def test_a_wrong_term_a_billionth_the_size_is_incorrect() -> None:
    result = check(SEED2, "W2", r"2(\hat{y}-y)z^T + 10^{-9}(\hat{y}-y)z^T", timeout=None)
    assert result.verdict == "incorrect"
    assert "40 digits" in result.method


@pytest.mark.parametrize("term", ["10^{-12}", "10^{-20}"])
def test_a_tiny_wrong_term_through_a_sigmoid_is_incorrect(term: str) -> None:
    answer = rf"(2 + {term}) ((h - t) \odot h \odot (1 - h)) z^T"
    result = check(EXAMPLES / "sigmoid_layer.toml", "W", answer, timeout=None)
    assert result.verdict == "incorrect", result.method


def test_correct_answers_agree_at_forty_digits() -> None:
    # expanded (not identical to the derivation), so the value comparison decides
    result = check(SEED2, "W1", r"2 W^{(2)T}(W^{(2)}z + b^{(2)} - y)x^T", timeout=None)
    assert result.verdict == "correct"
    assert "40 digits" in result.method


def test_infinities_are_never_equal() -> None:
    inf = np.array([[np.inf, 1.0]])
    assert not close(inf, inf)
    assert not close(np.array([[np.nan]]), np.array([[np.nan]]))
    assert close(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0 + 1e-12]]))


OVERFLOWING = """
[dims]
n = 3
[vars]
x = { shape = ["n", 1], role = "input", range = [710.0, 720.0] }
w = { shape = ["n", 1], role = "param" }
[forward]
L = "sum(exp(x) * w)"
"""


def test_a_gradient_that_overflows_everywhere_gets_no_verdict() -> None:
    net = derive.Network.from_toml(OVERFLOWING)
    result = check(net, "w", r"2 \exp(x)", timeout=None)  # wrong, but no value can show it
    assert result.verdict == "error", result.verdict
    assert result.diagnosis.startswith("cannot check: only 0 of 4 random points")
    assert "range" in result.diagnosis
    # the derivation itself, symbolically, needs no point
    assert check(net, "w", r"\exp(x)", timeout=None).verdict == "correct"


def test_the_subnormal_range_of_the_reproduction_is_refused() -> None:
    spec = OVERFLOWING.replace("[710.0, 720.0]", "[1e-310, 2e-310]")
    with pytest.raises(derive.errors.SpecError, match="1e-310"):
        derive.Network.from_toml(spec)
