"""Initialization: the derived rules (derive.init_theory) and the experiment (derive.init_study)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from derive import init_study as S
from derive import init_theory as T
from derive.errors import TooLargeError


def test_the_rules_come_out_of_the_derivation() -> None:
    found = {r.name: r.variance for r in T.rules()}
    n_in, n_out = T.N_IN, T.N_OUT
    assert sympy.simplify(found["forward (LeCun)"] - 1 / n_in) == 0
    assert sympy.simplify(found["backward"] - 1 / n_out) == 0
    assert sympy.simplify(found["Xavier (Glorot)"] - 2 / (n_in + n_out)) == 0
    assert sympy.simplify(found["He (Kaiming)"] - 2 / n_in) == 0


def test_relu_halves_the_second_moment_by_integration() -> None:
    moment, step = T.relu_second_moment()
    assert sympy.simplify(moment - T.VAR_Z / 2) == 0
    assert r"\int_0^\infty" in step.latex


def test_the_schemes_use_the_derived_rules() -> None:
    assert S.SCHEMES["xavier"].std(256, 256) == pytest.approx((2 / 512) ** 0.5)
    assert S.SCHEMES["he"].std(256, 256) == pytest.approx((2 / 256) ** 0.5)


def test_too_small_weights_collapse_the_activations() -> None:
    s = S.run("tanh", "small", depth=10, width=256, batch=64)
    assert s.layers[-1].std < 1e-3 * s.layers[0].std
    assert "collapse" in S.verdict(s)


def test_too_large_weights_saturate_tanh() -> None:
    s = S.run("tanh", "large", depth=3, width=2048, batch=8)
    assert all(layer.saturated > 0.90 for layer in s.layers), [x.saturated for x in s.layers]
    assert "saturation" in S.verdict(s)


@pytest.mark.parametrize(("activation", "scheme"), [("tanh", "xavier"), ("relu", "he")])
def test_xavier_and_he_keep_the_variance(activation: str, scheme: str) -> None:
    s = S.run(activation, scheme, depth=10, width=256, batch=128)
    ratios = [layer.variance_ratio for layer in s.layers[1:]]
    assert all(r is not None and 0.5 <= r <= 2 for r in ratios), ratios


def test_relu_with_xavier_halves_the_variance_per_layer() -> None:
    s = S.run("relu", "xavier", depth=6, width=256, batch=128)
    ratios = [layer.variance_ratio for layer in s.layers[1:]]
    assert all(r is not None and 0.4 <= r <= 0.65 for r in ratios), ratios  # He's factor 2


def test_sizes_are_bounded() -> None:
    with pytest.raises(TooLargeError, match="too large: --width"):
        S.check_size(10, S.MAX_WIDTH + 1, 1)
    with pytest.raises(TooLargeError, match="multiply-adds"):
        S.check_size(200, 4096, 4096)


def test_cli_json_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "init.png"
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "init-study", "--activation", "relu", "--depth",
         "4", "--width", "32", "--batch", "16", "--json", "--plot", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [d["scheme"] for d in data] == ["small", "large", "xavier", "he"]
    assert len(data[0]["layers"]) == 4
    assert out.stat().st_size > 10_000


def test_cli_bad_input_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "init-study", "--width", "100000"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "too large: --width" in proc.stderr


@pytest.mark.parametrize("fmt", ["markdown", "latex", "json"])
def test_derive_init_prints_every_format(fmt: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "derive-init", "--format", fmt],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = "".join(s["latex"] for r in json.loads(proc.stdout) for s in r["steps"]) if (
        fmt == "json") else proc.stdout  # fmt: skip
    assert "n_{\\mathrm{in}} + n_{\\mathrm{out}}" in text
