"""Every gradient of every network equals entry-by-entry sympy.diff of the scalar loss."""

from __future__ import annotations

import dataclasses

import mpmath
import pytest
import sympy

import derive
from derive import expr as E
from derive.elementwise import bounded_value, elementwise_check
from tests.conftest import EXAMPLES

# one row per network: the spec file and, where the spec's dims make sympy.diff slow, smaller dims
NETWORKS = [
    ("seed_example1", None),
    ("seed_example2", None),
    ("sigmoid_layer", None),
    ("two_sigmoid_layers", None),
    ("tanh_batch", None),
    ("relu_residual", None),
    ("leaky_relu", None),
    ("shared_weight", None),
    ("quadratic_form", None),
    ("least_squares", None),
    ("logistic_regression", None),
    ("batch_norm", None),
    ("mlp10", {"n": 1, "h": 1, "m": 1}),  # the nested explicit form grows like width**depth
]

EXTRA = {
    "leaky_slope_and_fanout": """
        [dims]
        n = 3
        [vars]
        x = { shape = ["n", 1], role = "input" }
        W = { shape = ["n", "n"], role = "param" }
        [forward]
        a = "W @ x"
        h = "leaky_relu(a, 0.2) + a"
        L = "sum(h * h) + mean(exp(a))"
    """,
    "row_bias_and_scalar_broadcast": """
        [dims]
        B = 3
        k = 2
        [vars]
        X = { shape = ["B", "k"], role = "input" }
        c = { shape = [1, "k"], role = "param" }
        s = { shape = "scalar", role = "param" }
        [forward]
        H = "sigmoid(X + c) * s - 1"
        L = "sum(H ** 2) / 2"
    """,
    "log_sqrt_division": """
        [dims]
        n = 2
        [vars]
        x = { shape = ["n", 1], role = "input", range = [0.5, 2.0] }
        w = { shape = ["n", 1], role = "param", range = [0.5, 2.0] }
        [forward]
        u = "w * x"
        L = "sum(log(u)) + sqrt(sum(u)) / (x.T @ w)"
    """,
    "transposed_use_of_a_weight": """
        [dims]
        n = 3
        m = 2
        [vars]
        x = { shape = ["n", 1], role = "input" }
        W = { shape = ["m", "n"], role = "param" }
        [forward]
        h = "tanh(W @ x)"
        r = "W.T @ h - x"
        L = "sum(r ** 2)"
    """,
}


@pytest.mark.parametrize(("name", "dims"), NETWORKS, ids=[n for n, _ in NETWORKS])
def test_examples_match_sympy_diff(name: str, dims: dict[str, int] | None) -> None:
    net = derive.load(EXAMPLES / f"{name}.toml")
    results = elementwise_check(net.derivation, net.names, dims=dims)
    failures = [str(r) for r in results if not r.passed]
    assert not failures, failures
    assert {r.wrt for r in results} == set(net.names)


@pytest.mark.parametrize("name", sorted(EXTRA))
def test_extra_networks_match_sympy_diff(name: str) -> None:
    net = derive.Network.from_toml(EXTRA[name], source=name)
    results = elementwise_check(net.derivation, net.names)
    failures = [str(r) for r in results if not r.passed]
    assert not failures, failures


def test_the_check_catches_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    # plant a wrong rule (d(AB)/dB = A G instead of A^T G) and the oracle must object
    from derive import expr as E
    from derive import rules

    def wrong_matmul(node: E.Expr, G: E.Expr, ctx: rules.RuleContext) -> rules.Contribution:
        a, b = node.children
        return [(a, E.matmul(G, E.transpose(b))), (b, E.matmul(E.transpose(a), E.scale(2, G)))]

    monkeypatch.setattr(rules.RULES, "_back_MatMul", wrong_matmul)
    net = derive.load(EXAMPLES / "seed_example2.toml")
    results = {r.wrt: r for r in elementwise_check(net.derivation, net.names)}
    assert not results["z"].passed
    assert results["W2"].passed  # the left factor's rule was kept


def test_fanout_is_a_sum_of_edges() -> None:
    net = derive.load(EXAMPLES / "shared_weight.toml")
    g = net.derivation["W"]
    assert [e.consumer for e in g.edges] == ["yhat", "h"]
    assert len(net.gradient("W").steps[0].split(" + ")) == 2
    residual = derive.load(EXAMPLES / "relu_residual.toml").derivation["x"]
    assert sorted(e.consumer for e in residual.edges) == ["a", "h"]


# -- the comparison's tolerance: rounding of 53-bit constants is not an error, 1e-6 is ---------

BATCH_NORM_ONES = EXAMPLES.parent / "tests" / "networks" / "batch_norm_ones.toml"


def test_no_false_fail_where_terms_cancel() -> None:
    # Z - mean(Z) cancels; with 1e-5 and -0.5 as 53-bit Floats combined in another order by the
    # derivation than by sympy.diff, entries differed by ~4e-15 relative (a false FAIL at a
    # 1e-15 tolerance). The spec's constants are exact rationals now, so the two sides agree to
    # the 64 digits they are evaluated at, and any rounding left is bounded, not guessed
    net = derive.load(BATCH_NORM_ONES)
    results = elementwise_check(net.derivation, net.names)
    failures = [str(r) for r in results if not r.passed]
    assert not failures, failures
    assert max(r.max_rel_error for r in results) < 1e-40


def test_verify_passes_batch_norm_with_ones() -> None:
    from derive.verify import verify_spec

    report = verify_spec(BATCH_NORM_ONES, use_torch=False)
    assert report.passed, report.failures()
    assert {r.wrt for r in report.rows} >= {"W", "gamma", "beta", "centred", "mu"}


@pytest.mark.parametrize("factor", [sympy.Rational(1_000_001, 1_000_000), sympy.Float(1 + 1e-6)])
@pytest.mark.parametrize("wrt", ["W", "gamma", "centred"])
def test_a_planted_relative_error_of_1e_6_is_caught(wrt: str, factor: sympy.Expr) -> None:
    net = derive.load(BATCH_NORM_ONES)
    deriv = net.derivation
    g = deriv.gradients[wrt]
    deriv.gradients[wrt] = dataclasses.replace(g, final=E.scale(factor, g.final))
    results = {r.wrt: r for r in elementwise_check(deriv, [wrt, "beta"])}
    assert not results[wrt].passed
    assert results[wrt].max_rel_error == pytest.approx(1e-6, rel=1e-3)
    assert results["beta"].passed


def test_a_planted_error_of_1e_12_is_caught_without_float_constants() -> None:
    net = derive.load(EXAMPLES / "two_sigmoid_layers.toml")
    deriv = net.derivation
    wrt = deriv.spec.params[0]
    g = deriv.gradients[wrt]
    deriv.gradients[wrt] = dataclasses.replace(
        g, final=E.scale(1 + sympy.Rational(1, 10**12), g.final)
    )
    (result,) = elementwise_check(deriv, [wrt])
    assert not result.passed


def test_bounded_value_bounds_a_rounded_constant() -> None:
    x = sympy.Symbol("x", real=True)
    point = {x: sympy.Float(2, 30)}
    tenth = bounded_value(sympy.Float(0.1) * x, point)
    with mpmath.workprec(212):
        gap = abs(tenth.value - mpmath.mpf(1) / 5)
    assert 1e-18 < gap <= tenth.error < 1e-16  # 0.1 is not 1/10 in binary, and the bound knows
    sigmoid = 1 / (1 + sympy.exp(-x))
    exact = bounded_value(sympy.Rational(1, 10) * x + sigmoid + sympy.tanh(x), point)
    assert exact.error < 1e-60


def test_a_constant_input_is_a_ones_vector() -> None:
    import numpy as np

    import numeric

    net = derive.load(BATCH_NORM_ONES)
    assert net.spec.variables["o"].value_range == (1.0, 1.0)
    nnet = numeric.load_network(BATCH_NORM_ONES)
    values = numeric.random_values(nnet, np.random.default_rng(0))
    assert np.all(values["o"] == 1.0)
