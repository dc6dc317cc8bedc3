"""Whole networks: every example passes the FD check; fan-out, broadcasts, kinks, wide MLPs."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from numeric import (
    NumericError,
    NumericValueError,
    check_gradients,
    directional_check,
    finite_difference_gradients,
    load_network,
    random_values,
    relative_error,
)
from numeric.ops import OPS

Array = npt.NDArray[Any]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
@pytest.mark.parametrize("seed", [0, 1])
def test_example_passes_finite_difference_checks(path: Path, seed: int) -> None:
    network = load_network(path)
    values = random_values(network, np.random.default_rng(seed))
    per_entry = check_gradients(network, values)
    assert per_entry.passed, str(per_entry)
    assert per_entry.n_checked > 0
    directional = directional_check(network, values, rng=np.random.default_rng(seed))
    assert directional.passed, str(directional)


def test_network_metadata() -> None:
    network = load_network(EXAMPLES / "seed_example2.toml")
    assert network.title == "Fully-connected network"
    assert network.dims == {"n": 3, "h": 4, "m": 2}
    assert network.inputs_order == ["x", "y", "W1", "b1", "W2", "b2"]
    assert network.intermediates == ["z", "yhat", "J"]
    assert network.loss == "J"
    assert network.variables["W1"].shape == (4, 3)
    assert network.variables["W1"].role == "param"
    assert network.variables["z"].role == "intermediate"


def test_dims_override_changes_shapes() -> None:
    network = load_network(EXAMPLES / "seed_example2.toml", dims={"h": 7})
    assert network.variables["W1"].shape == (7, 3)
    values = random_values(network, np.random.default_rng(0))
    assert check_gradients(network, values).passed


def test_backward_returns_a_gradient_for_every_var_and_intermediate_but_the_loss() -> None:
    network = load_network(EXAMPLES / "two_sigmoid_layers.toml")
    values = random_values(network, np.random.default_rng(0))
    forward, grads = network.backward(values)
    assert set(forward) == set(network.variables)
    assert set(grads) == set(network.variables) - {network.loss}
    for name, grad in grads.items():
        assert grad.shape == network.variables[name].shape


def test_random_values_respect_range() -> None:
    network = load_network(EXAMPLES / "logistic_regression.toml")
    for seed in range(50):
        y = random_values(network, np.random.default_rng(seed))["y"]
        assert 0.05 <= y[0, 0] <= 0.95


def test_fan_out_sums_contributions(tmp_path: Path) -> None:
    spec = tmp_path / "fan_out.toml"
    spec.write_text(
        '[dims]\nn = 4\n[vars]\nx = { shape = ["n", 1], role = "param" }\n'
        '[forward]\nu = "x * x + x"\nL = "sum(u) + sum(x)"\n'
    )
    network = load_network(spec)
    x = np.random.default_rng(0).standard_normal((4, 1))
    _, grads = network.backward({"x": x})
    np.testing.assert_allclose(grads["x"], 2 * x + 2, rtol=1e-15)


def test_quadratic_form_gradient_is_the_cookbook_formula() -> None:
    network = load_network(EXAMPLES / "quadratic_form.toml")
    values = random_values(network, np.random.default_rng(3))
    _, grads = network.backward(values)
    x, A = values["x"], values["A"]
    np.testing.assert_allclose(grads["x"], (A + A.T) @ x, rtol=1e-12)
    np.testing.assert_allclose(grads["A"], x @ x.T, rtol=1e-12)


def test_tied_weight_gradient_sums_both_uses() -> None:
    network = load_network(EXAMPLES / "shared_weight.toml")
    values = random_values(network, np.random.default_rng(0))
    forward, grads = network.backward(values)
    W, x, y, h = values["W"], values["x"], values["y"], forward["h"]
    yhat_bar = 2 * (W @ h - y)
    pre_bar = (W.T @ yhat_bar) * (1 - h**2)
    np.testing.assert_allclose(grads["W"], yhat_bar @ h.T + pre_bar @ x.T, rtol=1e-12)


def test_column_bias_gradient_sums_over_the_batch() -> None:
    network = load_network(EXAMPLES / "tanh_batch.toml")
    values = random_values(network, np.random.default_rng(0))
    forward, grads = network.backward(values)
    H, Y, X = forward["H"], values["Y"], values["X"]
    pre_bar = 2 * (H - Y) / H.size * (1 - H**2)
    np.testing.assert_allclose(grads["b"], pre_bar.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(grads["W"], pre_bar @ X.T, rtol=1e-12)


def test_row_bias_and_scalar_gradients_sum_over_the_broadcast(tmp_path: Path) -> None:
    spec = tmp_path / "row.toml"
    spec.write_text(
        '[dims]\nr = 3\nc = 4\n[vars]\nX = { shape = ["r", "c"], role = "input" }\n'
        'q = { shape = [1, "c"], role = "param" }\ns = { shape = "scalar", role = "param" }\n'
        'R = { shape = ["r", "c"], role = "target" }\n'
        '[forward]\nZ = "s * X + q + s"\nL = "sum(Z * R)"\n'
    )
    network = load_network(spec)
    values = random_values(network, np.random.default_rng(0))
    _, grads = network.backward(values)
    R, X = values["R"], values["X"]
    np.testing.assert_allclose(grads["q"], R.sum(axis=0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(grads["s"], [[np.sum(R * X) + np.sum(R)]], rtol=1e-12)


def test_intermediates_by_finite_differences_with_override() -> None:
    network = load_network(EXAMPLES / "seed_example2.toml")
    values = random_values(network, np.random.default_rng(0))
    forward, grads = network.backward(values)
    fd = finite_difference_gradients(network, values, wrt=["z", "yhat", "W1"])
    for name in ("z", "yhat", "W1"):
        assert relative_error(fd[name], grads[name]) < 1e-6
    pinned = network.forward(values, override={"z": forward["z"] + 1.0})
    np.testing.assert_allclose(pinned["yhat"], forward["yhat"] + values["W2"].sum(axis=1)[:, None])
    np.testing.assert_array_equal(pinned["x"], values["x"])


def test_relative_error_floor() -> None:
    assert relative_error(np.array([1e-17]), np.array([0.0])) < 1e-4
    assert relative_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 1.1)
    assert relative_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    with pytest.raises(NumericError):
        relative_error(np.zeros(2), np.zeros(3))


def _relu_values_at_the_kink() -> tuple[Any, dict[str, Array]]:
    """relu_residual with x = 0 and b1[0] = 0, so relu's input a[0] is exactly 0."""
    network = load_network(EXAMPLES / "relu_residual.toml")
    values = random_values(network, np.random.default_rng(0))
    values["x"] = np.zeros_like(values["x"])
    values["b1"][0, 0] = 0.0
    return network, values


def test_kink_inputs_are_the_relu_arguments() -> None:
    network, values = _relu_values_at_the_kink()
    (a,) = network.kink_inputs(values)
    np.testing.assert_array_equal(a, network.forward(values)["a"])
    assert a[0, 0] == 0.0


def test_relu_exactly_at_zero_is_reported_unchecked_not_failed() -> None:
    network, values = _relu_values_at_the_kink()
    result = check_gradients(network, values, max_nudges=0)
    assert result.passed and not result.complete, str(result)
    assert any(item.where == "b1[0, 0]" and "kink" in item.reason for item in result.unchecked)
    assert "UNCHECKED" in str(result)


def test_relu_at_a_kink_is_nudged_off_it_and_checked() -> None:
    network, values = _relu_values_at_the_kink()
    result = check_gradients(network, values)
    assert result.passed and result.complete, str(result)
    assert any(note.startswith("b1[0, 0]") for note in result.nudged)


def test_relu_near_a_kink_is_not_a_false_failure() -> None:
    network = load_network(EXAMPLES / "relu_residual.toml")
    values = random_values(network, np.random.default_rng(1))
    a = network.forward(values)["a"]
    values["b1"] = values["b1"] - a + 1e-9  # every relu input is now 1e-9
    result = check_gradients(network, values)
    assert result.passed, str(result)
    assert result.nudged or result.unchecked


def test_directional_check_at_a_kink_is_inconclusive_not_failed() -> None:
    network, values = _relu_values_at_the_kink()
    result = directional_check(network, values)
    assert result.verdict == "INCONCLUSIVE", str(result)
    assert len(result.unchecked) == 3 and all("kink" in u.reason for u in result.unchecked)
    # W1 alone cannot move a = W1 @ 0 + b1 off the kink: those directions are checked.
    assert directional_check(network, values, wrt=["W1", "W2", "y"]).passed


def test_forward_validates_shapes_and_names() -> None:
    network = load_network(EXAMPLES / "seed_example2.toml")
    values = random_values(network, np.random.default_rng(0))
    with pytest.raises(NumericValueError, match=r"'W1' has shape \(3, 4\), expected \(4, 3\)"):
        network.forward({**values, "W1": values["W1"].T})
    with pytest.raises(NumericValueError, match="missing"):
        network.forward({k: v for k, v in values.items() if k != "x"})
    with pytest.raises(NumericValueError, match="unknown name 'q'"):
        network.forward({**values, "q": values["x"]})
    with pytest.raises(NumericValueError, match="numpy array"):
        network.forward({**values, "x": [[1.0], [2.0], [3.0]]})
    with pytest.raises(NumericValueError, match="not an intermediate"):
        network.forward(values, override={"x": values["x"]})


def wide_mlp_spec(width: int, depth: int) -> str:
    lines = [
        'title = "wide sigmoid MLP"',
        "[dims]",
        f"w = {width}",
        "[vars]",
        'x = { shape = ["w", 1], role = "input" }',
        'y = { shape = ["w", 1], role = "target" }',
    ]
    for i in range(1, depth + 1):
        lines.append(f'W{i} = {{ shape = ["w", "w"], role = "param" }}')
        lines.append(f'b{i} = {{ shape = ["w", 1], role = "param" }}')
    lines.append("[forward]")
    previous = "x"
    for i in range(1, depth + 1):
        lines.append(f'h{i} = "sigmoid(W{i} @ {previous} + b{i})"')
        previous = f"h{i}"
    lines.append(f'L = "sum(({previous} - y)**2)"')
    return "\n".join(lines) + "\n"


def test_directional_check_on_a_width_512_depth_8_mlp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "wide.toml"
    spec.write_text(wide_mlp_spec(512, 8))
    network = load_network(spec)
    values = random_values(network, np.random.default_rng(0))
    for i in range(1, 9):
        values[f"W{i}"] /= np.sqrt(512)  # keep the sigmoids out of saturation
    start = time.perf_counter()
    result = directional_check(network, values)
    elapsed = time.perf_counter() - start
    assert result.passed and result.complete, str(result)
    assert elapsed < 10, f"directional check took {elapsed:.1f} s"

    def wrong(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
        return (y_bar * y,)

    monkeypatch.setitem(OPS, "sigmoid", dataclasses.replace(OPS["sigmoid"], vjp=wrong))
    assert directional_check(network, values).verdict == "FAILED"
