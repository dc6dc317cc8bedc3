"""The fast paths: directional_check's cheap directions and buffers, backward_from, plans."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from numeric import RuleContractError, directional_check, load_network, random_values
from numeric.gradcheck import _draw_direction
from numeric.ops import OPS

Array = npt.NDArray[Any]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("size", [1, 3, 4, 5, 4099])
@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
def test_direction_entries_are_odd_levels_in_the_int16_range(
    size: int, bit_generator: type[np.random.BitGenerator]
) -> None:
    rng = np.random.Generator(bit_generator(0))
    out = np.empty((size, 1))
    sum_sq = _draw_direction(rng, out)
    assert sum_sq == float(np.sum(out**2))  # integers: exact in any order
    assert np.all(out == np.round(out)) and np.all(np.abs(out) <= 32767)
    assert np.all(out % 2 == 1)  # odd (Python modulo), so never 0
    if size > 1000:  # all four 16-bit lanes of each word are random (MT19937 too)
        for lane in range(4):
            part = out[lane::4, 0]
            assert abs(part.mean()) < 0.1 * 32767 and part.std() > 0.5 * 32767 / np.sqrt(3)


def test_draws_differ_and_follow_the_generator() -> None:
    a, b, c = np.empty((64, 1)), np.empty((64, 1)), np.empty((64, 1))
    rng = np.random.default_rng(7)
    _draw_direction(rng, a)
    _draw_direction(rng, b)
    _draw_direction(np.random.default_rng(7), c)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


SWAP_SPEC = """
[dims]
n = 2
[vars]
W = { shape = ["n", "n"], role = "param" }
C = { shape = ["n", "n"], role = "input" }
[forward]
L = "sum(W.T * C)"
"""


def test_two_equal_and_opposite_errors_never_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A transpose rule that forgets to transpose makes dL/dW = C instead of C^T: on a 2x2
    # matrix the error is +-(C[0, 1] - C[1, 0]) on two entries. A +-1 direction would miss
    # it whenever its two entries are equal (half the directions); ours catch every one.
    spec = tmp_path / "swap.toml"
    spec.write_text(SWAP_SPEC)
    network = load_network(spec)
    values = {"W": np.array([[0.3, -0.2], [0.5, 0.1]]), "C": np.array([[1.0, 2.0], [-1.0, 0.5]])}
    assert directional_check(network, values, wrt=["W"]).passed

    def forgot_transpose(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
        return (y_bar,)

    monkeypatch.setitem(
        OPS, "transpose", dataclasses.replace(OPS["transpose"], vjp=forgot_transpose)
    )
    for seed in range(20):
        rng = np.random.default_rng(seed)
        result = directional_check(network, values, wrt=["W"], rng=rng)
        assert result.verdict == "FAILED" and all(not row.passed for row in result.rows.values())


def test_backward_from_an_evaluation_equals_backward() -> None:
    network = load_network(EXAMPLES / "seed_example2.toml")
    values = random_values(network, np.random.default_rng(0))
    forward, grads = network.backward(values)
    run = network.evaluate(values)
    assert run.values.keys() == forward.keys()
    again = network.backward_from(run)
    assert again.keys() == grads.keys()
    for name in grads:
        np.testing.assert_array_equal(again[name], grads[name])
    pinned = {"z": forward["z"] + 0.5}
    _, pinned_grads = network.backward(values, pinned)
    from_run = network.backward_from(network.evaluate(values, pinned))
    for name in pinned_grads:
        np.testing.assert_array_equal(from_run[name], pinned_grads[name])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_directional_check_with_a_pinned_intermediate(dtype: type) -> None:
    network = load_network(EXAMPLES / "seed_example2.toml", dtype=dtype)
    values = random_values(network, np.random.default_rng(3))
    result = directional_check(network, values, wrt=["z", "W2", "b2"])
    assert result.passed and result.complete, str(result)
    # the inputs are left as they were (the perturbations live in buffers of their own)
    again = random_values(network, np.random.default_rng(3))
    for name in values:
        np.testing.assert_array_equal(values[name], again[name])


def test_directional_check_catches_a_wrong_rule_after_a_pinned_intermediate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = load_network(EXAMPLES / "two_sigmoid_layers.toml")
    values = random_values(network, np.random.default_rng(0))
    names = ["a1", "W2", "b2"]  # a1 pinned: W1, b1 no longer reach the loss
    assert directional_check(network, values, wrt=names).passed

    def wrong(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
        return (y_bar * y,)

    monkeypatch.setitem(OPS, "sigmoid", dataclasses.replace(OPS["sigmoid"], vjp=wrong))
    assert directional_check(network, values, wrt=names).verdict == "FAILED"


def test_a_rule_patched_after_the_first_pass_is_still_used_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = load_network(EXAMPLES / "tanh_batch.toml")
    values = random_values(network, np.random.default_rng(0))
    network.backward(values)

    def wrong_shape(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
        return (y_bar[:1],)

    monkeypatch.setitem(OPS, "tanh", dataclasses.replace(OPS["tanh"], vjp=wrong_shape))
    with pytest.raises(RuleContractError, match="'tanh'"):
        network.backward(values)
