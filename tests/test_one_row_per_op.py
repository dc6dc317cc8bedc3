"""A new elementwise function is one row in derive/ and one in numeric/: nothing else names it.

The test registers asinh (not in either table) by adding exactly those two rows, then derives,
generates code, verifies (sympy.diff per entry, numeric/, finite differences, torch when
installed) and grades an answer on a network that uses it. The rows added for real since (ELU,
softplus, SiLU) are named nowhere else in derive/ or numeric/.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sympy

import derive
import numeric.ops as nops
from derive.activations import ACTIVATIONS, Activation
from derive.answers.check import grade
from derive.verify import verify_spec
from tests.conftest import ROOT

ASINH = Activation(
    "asinh", lambda t, _: sympy.asinh(t), r"\operatorname{asinh}",
    numpy="np.arcsinh({a})", float64=lambda a, p: np.arcsinh(a),
    precise=lambda mp, x, p: mp.asinh(x), torch=lambda torch, x, p: torch.asinh(x),
    words=("asinh", "arsinh"),
)  # fmt: skip
NUMERIC_ASINH = nops.Activation(
    "asinh", np.arcsinh, lambda y_bar, y, z: (y_bar / np.sqrt(1 + z * z),)
)

SPEC = """
title = "An asinh layer"
[dims]
n = 3
k = 2
[vars]
x = { shape = ["n", 1], role = "input" }
y = { shape = ["k", 1], role = "target" }
W = { shape = ["k", "n"], role = "param" }
[forward]
h = "asinh(W @ x)"
L = "sum((h - y)**2)"
"""


@pytest.fixture
def with_asinh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setitem(ACTIVATIONS, "asinh", ASINH)  # the one row in derive/
    monkeypatch.setitem(nops.ACTIVATIONS, "asinh", NUMERIC_ASINH)  # the one row in numeric/
    spec = tmp_path / "asinh.toml"
    spec.write_text(SPEC)
    return spec


def test_derive_prints_the_derivative_from_the_formula(with_asinh: Path) -> None:
    net = derive.load(with_asinh)
    # asinh′(t) = (1 + t²)^(-1/2), from sympy.diff of the row's formula
    assert net.gradient("W").latex == (
        r"2 \left((h - y) \odot (1 + (W x)^{2})^{\circ -\frac{1}{2}}\right) x^{T}"
    )


def test_codegen_and_every_verify_column_pass(with_asinh: Path) -> None:
    import importlib.util

    report = verify_spec(with_asinh, use_torch=True)
    assert report.passed, report.rows
    wanted = {"symbolic", "gen_vs_numeric", "gen_vs_fd"}
    if importlib.util.find_spec("torch") is not None:
        wanted.add("gen_vs_torch")
    for row in report.rows:
        assert {k for k, c in row.cells.items() if c.status == "pass"} >= wanted, row


def test_check_grades_the_printed_gradient_and_reads_the_name(with_asinh: Path) -> None:
    net = derive.load(with_asinh)
    printed = net.gradient("W").latex
    assert grade(net.derivation, "W", printed).verdict == "correct"
    # the function's own name is read too: ∂L/∂h is 2(h − y), written with asinh
    assert grade(net.derivation, "h", r"2(\operatorname{asinh}(Wx) - y)").verdict == "correct"
    assert grade(net.derivation, "h", r"2(\operatorname{asinh}(Wx) + y)").verdict == "incorrect"


def test_the_new_rows_are_named_only_in_their_tables() -> None:
    offenders = []
    for folder in ("derive", "numeric"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            # the tables, and the loss table that composes their rows (bce_with_logits: softplus)
            if path.name in ("activations.py", "ops.py", "losses.py"):
                continue
            text = path.read_text(encoding="utf-8")
            for name in ("softplus", "silu", "elu"):
                if re.search(rf"[\"']{name}[\"']", text):
                    offenders.append((str(path.relative_to(ROOT)), name))
    assert not offenders
