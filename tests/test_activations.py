"""The activation table: derivatives come from sympy.diff and print in textbook form."""

from __future__ import annotations

import pytest
import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS, S, T, V, derivative_form
from derive.latex import LatexPrinter

A = E.Var("a", ("k", 1))
H = E.Var("h", ("k", 1))
PRINT = LatexPrinter(lambda n: n, "L")

# oracle: the textbook identities (e.g. Goodfellow et al., Deep Learning, sec. 6.3 and 3.10)
TEXTBOOK = [
    ("sigmoid", r"h \odot (1 - h)"),
    ("tanh", r"1 - h^{2}"),
    ("relu", r"\mathbb{1}[a > 0]"),
    ("leaky_relu", r"\mathbb{1}[a > 0] + 0.01 \mathbb{1}[a \le 0]"),
    ("exp", "h"),
    ("log", r"a^{\circ -1}"),
    ("sqrt", r"\frac{1}{2} h^{\circ -1}"),
]


@pytest.mark.parametrize(("name", "latex"), TEXTBOOK)
def test_derivative_prints_in_textbook_form(name: str, latex: str) -> None:
    from derive.activations import derivative_expr

    param = sympy.Float(0.01) if name == "leaky_relu" else None
    assert PRINT.doprint(derivative_expr(name, A, H, param)) == latex


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_form_equals_sympy_diff(name: str) -> None:
    act = ACTIVATIONS[name]
    param = None if act.default_param is None else sympy.Rational(1, 7)
    f = act.scalar(T, param)
    form = derivative_form(name, param)
    d = form.expr.subs(S, f) if form.in_output else form.expr
    if form.via is not None:  # written with another function's value (SiLU′ with σ)
        d = d.subs(V, ACTIVATIONS[form.via].scalar(T))
    for t0 in (-1.7, -0.3, 0.4, 2.5):
        if name in ("log", "sqrt") and t0 <= 0:
            continue
        expected = sympy.diff(f, T).subs(T, t0)
        assert abs(float(d.subs(T, t0)) - float(expected)) < 1e-12


def test_sigmoid_is_written_on_the_layer_output() -> None:
    assert derivative_form("sigmoid").in_output
    assert not derivative_form("relu").in_output
