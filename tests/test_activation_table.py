"""The activation table's computed claims against the notes' table (../shared/seed/NOTES.md):

- Sigmoid, 1/(1 + exp(−z)): values in [0, 1]; zero gradient when saturated; not zero-centred.
- Tanh, (e^z − e^−z)/(e^z + e^−z): values in [−1, 1], zero-centred; zero gradient when saturated.
- ReLU, max(0, z): does not saturate, cheap; not zero-centred; zero gradient for negative inputs.
- Leaky ReLU, max(0.01z, z).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from derive import activation_table as A


@pytest.fixture(scope="module")
def rows() -> dict[str, A.Row]:
    return {r.name: r for r in A.table()}


def test_sigmoid(rows: dict[str, A.Row]) -> None:
    r = rows["sigmoid"]
    assert r.output_range == r"\left(0, 1\right)"  # values in [0, 1], the ends never reached
    assert not r.zero_centred  # positive output
    assert r.saturates == "both sides"  # zero gradient for saturated neurons
    assert r.derivative_max == r"\frac{1}{4}"  # σ′ ≤ 1/4: deep sigmoid stacks vanish
    assert r.derivative == r"\sigma(t) \left(1 - \sigma(t)\right)"
    assert r.differentiable


def test_tanh(rows: dict[str, A.Row]) -> None:
    r = rows["tanh"]
    assert r.output_range == r"\left(-1, 1\right)"
    assert r.zero_centred
    assert r.saturates == "both sides"
    assert r.derivative_max_value == 1.0
    assert r.derivative == r"1 - \tanh(t)^{2}"


def test_relu(rows: dict[str, A.Row]) -> None:
    r = rows["relu"]
    assert r.output_range == r"\left[0, \infty\right)"
    assert not r.zero_centred
    assert r.saturates == "f′ = 0 for t ≤ 0"  # does not saturate for t > 0; zero for negatives
    assert r.limits[3] == "1"
    assert not r.differentiable and "f′(0) = 0" in r.kink
    assert r.derivative == r"\mathbb{1}[t > 0]"
    assert r.formula == r"\max\left(0, t\right)"


def test_leaky_relu(rows: dict[str, A.Row]) -> None:
    r = rows["leaky_relu"]
    assert r.formula == r"\max\left(\frac{t}{100}, t\right)"  # max(0.01z, z)
    assert r.saturates == "no"
    assert r.output_range == r"\left(-\infty, \infty\right)"
    assert not r.differentiable and "f′(0) = 1/100" in r.kink


@pytest.mark.parametrize("fmt", ["markdown", "latex", "json"])
def test_cli(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "table"
    plot = tmp_path / "act.png"
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "activations", "--format", fmt, "-o", str(out),
         "--plot", str(plot)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    if fmt == "json":
        assert {r["name"] for r in json.loads(text)} >= {"sigmoid", "tanh", "relu", "leaky_relu"}
    else:
        assert "leaky" in text
    assert plot.stat().st_size > 10_000


def test_the_note_says_how_each_derivative_is_written_as_the_column_shows_it(
    rows: dict[str, A.Row],
) -> None:
    from derive.activations import ACTIVATIONS

    note = A.derivative_note(list(rows.values()))
    assert note == (
        "written in the function's own value f(t) where that is no longer than in t (sigmoid, "
        "tanh, elu for t ≤ 0, softplus), in another activation's value where that is shorter "
        r"(silu, in $\sigma(t)$), and otherwise left in t (relu, leaky_relu, gelu); a piecewise "
        r"f′ is written with indicators $\mathbb{1}[\cdot]$"
    )
    own, other = ("sigmoid", "tanh", "elu", "softplus"), ("silu",)
    plain = ("relu", "leaky_relu", "gelu")
    assert sorted((*own, *other, *plain)) == sorted(rows)
    values = {name: f"{ACTIVATIONS[name].latex}(t)" for name in rows}  # f(t) as the column prints
    for name in own:
        assert values[name] in rows[name].derivative, name
    assert r"\left(\operatorname{ELU}(t) + 1\right) \mathbb{1}[t \le 0]" in rows["elu"].derivative
    silu = rows["silu"].derivative
    assert values["sigmoid"] in silu and values["silu"] not in silu
    for name in plain:
        assert not any(v in rows[name].derivative for v in values.values()), name
    assert "s = f(t)" not in A.as_markdown(list(rows.values()))  # no symbol s is printed
