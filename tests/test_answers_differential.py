"""Differential test of the reader: on scalar answers it agrees with latex2sympy2_extended.

latex2sympy2_extended (the maintained fork of latex2sympy2, named in the design) is a test-only
oracle here: a second, independent reading of the same text. It is fine for scalar formulas and
unfit for matrices (../shared/FINDINGS.md), so the corpus is scalar: Example 1's chain and the
activation formulas of the notes' table.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy
from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig

import derive
from derive.answers.reader import Reader
from derive.evaluate import evaluate
from tests.conftest import EXAMPLES

NET = derive.load(EXAMPLES / "seed_example1.toml")
READER = Reader(NET.derivation)

SCALAR_CORPUS = [
    r"2(\hat{y}-y) w_2 x",
    r"2 (\hat{y} - y) \cdot w_{2} \cdot x",
    r"2(\hat{y}-y)w_{2}",
    r"2(\hat{y}-y) z",
    r"2 w_1 w_2^2 x^2 - 2 y w_2 x",
    r"(w_1 x - y)^2",
    r"0.5 (\hat{y}-y)^2",
    r"\frac{2}{3} x w_1",
    r"-2 y w_2 z",
    r"\frac{1}{1+e^{-z}}",
    r"\frac{1}{1+\exp(-z)}",
    r"\frac{\exp(-z)}{(1+\exp(-z))^2}",
    r"\frac{e^{z}-e^{-z}}{e^{z}+e^{-z}}",
    r"1 - \tanh(z)^2",
    r"\tanh(w_1 x)",
    r"\max(0, z)",
    r"\max(0, z - y)",
    r"\sqrt{z^2+1}",
    r"\ln(1+\exp(z))",  # latex2sympy reads \log as base 10; in ML (and here) log is natural
    r"\exp(w_1) x",
    r"\frac{x}{w_2}",
    r"\frac{z - y}{\sqrt{x^2 + 1}}",
]


def _our_value(text: str, env: dict[str, np.ndarray]) -> float:
    e = READER.read(text).expr
    return float(evaluate(e, env, {})[0, 0])


def _their_name(symbol: sympy.Symbol) -> str:
    """latex2sympy's symbol names (w_{2}, hat{y}) as the spec's ascii names (w2, yhat)."""
    name = symbol.name
    m = re.fullmatch(r"\\?hat\{(\w)\}", name)
    if m:
        return m.group(1) + "hat"
    return re.sub(r"[_{}\\]", "", name)


def _their_value(text: str, env: dict[str, np.ndarray]) -> float:
    e = latex2sympy(text, conversion_config=ConversionConfig(lowercase_symbols=False))
    values = {s: sympy.Float(float(env[_their_name(s)][0, 0])) for s in e.free_symbols}
    return float(sympy.N(e.xreplace(values)))


@pytest.mark.parametrize("text", SCALAR_CORPUS)
def test_reader_agrees_with_latex2sympy2_extended(text: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(3):
        env = {n: rng.uniform(0.2, 1.5, size=(1, 1)) for n in NET.spec.names()}
        ours, theirs = _our_value(text, env), _their_value(text, env)
        assert ours == pytest.approx(theirs, rel=1e-9), (text, ours, theirs)


def test_the_oracle_is_live() -> None:
    # a transposed or reordered reading would differ on matrices, but on scalars a wrong
    # constant must still be caught: guard against a comparison that always passes
    env = {n: np.full((1, 1), 0.7) for n in NET.spec.names()}
    assert _our_value(r"2 x", env) != pytest.approx(_their_value(r"3 x", env))
