"""Every op's backward rule against finite differences, plus numerically delicate cases."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from numeric import (
    MissingRuleError,
    check_gradients,
    directional_check,
    load_network,
    random_values,
)
from numeric.expression import Apply
from numeric.ops import OPS
from numeric.tape import Network

Array = npt.NDArray[Any]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DIMS = {"r": 3, "c": 2, "k": 4}


@dataclasses.dataclass(frozen=True)
class OpCase:
    """One row: an expression exercising an op, its operands and its own tolerance/range."""

    name: str
    expr: str
    operands: dict[str, tuple[str, str]]  # var -> (shape in TOML, range in TOML or "")
    out_shape: str
    rtol: float = 1e-6


MAT = '["r", "c"]'
COL = '["r", 1]'
ROW = '[1, "c"]'
POS = "[0.5, 2.0]"

OP_CASES = [
    OpCase("matmul", "A @ B", {"A": (MAT, ""), "B": ('["c", "k"]', "")}, '["r", "k"]'),
    OpCase("add", "A + B", {"A": (MAT, ""), "B": (MAT, "")}, MAT),
    OpCase("add_column_bias", "A + b", {"A": (MAT, ""), "b": (COL, "")}, MAT),
    OpCase("add_row_bias", "q + A", {"A": (MAT, ""), "q": (ROW, "")}, MAT),
    OpCase("add_scalar", "s + A", {"A": (MAT, ""), "s": ('"scalar"', "")}, MAT),
    OpCase("sub", "A - B", {"A": (MAT, ""), "B": (MAT, "")}, MAT),
    OpCase("sub_column_bias", "b - A", {"A": (MAT, ""), "b": (COL, "")}, MAT),
    OpCase("sub_row_bias", "A - q", {"A": (MAT, ""), "q": (ROW, "")}, MAT),
    OpCase("mul_hadamard", "A * B", {"A": (MAT, ""), "B": (MAT, "")}, MAT),
    OpCase("mul_scalar_left", "s * A", {"A": (MAT, ""), "s": ('"scalar"', "")}, MAT),
    OpCase("mul_scalar_right", "A * s", {"A": (MAT, ""), "s": ('"scalar"', "")}, MAT),
    OpCase("div", "A / s", {"A": (MAT, ""), "s": ('"scalar"', POS)}, MAT),
    OpCase("div_constant_numerator", "1 / s", {"s": ('"scalar"', POS)}, '"scalar"'),
    OpCase("pow_square", "A ** 2", {"A": (MAT, "")}, MAT),
    OpCase("pow_cube", "A ** 3", {"A": (MAT, "")}, MAT),
    OpCase("pow_half", "A ** 0.5", {"A": (MAT, POS)}, MAT),
    OpCase("pow_negative", "A ** -1.5", {"A": (MAT, POS)}, MAT),
    OpCase("transpose", "A.T", {"A": (MAT, "")}, '["c", "r"]'),
    OpCase("neg", "-A", {"A": (MAT, "")}, MAT),
    OpCase("sigmoid", "sigmoid(A)", {"A": (MAT, "[-4.0, 4.0]")}, MAT),
    OpCase("tanh", "tanh(A)", {"A": (MAT, "[-2.0, 2.0]")}, MAT),
    OpCase("relu", "relu(A)", {"A": (MAT, "")}, MAT),
    OpCase("leaky_relu", "leaky_relu(A)", {"A": (MAT, "")}, MAT),
    OpCase("leaky_relu_alpha", "leaky_relu(A, 0.2)", {"A": (MAT, "")}, MAT),
    OpCase("leaky_relu_alpha_above_1", "leaky_relu(A, 3)", {"A": (MAT, "")}, MAT),
    OpCase("elu", "elu(A)", {"A": (MAT, "")}, MAT),
    OpCase("elu_alpha", "elu(A, 0.5)", {"A": (MAT, "")}, MAT),
    OpCase("softplus", "softplus(A)", {"A": (MAT, "[-4.0, 4.0]")}, MAT),
    OpCase("silu", "silu(A)", {"A": (MAT, "[-4.0, 4.0]")}, MAT),
    OpCase("gelu", "gelu(A)", {"A": (MAT, "[-3.0, 3.0]")}, MAT),
    OpCase("erf", "erf(A)", {"A": (MAT, "[-2.0, 2.0]")}, MAT),
    OpCase("abs", "abs(A)", {"A": (MAT, "")}, MAT),
    OpCase("sign", "sign(A)", {"A": (MAT, "")}, MAT),
    OpCase("exp", "exp(A)", {"A": (MAT, "[-2.0, 2.0]")}, MAT),
    OpCase("log", "log(A)", {"A": (MAT, POS)}, MAT),
    OpCase("sqrt", "sqrt(A)", {"A": (MAT, POS)}, MAT),
    OpCase("sum", "sum(A)", {"A": (MAT, "")}, '"scalar"'),
    OpCase("mean", "mean(A)", {"A": (MAT, "")}, '"scalar"'),
    OpCase("logsumexp", "log(sum(exp(A)))", {"A": (MAT, "")}, '"scalar"'),
    OpCase("sum_axis0", "sum(A, axis=0)", {"A": (MAT, "")}, ROW),
    OpCase("mean_axis1", "mean(A, axis=1)", {"A": (MAT, "")}, COL),
    OpCase("standardize", "standardize(A, 0.01)", {"A": (MAT, "")}, MAT),
    OpCase("softmax", "softmax(A)", {"A": (MAT, "[-3.0, 3.0]")}, MAT),
    OpCase("log_softmax", "log_softmax(A)", {"A": (MAT, "[-3.0, 3.0]")}, MAT),
    OpCase("cross_entropy", "cross_entropy(A, Y)", {"A": (MAT, "[-3.0, 3.0]"),
           "Y": (MAT, "[0.0, 1.0]")}, '"scalar"'),
    OpCase("binary_cross_entropy", "binary_cross_entropy(A, Y)", {"A": (MAT, "[0.1, 0.9]"),
           "Y": (MAT, "[0.0, 1.0]")}, '"scalar"'),
    OpCase("bce_with_logits", "bce_with_logits(A, Y)", {"A": (MAT, "[-4.0, 4.0]"),
           "Y": (MAT, "[0.0, 1.0]")}, '"scalar"'),
    OpCase("mul_column", "b * A", {"A": (MAT, ""), "b": (COL, "")}, MAT),
    OpCase("div_row", "A / q", {"A": (MAT, ""), "q": (ROW, POS)}, MAT),
    OpCase("quadratic_form", "x.T @ M @ x", {"x": (COL, ""), "M": ('["r", "r"]', "")}, '"scalar"'),
]


def op_spec(case: OpCase) -> str:
    """y = <expr>; L = sum(y * R) with a random R, so every entry of y gets a cotangent."""
    lines = ["[dims]", *(f"{k} = {v}" for k, v in DIMS.items()), "[vars]"]
    for var, (shape, value_range) in case.operands.items():
        extra = f", range = {value_range}" if value_range else ""
        lines.append(f'{var} = {{ shape = {shape}, role = "param"{extra} }}')
    lines.append(f'R = {{ shape = {case.out_shape}, role = "target" }}')
    lines += ["[forward]", f'y = "{case.expr}"', 'L = "sum(y * R)"']
    return "\n".join(lines) + "\n"


def build(tmp_path: Path, text: str, name: str = "spec", **kwargs: Any) -> Network:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return load_network(path, **kwargs)


def ops_used(network: Network) -> set[str]:
    return {node.op for eq in network.equations for node in eq.nodes if isinstance(node, Apply)}


@pytest.mark.parametrize("case", OP_CASES, ids=[c.name for c in OP_CASES])
def test_op_backward_rule_matches_finite_differences(tmp_path: Path, case: OpCase) -> None:
    network = build(tmp_path, op_spec(case))
    for seed in range(3):
        values = random_values(network, np.random.default_rng(seed))
        result = check_gradients(network, values, wrt=list(case.operands), rtol=case.rtol)
        assert result.passed, str(result)
        assert result.n_checked > 0


def test_every_op_in_the_table_has_a_test_row(tmp_path: Path) -> None:
    covered: set[str] = set()
    for case in OP_CASES:
        covered |= ops_used(build(tmp_path, op_spec(case), case.name))
    assert covered == set(OPS), f"ops without a test row: {set(OPS) - covered}"


def test_log_sum_exp_pattern_is_fused(tmp_path: Path) -> None:
    case = next(c for c in OP_CASES if c.name == "logsumexp")
    assert ops_used(build(tmp_path, op_spec(case))) == {"logsumexp", "mul", "sum"}


SIGMOID_SPEC = """
[dims]
n = 5
[vars]
z = { shape = [1, "n"], role = "input" }
[forward]
p = "sigmoid(z)"
L = "sum(p)"
"""

LSE_SPEC = """
[dims]
n = 2
[vars]
E = { shape = [1, "n"], role = "input" }
[forward]
L = "log(sum(exp(E)))"
"""


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_at_plus_minus_1000_is_finite_and_silent(tmp_path: Path, dtype: type) -> None:
    network = build(tmp_path, SIGMOID_SPEC, dtype=dtype)
    z: Array = np.array([[-1000.0, -745.0, 0.0, 745.0, 1000.0]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        values, grads = network.backward({"z": z})
    p = values["p"]
    assert p.dtype == dtype and np.all(np.isfinite(p))
    assert p[0, 0] == 0.0 and p[0, 2] == 0.5 and p[0, 4] == 1.0
    assert np.all(np.isfinite(grads["z"])) and grads["z"][0, 2] == 0.25


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("level", [1000.0, -1000.0, 0.0])
def test_log_sum_exp_is_stable(tmp_path: Path, dtype: type, level: float) -> None:
    network = build(tmp_path, LSE_SPEC, dtype=dtype)
    E: Array = np.array([[level, level]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        values, grads = network.backward({"E": E})
    assert values["L"].dtype == dtype
    expected = level + np.log(2.0)
    assert values["L"][0, 0] == pytest.approx(expected, rel=10 * float(np.finfo(dtype).eps))
    np.testing.assert_allclose(grads["E"], [[0.5, 0.5]], rtol=10 * float(np.finfo(dtype).eps))


def test_log_sum_exp_backward_is_softmax(tmp_path: Path) -> None:
    network = build(tmp_path, LSE_SPEC)
    E = np.array([[1000.0, 999.0]])
    _, grads = network.backward({"E": E})
    softmax = np.exp(E - E.max()) / np.exp(E - E.max()).sum()
    np.testing.assert_allclose(grads["E"], softmax, rtol=1e-14)


def test_a_missing_backward_rule_fails_loudly_naming_the_op(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = load_network(EXAMPLES / "shared_weight.toml")
    values = random_values(network, np.random.default_rng(0))
    monkeypatch.setitem(OPS, "tanh", dataclasses.replace(OPS["tanh"], vjp=None))
    with pytest.raises(MissingRuleError, match="'tanh'"):
        network.backward(values)


def _wrong_sigmoid(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    return (y_bar * y,)  # forgot the (1 - y) factor


def _wrong_tanh(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    return (y_bar * (1 - y),)  # 1 - y instead of 1 - y**2


def _wrong_matmul(y_bar: Array, y: Array, a: Array, b: Array) -> tuple[Array, Array]:
    return y_bar @ b.T, (a.T @ y_bar) * 1.01  # one percent off


def _wrong_log(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
    return (y_bar / (a * a),)


PLANTED = [
    ("sigmoid", _wrong_sigmoid, "two_sigmoid_layers.toml"),
    ("tanh", _wrong_tanh, "tanh_batch.toml"),
    ("matmul", _wrong_matmul, "seed_example2.toml"),
    ("log", _wrong_log, "logistic_regression.toml"),
]


@pytest.mark.parametrize(("op", "rule", "example"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_wrong_rule_makes_the_check_fail(
    monkeypatch: pytest.MonkeyPatch, op: str, rule: Any, example: str
) -> None:
    network = load_network(EXAMPLES / example)
    values = random_values(network, np.random.default_rng(0))
    assert check_gradients(network, values).passed  # the oracle agrees before the plant
    monkeypatch.setitem(OPS, op, dataclasses.replace(OPS[op], vjp=rule))
    result = check_gradients(network, values)
    assert not result.passed and result.verdict == "FAILED"
    assert "FAIL" in str(result)
    assert not directional_check(network, values).passed


def test_float32_stays_float32_through_forward_backward_and_check() -> None:
    network = load_network(EXAMPLES / "tanh_batch.toml", dtype=np.float32)
    values = random_values(network, np.random.default_rng(0))
    assert all(v.dtype == np.float32 for v in values.values())
    forward, grads = network.backward(values)
    assert all(v.dtype == np.float32 for v in forward.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert isinstance(network.loss_value(values), float)
    assert check_gradients(network, values).passed
    assert directional_check(network, values).passed


def test_float64_values_given_to_a_float32_network_are_rounded_to_float32() -> None:
    network = load_network(EXAMPLES / "seed_example2.toml", dtype=np.float32)
    values = random_values(load_network(EXAMPLES / "seed_example2.toml"), np.random.default_rng(0))
    forward, grads = network.backward(values)
    assert all(v.dtype == np.float32 for v in forward.values())
    assert all(g.dtype == np.float32 for g in grads.values())
