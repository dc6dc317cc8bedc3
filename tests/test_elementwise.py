"""Every gradient of every network equals entry-by-entry sympy.diff of the scalar loss."""

from __future__ import annotations

import pytest

import derive
from derive.elementwise import elementwise_check
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

    monkeypatch.setitem(rules.RULES, E.MatMul, wrong_matmul)
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
