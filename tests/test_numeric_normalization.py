"""numeric/: reductions over one axis, broadcasting * and /, dims as numbers, standardize and
batchnorm; every backward rule against central finite differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from numeric import NumericSpecError, check_gradients, load_network, random_values

HEAD = """
[dims]
h = 4
B = 5
[vars]
Z = { shape = ["h", "B"], role = "input" }
c = { shape = ["h", 1], role = "input" }
r = { shape = [1, "B"], role = "input" }
p = { shape = ["h", 1], role = "input", range = [0.5, 2] }
q = { shape = [1, "B"], role = "input", range = [0.5, 2] }
g = { shape = ["h", 1], role = "param" }
b = { shape = ["h", 1], role = "param" }
[forward]
"""

CASES = {
    "column sums": 'S = "sum(Z, axis=1)"\nL = "sum(S**2)"',
    "row means": 'S = "mean(Z, axis=0)"\nL = "sum(S**2)"',
    "column times matrix": 'P = "c * Z"\nL = "sum(P**2)"',
    "matrix times row": 'P = "Z * r"\nL = "sum(P**2)"',
    "matrix over column": 'P = "Z / p"\nL = "sum(P**2)"',
    "matrix over row": 'P = "Z / q"\nL = "sum(P**2)"',
    "a dim as a number": 'L = "sum(Z**2) / B"',
    "standardize": 'N = "standardize(Z, 0.001)"\nL = "sum((N * c)**2) + sum(N * Z)"',
    "batchnorm": 'N = "batchnorm(Z, g, b, 1e-5)"\nL = "sum(tanh(N)**2)"',
    "per-feature centring": 'M = "Z - mean(Z, axis=1)"\nL = "sum(M**3)"',
}


def network(tmp_path: Path, body: str) -> object:
    spec = tmp_path / "n.toml"
    spec.write_text('title = "t"' + HEAD + body + "\n")
    return load_network(spec)


@pytest.mark.parametrize("case", sorted(CASES))
def test_backward_matches_finite_differences(tmp_path: Path, case: str) -> None:
    net = network(tmp_path, CASES[case])
    values = random_values(net, np.random.default_rng(1))  # type: ignore[arg-type]
    result = check_gradients(net, values)  # type: ignore[arg-type]
    assert result.passed, str(result)


def test_shapes_of_axis_reductions(tmp_path: Path) -> None:
    net = network(tmp_path, 'S = "sum(Z, axis=0)"\nT = "mean(Z, axis=1)"\nL = "sum(S) + sum(T)"')
    shapes = {eq.name: eq.shape for eq in net.equations}  # type: ignore[attr-defined]
    assert shapes["S"] == (1, 5) and shapes["T"] == (4, 1)


def test_standardize_gives_zero_mean_unit_variance_rows(tmp_path: Path) -> None:
    net = network(tmp_path, 'N = "standardize(Z, 1e-12)"\nL = "sum(N)"')
    values = random_values(net, np.random.default_rng(2))  # type: ignore[arg-type]
    n = net.forward(values)["N"]  # type: ignore[attr-defined]
    assert np.allclose(n.mean(axis=1), 0, atol=1e-12)
    assert np.allclose(n.var(axis=1), 1, atol=1e-9)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('L = "sum(Z, axis=2)"', "axis=) must be 0 or 1"),
        ('L = "sum(Z, axis=True)"', "axis=) must be 0 or 1"),
        ('L = "sum(tanh(Z, axis=0))"', "sum and mean take axis="),
        ('N = "batchnorm(Z, r, b)"\nL = "sum(N)"', "batchnorm gamma has shape 1x5"),
        ('N = "standardize(Z, -1)"\nL = "sum(N)"', "eps must be positive"),
        ('P = "Z * g.T"\nL = "sum(P)"', "shapes 4x5 * 1x4"),
    ],
)
def test_bad_uses_are_one_clear_line(tmp_path: Path, body: str, message: str) -> None:
    import re

    with pytest.raises(NumericSpecError, match=re.escape(message)):
        network(tmp_path, body)
