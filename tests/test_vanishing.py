"""`gradproof diagnose`: the notes' four ways a gradient is zero, each reproduced and named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import derive
from derive import vanishing as V
from tests.conftest import EXAMPLES

SPEC = derive.load(EXAMPLES / "two_sigmoid_layers.toml").spec


def base() -> dict[str, np.ndarray]:
    return V.initial_values(SPEC, "xavier", 0)


def report(values: dict[str, np.ndarray], name: str) -> V.ParamReport:
    return next(r for r in V.diagnose(SPEC, values) if r.param == name)


def test_a_healthy_state_has_no_vanishing_gradient() -> None:
    assert not any(r.vanishes for r in V.diagnose(SPEC, base()))


def test_the_factorization_is_the_notes() -> None:
    r = report(base(), "W1")
    assert r.factorization == (
        r"\left(\frac{\partial \mathcal{J}}{\partial h^{(1)}} \odot \sigma'(a^{(1)})\right) "
        r"\left(x\right)^{T}"
    )
    assert [f.role for f in r.factors] == ["upstream", "slope", "input", "weights_above"]


def test_an_optimum_is_named_fine() -> None:
    from numeric.tape import load_network

    values = base()
    forward = load_network(SPEC.source).forward(values)
    values["y"] = forward["yhat"]  # the output already fits
    r2, r1 = report(values, "W2"), report(values, "W1")
    assert r2.case == V.OPTIMUM and "fine" in r2.words
    assert r1.case == V.OPTIMUM  # through the layer above


def test_zero_inputs_are_named() -> None:
    values = base()
    values["x"] = np.zeros_like(values["x"])
    r = report(values, "W1")
    assert r.case == V.DEAD_INPUTS and "z = 0" in r.words
    assert not report(values, "b1").vanishes  # a bias has no input factor


def test_zero_weights_above_are_named() -> None:
    values = base()
    values["W2"] = np.zeros_like(values["W2"])
    r = report(values, "W1")
    assert r.case == V.ZERO_WEIGHTS and "W2" in r.words


def test_saturation_is_named_with_its_share() -> None:
    values = base()
    values["W1"] = values["W1"] * 1e4
    r = report(values, "W1")
    assert r.case == V.SATURATION
    assert "100% of the units of layer 1 are saturated" in r.words


def test_dead_relus_are_named() -> None:
    spec = derive.load(EXAMPLES / "relu_residual.toml").spec
    values = V.initial_values(spec, "he", 0)
    values["b1"] = np.full_like(values["b1"], -100.0)  # every unit off
    r = next(x for x in V.diagnose(spec, values) if x.param == "W1")
    assert r.case == V.SATURATION and "dead" in r.words


def test_values_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "v.npz"
    np.savez(bad, x=np.zeros((7, 1)))
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "diagnose", str(EXAMPLES / "two_sigmoid_layers.toml"),
         "--values", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "x has shape (7, 1), expected (3, 1)" in proc.stderr
    pickled = tmp_path / "p.npz"
    np.savez(pickled, x=np.array([object()], dtype=object))
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "diagnose", str(EXAMPLES / "two_sigmoid_layers.toml"),
         "--values", str(pickled)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "not a NumPy .npz file of arrays" in proc.stderr


@pytest.mark.parametrize("init", ["xavier", "large"])
def test_cli_runs_and_plots(tmp_path: Path, init: str) -> None:
    out = tmp_path / "d.svg"
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "diagnose", str(EXAMPLES / "mlp10.toml"), "--init",
         init, "--json", "--plot", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert out.read_text().startswith("<?xml")
