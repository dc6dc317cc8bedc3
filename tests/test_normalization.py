"""Reductions along one axis, broadcasting * and /, dims as numbers, standardize and batchnorm in
derive/: what the spec reads, how it prints, the compact batch-norm backward pass, every column
of `gradproof verify` (torch included), and `check` accepting the compact form and naming a
dropped term.

Oracle for the batch-norm backward pass: Ioffe & Szegedy (2015), "Batch normalization", the
gradients below their Algorithm 1, summed over the minibatch into matrix form.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy

import derive
from derive import check
from derive import expr as E
from derive.evaluate import evaluate
from derive.latex import printer_for
from derive.verify import verify_spec
from tests.conftest import EXAMPLES, ROOT

NETWORKS = ROOT / "tests" / "networks"
BATCHNORM_MLP = EXAMPLES / "batchnorm_mlp.toml"
DL_DN = r"\frac{\partial \mathcal{L}}{\partial N}"

HEAD = """
[dims]
h = 3
B = 4
[vars]
Z = { shape = ["h", "B"], role = "input" }
c = { shape = ["h", 1], role = "param" }
r = { shape = [1, "B"], role = "param" }
s = { shape = "scalar", role = "param" }
[forward]
"""


def spec_of(*lines: str) -> derive.Network:
    return derive.Network.from_toml('title = "t"' + HEAD + "\n".join(lines) + "\n", source="t")


def latex_of(net: derive.Network, name: str) -> str:
    return printer_for(net.spec).doprint(net.spec.equation(name).expr)


# -- the spec language ----------------------------------------------------------------------------

SHAPES = [
    ("sum(Z, axis=1)", ("h", 1), r"Z \mathbf{1}"),
    ("sum(Z, axis=0)", (1, "B"), r"\mathbf{1}^{T} Z"),
    ("mean(Z, axis=1)", ("h", 1), r"\frac{1}{B} Z \mathbf{1}"),
    ("mean(Z, axis=0)", (1, "B"), r"\frac{1}{h} \mathbf{1}^{T} Z"),
    ("sum(c, axis=1)", ("h", 1), "c"),  # along an axis of length 1: the column itself
    ("c * Z", ("h", "B"), r"c \odot Z"),
    ("Z * r", ("h", "B"), r"Z \odot r"),
    ("Z / c", ("h", "B"), r"Z \odot c^{\circ -1}"),
    ("Z - mean(Z, axis=1)", ("h", "B"), r"Z - \frac{1}{B} Z \mathbf{1}"),
    ("Z / B", ("h", "B"), r"\frac{1}{B} Z"),
    ("B * h * Z", ("h", "B"), r"B h Z"),
    ("standardize(Z, 0.001)", ("h", "B"),
     r"\frac{Z - \operatorname{E}[Z]}{\sqrt{\operatorname{V}(Z) + 0.001}}"),
    ("batchnorm(Z, c, c)", ("h", "B"), r"c \odot \hat{Z} + c"),
    ("batchnorm(Z, s, c, 0.01)", ("h", "B"), r"s \hat{Z} + c"),
]  # fmt: skip


@pytest.mark.parametrize(("expr", "shape", "latex"), SHAPES, ids=[s[0] for s in SHAPES])
def test_spec_reads_and_prints(expr: str, shape: E.Shape, latex: str) -> None:
    net = spec_of(f'P = "{expr}"', 'L = "sum(P**2)"')
    assert net.spec.shape_of("P") == shape
    assert latex_of(net, "P") == latex


def test_a_dim_is_its_symbol_not_its_size() -> None:
    net = spec_of('L = "sum(Z**2) / B"')
    assert net.gradient("Z").latex == r"\frac{2}{B} Z"
    value = evaluate(net.spec.equation("L").expr, {"Z": np.ones((3, 4))}, {"h": 3, "B": 4})
    assert float(value[0, 0]) == 3.0


def test_batchnorm_is_gamma_times_the_standardized_value_plus_beta() -> None:
    net = spec_of('N = "batchnorm(Z, c, c, 0.5)"', 'L = "sum(N)"')
    e = net.spec.equation("N").expr
    assert isinstance(e, E.Add)
    scaled, beta = e.children
    assert beta == E.Var("c", ("h", 1))
    assert isinstance(scaled, E.Hadamard)
    (hat,) = [f for f in scaled.children if isinstance(f, E.Standardize)]
    assert hat.eps == sympy.Rational(1, 2)


def test_standardize_is_each_row_over_its_columns() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(3, 4)) * 5 + 2
    e = E.Standardize(E.Var("Z", ("h", "B")), sympy.Rational(1, 10**5))
    got = np.asarray(evaluate(e, {"Z": z}, {"h": 3, "B": 4}), dtype=float)
    want = (z - z.mean(axis=1, keepdims=True)) / np.sqrt(z.var(axis=1, keepdims=True) + 1e-5)
    assert np.allclose(got, want, rtol=1e-13)


# -- the compact backward pass --------------------------------------------------------------------


def test_the_batch_norm_gradient_is_the_compact_matrix_form() -> None:
    net = derive.load(BATCHNORM_MLP)
    p = printer_for(net.spec)
    g = net.derivation["Z"]
    (edge,) = g.edges
    assert p.doprint(edge.contribution) == (
        r"\frac{1}{B} \left(\gamma \odot (\operatorname{V}(Z) + 10^{-5})^{\circ -\frac{1}{2}} "
        rf"\odot \left(B {DL_DN} - {DL_DN} \mathbf{{1}} \mathbf{{1}}_{{B}}^{{T}} - \hat{{Z}} "
        rf"\odot \left(\left({DL_DN} \odot \hat{{Z}}\right) \mathbf{{1}} \mathbf{{1}}_{{B}}^{{T}}"
        r"\right)\right)\right)"
    )
    gamma = net.derivation["gamma"].edges[0].contribution
    beta = net.derivation["beta"].edges[0].contribution
    assert p.doprint(gamma) == rf"\left({DL_DN} \odot \hat{{Z}}\right) \mathbf{{1}}"
    assert p.doprint(beta) == rf"{DL_DN} \mathbf{{1}}"


def test_the_network_section_defines_the_hat() -> None:
    md = derive.load(BATCHNORM_MLP).markdown()
    assert r"\hat{Z} &= \frac{Z - \operatorname{E}[Z]}{\sqrt{\operatorname{V}(Z) + 10^{-5}}}" in md
    assert "variance of each row over the columns" in md


def test_an_ambiguous_hat_is_written_out() -> None:
    # two standardizations of Z (different eps), and a name of its own printed \hat{Z}
    net = derive.load(NETWORKS / "standardize_forms.toml")
    assert latex_of(net, "K") == (
        r"s \frac{Z - \operatorname{E}[Z]}{\sqrt{\operatorname{V}(Z) + 10^{-5}}} + b"
    )


# -- every column of verify -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [BATCHNORM_MLP, NETWORKS / "axis_broadcast.toml", NETWORKS / "standardize_forms.toml"],
    ids=lambda p: p.stem,
)
def test_verify_passes_every_column_with_torch(path: Path) -> None:
    pytest.importorskip("torch")
    report = verify_spec(path)
    assert report.passed, report.failures()
    for row in report.rows:
        assert {c.status for c in row.cells.values()} == {"pass"}, (row.name, row.cells)


# -- check ----------------------------------------------------------------------------------------

ONES = r"\mathbf{1}_B \mathbf{1}_B^T"
INV_STD = r"(\operatorname{V}(Z) + 10^{-5})^{\circ -1/2}"
COMPACT = (
    rf"\frac{{1}}{{B}} \gamma \odot {INV_STD} \odot \left(B {DL_DN} - {DL_DN} {ONES} "
    rf"- \hat{{Z}} \odot (({DL_DN} \odot \hat{{Z}}) \mathbf{{1}}_B) \mathbf{{1}}_B^T\right)"
)
G = rf"(\gamma \odot {DL_DN})"  # the textbook's G = γ ⊙ ∂L/∂Ŷ, inside the bracket
WITH_G = (
    rf"\frac{{1}}{{B}} {INV_STD} \odot \left(B {G} - {G} {ONES} "
    rf"- \hat{{Z}} \odot (({G} \odot \hat{{Z}}) \mathbf{{1}}_B) \mathbf{{1}}_B^T\right)"
)
DROPPED_MEAN = rf"\frac{{1}}{{B}} \gamma \odot {INV_STD} \odot \left(B {DL_DN} - \hat{{Z}} \odot (({DL_DN} \odot \hat{{Z}}) \mathbf{{1}}_B) \mathbf{{1}}_B^T\right)"  # noqa: E501
DROPPED_HAT = rf"\frac{{1}}{{B}} \gamma \odot {INV_STD} \odot \left(B {DL_DN} - {DL_DN} {ONES}\right)"  # noqa: E501


@pytest.mark.parametrize(("wrt", "answer"), [
    ("Z", COMPACT),
    ("Z", WITH_G),
    ("Z", COMPACT.replace(INV_STD, r"\frac{1}{\sqrt{\operatorname{V}(Z) + 10^{-5}}}")),
    ("gamma", rf"({DL_DN} \odot \hat{{Z}}) \mathbf{{1}}"),
    ("gamma", rf"\left({DL_DN} \odot \frac{{Z - \operatorname{{E}}[Z]}}"
              rf"{{\sqrt{{\operatorname{{V}}(Z) + 10^{{-5}}}}}}\right) \mathbf{{1}}"),
    ("beta", rf"{DL_DN} \mathbf{{1}}_B"),
    ("W1", rf"\left({COMPACT}\right) X^T"),
], ids=["compact", "with G", "over a square root", "gamma", "gamma, the hat written out", "beta",
        "W1"])  # fmt: skip
def test_check_accepts_the_compact_forms(wrt: str, answer: str) -> None:
    result = check(BATCHNORM_MLP, wrt, answer, timeout=None)
    assert result.verdict == "correct", (result.verdict, result.diagnosis)


@pytest.mark.parametrize("answer", [DROPPED_MEAN, DROPPED_HAT], ids=["mean term", "hat term"])
def test_check_rejects_a_dropped_term_and_names_it(answer: str) -> None:
    result = check(BATCHNORM_MLP, "Z", answer, timeout=None)
    assert result.verdict == "incorrect"
    assert result.mistake == "missing_term", result.diagnosis
    assert result.diagnosis is not None and "is missing" in result.diagnosis


def test_check_rejects_gamma_without_the_hat() -> None:
    result = check(BATCHNORM_MLP, "gamma", rf"{DL_DN} \mathbf{{1}}", timeout=None)
    assert result.verdict == "incorrect"


def test_mathml_prints_the_new_nodes() -> None:
    from derive import mathml

    net = derive.load(BATCHNORM_MLP)
    p = mathml.MathmlPrinter.for_spec(net.spec)
    n = net.spec.equation("N").expr
    hat = next(x for x in E.walk_nodes(n) if isinstance(x, E.Standardize))
    assert p.doprint(hat) == mathml.name_mathml(r"\hat{Z}")
    z = E.Var("Z", ("h", "B"))
    assert "<msqrt>" in p.standardize_definition(E.Standardize(z, sympy.Rational(1, 10)))
    row_sums = p.doprint(E.AxisSum(z, 1))
    assert row_sums.index("<mi>Z</mi>") < row_sums.index("\U0001d7cf")  # Z 𝟏: the ones after Z
    rows = mathml.equations_mathml(net.spec)
    assert len(rows) == len(net.spec.equations) + 1  # and Ẑ defined


def test_diagnose_starts_a_batch_norm_scale_at_one() -> None:
    from derive.vanishing import initial_values

    values = initial_values(derive.load(BATCHNORM_MLP).spec, "xavier", 0)
    assert np.all(values["gamma"] == 1) and np.all(values["beta"] == 0)
