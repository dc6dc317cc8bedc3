"""Every expression node type is handled by every backend and printer, or refused by it with a
clear error that names the node (never an AttributeError or a KeyError from a missing method).

Identity, Diag and Trace come only from answers (`I`, `\\operatorname{diag}`, `\\operatorname{tr}`
typed by a student): the answer's backends (LaTeX, evaluation in float64 and at 40 digits, the
SymPy forms) handle them; a spec cannot write them, so the backward rules refuse them by name.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from derive import expr as E
from derive.evaluate import evaluate, precise
from derive.latex import LatexPrinter
from derive.rules import rule_for
from derive.sympy_form import ascii_form, to_sympy

M = E.Var("M", ("n", "n"))
V = E.Var("v", ("n", 1))
U = E.Var("u", ("n", 1))
S = E.Var("s", (1, 1))
SAMPLES: dict[type, E.Expr] = {
    E.Var: V,
    E.Const: E.Const(sympy.Integer(2)),
    E.Ones: E.Ones(("n", 1)),
    E.Zero: E.Zero(("n", 1)),
    E.MatMul: E.MatMul((M, V)),
    E.Add: E.Add((V, U), ("n", 1)),
    E.Scale: E.Scale(sympy.Integer(3), V),
    E.Hadamard: E.Hadamard((V, U)),
    E.ScalarMul: E.ScalarMul(S, V),
    E.Div: E.Div(V, S),
    E.Power: E.Power(V, sympy.Integer(2)),
    E.Transpose: E.Transpose(V),
    E.Apply: E.Apply("tanh", V),
    E.Indicator: E.Indicator(V, ">"),
    E.SumAll: E.SumAll(V),
    E.Mean: E.Mean(V),
    E.Identity: E.Identity("n"),
    E.Diag: E.Diag(V),
    E.Trace: E.Trace(M),
}
ENV = {"M": np.arange(9.0).reshape(3, 3), "v": np.ones((3, 1)), "u": np.full((3, 1), 2.0),
       "s": np.full((1, 1), 4.0)}  # fmt: skip
ANSWER_ONLY = {E.Identity, E.Diag, E.Trace}
# leaves and constant factors: the walker stops there, no rule is asked for
NO_RULE = {E.Var, E.Const, E.Ones, E.Zero, E.Indicator, E.GradRef} | ANSWER_ONLY
KINDS = sorted(SAMPLES, key=lambda c: c.__name__)


def node_types() -> list[type]:
    return [
        c
        for c in vars(E).values()
        if isinstance(c, type) and issubclass(c, E.Expr) and c is not E.Expr
    ]


def test_every_node_type_has_a_sample() -> None:
    assert set(node_types()) - {E.GradRef} == set(SAMPLES)


@pytest.mark.parametrize("kind", KINDS, ids=lambda c: c.__name__)
def test_answer_backends_handle_every_node(kind: type) -> None:
    e = SAMPLES[kind]
    assert LatexPrinter(lambda n: n, "L").doprint(e)
    value = evaluate(e, ENV, {"n": 3})
    assert np.all(np.isfinite(np.asarray(value, dtype=float)))
    exact = evaluate(e, {k: precise(40).lift(v) for k, v in ENV.items()}, {"n": 3}, precise(40))
    assert np.allclose(np.asarray(exact, dtype=float), value)
    assert to_sympy(e) is not None
    assert ascii_form(e)


@pytest.mark.parametrize("kind", KINDS, ids=lambda c: c.__name__)
def test_backward_rules_cover_or_refuse_by_name(kind: type) -> None:
    if kind in NO_RULE:
        if kind in ANSWER_ONLY:
            with pytest.raises(NotImplementedError, match=kind.__name__):
                rule_for(SAMPLES[kind])
        return
    assert callable(rule_for(SAMPLES[kind]))


def test_an_unknown_node_is_refused_by_name_everywhere() -> None:
    class Strange(E.Expr):
        def __init__(self) -> None:
            self._finish(("n", 1))

    e = Strange()
    for backend in (lambda: LatexPrinter(lambda n: n, "L").doprint(e), lambda: to_sympy(e),
                    lambda: ascii_form(e), lambda: evaluate(e, ENV, {"n": 3}),
                    lambda: rule_for(e)):  # fmt: skip
        with pytest.raises(NotImplementedError, match="Strange"):
            backend()
