"""Every expression node type is handled by every walker (`derive.dispatch`): the LaTeX, MathML,
SymPy and NumPy-code printers, the evaluator in each of its backends (float64, 40 digits, explicit
SymPy matrices, torch) and the backward rules; an unknown node is refused by each with a clear
error that names it (never an AttributeError or a KeyError from a missing method).

Identity, Diag and Trace come only from answers (`I`, `\\operatorname{diag}`, `\\operatorname{tr}`
typed by a student), but every walker handles them too, and their backward rules are checked
against finite differences like the others.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from derive import codegen, mathml
from derive import expr as E
from derive.dispatch import handled
from derive.evaluate import SYMBOLIC, Evaluator, evaluate, precise, torch_backend
from derive.latex import LatexPrinter
from derive.rules import BackwardRules, rule_for
from derive.sympy_form import _AsciiPrinter, _SympyBuilder, ascii_form, to_sympy

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
    E.AxisSum: E.AxisSum(M, 1),
    E.Variance: E.Variance(M),
    E.Standardize: E.Standardize(M, sympy.Rational(1, 1000)),
    E.Softmax: E.Softmax(M),
    E.LogSoftmax: E.LogSoftmax(M),
}
ENV = {"M": np.array([[0.0, 1, 2], [3, 5, 4], [-1, 6, 2]]), "v": np.ones((3, 1)),
       "u": np.full((3, 1), 2.0), "s": np.full((1, 1), 4.0)}  # fmt: skip
# leaves: the reverse walk stops there, no rule is asked for
NO_RULE = {E.Var, E.GradRef}
KINDS = sorted(SAMPLES, key=lambda c: c.__name__)


def node_types() -> list[type]:
    return [
        c
        for c in vars(E).values()
        if isinstance(c, type) and issubclass(c, E.Expr) and c is not E.Expr
        and not c.__name__.startswith("_")
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


WALKERS = {
    "LaTeX": (LatexPrinter, "_print_"),
    "MathML": (mathml.MathmlPrinter, "_print_"),
    "SymPy": (_SympyBuilder, "_sympy_"),
    "SymPy text": (_AsciiPrinter, "_ascii_"),
    "NumPy code": (codegen._Emitter, "_code_"),
    "evaluation": (Evaluator, "_eval_"),
    "backward rules": (BackwardRules, "_back_"),
}


@pytest.mark.parametrize("walker", sorted(WALKERS))
def test_every_walker_has_a_method_for_every_node(walker: str) -> None:
    cls, prefix = WALKERS[walker]
    kinds = {c.__name__ for c in node_types()}
    missing = kinds - handled(cls, prefix)
    if walker == "backward rules":
        missing -= {c.__name__ for c in NO_RULE}
    assert not missing, f"{walker} lacks {sorted(missing)}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda c: c.__name__)
def test_explicit_sympy_and_torch_agree_with_float64(kind: type) -> None:
    e = SAMPLES[kind]
    value = np.asarray(evaluate(e, ENV, {"n": 3}), dtype=float)
    sym = {k: sympy.Matrix(v.tolist()) for k, v in ENV.items()}
    exact = evaluate(e, sym, {"n": 3}, SYMBOLIC)
    assert np.allclose(np.array(exact.tolist(), dtype=float), value)
    torch = pytest.importorskip("torch")
    tensors = {k: torch.tensor(v) for k, v in ENV.items()}
    got = evaluate(e, tensors, {"n": 3}, torch_backend(torch))
    assert np.allclose(got.numpy(), value)


def _fd_gradient(e: E.Expr, name: str, step: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(ENV[name])
    for idx in np.ndindex(out.shape):
        hi, lo = dict(ENV), dict(ENV)
        hi[name], lo[name] = ENV[name].copy(), ENV[name].copy()
        hi[name][idx] += step
        lo[name][idx] -= step
        f = np.sum(evaluate(e, hi, {"n": 3}) * WEIGHTS[e.shape])
        g = np.sum(evaluate(e, lo, {"n": 3}) * WEIGHTS[e.shape])
        out[idx] = (f - g) / (2 * step)
    return out


WEIGHTS = {("n", 1): np.array([[1.0], [-2.0], [0.5]]), ("n", "n"): np.arange(9.0).reshape(3, 3) - 4,
           (1, 1): np.ones((1, 1)), (1, "n"): np.array([[0.5, -1.0, 2.0]])}  # fmt: skip
# nodes whose rule is checked against finite differences: by name, beyond one per type
FD_CASES = {
    **{kind.__name__: SAMPLES[kind] for kind in (E.Diag, E.Trace, E.MatMul, E.Hadamard, E.Div,
                                                  E.ScalarMul, E.Variance, E.Standardize,
                                                  E.Softmax, E.LogSoftmax)},
    "AxisSum over rows": E.AxisSum(M, 1),
    "AxisSum over columns": E.AxisSum(M, 0),
    "Hadamard, a column broadcast": E.Hadamard((V, M)),
    "Hadamard, a row broadcast": E.Hadamard((M, E.Transpose(U))),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FD_CASES))
def test_backward_rules_agree_with_finite_differences(case: str) -> None:
    # the loss sum(Wt ⊙ node): its upstream gradient is the constant Wt
    node = FD_CASES[case]
    G = E.Var("G", node.shape)
    env = {**ENV, "G": WEIGHTS[node.shape]}
    checked = 0
    for child, contribution in rule_for(node)(node, G, _NoNames()):
        if not isinstance(child, E.Var):
            continue
        checked += 1
        got = np.asarray(evaluate(contribution, env, {"n": 3}), dtype=float)
        assert np.allclose(got, _fd_gradient(node, child.name), atol=1e-6), (case, child.name)
    assert checked, f"{case}: no variable child to check"


class _NoNames:
    def named(self, node: E.Expr) -> E.Expr:
        return node

    def sums_to_one(self, e: E.Expr) -> bool:
        return False

    def note(self, text: str, general: E.Expr | None = None, used: E.Expr | None = None) -> None:
        pass


def test_an_unknown_node_is_refused_by_name_everywhere() -> None:
    class Strange(E.Expr):
        def __init__(self) -> None:
            self._finish(("n", 1))

    e = Strange()
    for backend in (lambda: LatexPrinter(lambda n: n, "L").doprint(e), lambda: to_sympy(e),
                    lambda: ascii_form(e), lambda: evaluate(e, ENV, {"n": 3}),
                    lambda: evaluate(e, {}, {"n": 3}, SYMBOLIC),
                    lambda: rule_for(e)):  # fmt: skip
        with pytest.raises(NotImplementedError, match="Strange"):
            backend()
