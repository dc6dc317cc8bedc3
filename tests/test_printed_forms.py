"""What gradproof prints is taught: over every network, the printed forms are ones a textbook
prints and our own grader reads back as correct."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import numeric
from derive import check
from derive.chain_rule import ELEMENTWISE
from derive.codegen import write_module
from derive.document.latex import where_lines
from derive.latex import delimit, printer_for
from derive.verify import load_generated
from tests.networks import load_network, network_ids, spec_path

NETWORKS = network_ids()

# a coefficient 1 or −1 written as a factor: "1 a", "1 \left(", "-1 W", "1.0 *", "1.000*"
FACTOR_ONE_LATEX = re.compile(r"(?<![\d.}^_{])-?1 (?=[a-zA-Z\\(])(?!\\quad|\\cdot|\\le|\\odot)")
FACTOR_ONE_TEXT = re.compile(r"(?<![\w.])-?1(\.0+)?\s?\*")
FLOAT_TEXT = re.compile(r"\d\.\d{6,}")


@pytest.mark.parametrize("name", NETWORKS)
def test_every_printed_gradient_is_read_back_as_correct(name: str) -> None:
    net = load_network(name)
    for wrt, g in net.gradients(net.names).items():
        result = check(net, wrt, g.latex, timeout=None)
        assert result.verdict == "correct", (wrt, g.latex, result.verdict, result.diagnosis)


@pytest.mark.parametrize("name", NETWORKS)
def test_no_factor_one_and_no_float_where_a_fraction_was_written(name: str) -> None:
    net = load_network(name)
    data = json.loads(net.json(net.names))
    for g in data["gradients"]:
        for line in [g["latex"], *g["steps"], *g["where"]]:
            assert not FACTOR_ONE_LATEX.search(line), (g["wrt"], line)
        assert not FACTOR_ONE_TEXT.search(g["sympy"]), (g["wrt"], g["sympy"])
        assert not FLOAT_TEXT.search(g["sympy"]), (g["wrt"], g["sympy"])


def test_the_halved_loss_cancels_exactly() -> None:
    net = load_network("half_coefficient_residual")
    assert net.gradient("yhat").latex == r"\hat{y} - y"
    assert net.gradient("yhat").text == "yhat - y"
    assert net.gradient("o").text == "a*(yhat - y)"


@pytest.mark.parametrize("name", NETWORKS)
def test_step_notes_take_each_derivative_at_its_real_argument(name: str) -> None:
    net = load_network(name)
    deriv = net.derivation
    p = printer_for(deriv.spec)
    for wrt in net.names:
        for e in deriv[wrt].edges:
            if e.activation is None:
                continue
            assert e.kind == ELEMENTWISE and e.activation_arg is not None
            consumer = next(eq for eq in deriv.spec.equations if eq.name == e.consumer)
            # the consumer is the activation applied to exactly that argument
            assert consumer.expr.children[0] == e.activation_arg
            arg = p.doprint(e.activation_arg)
            notes = [w for w in where_lines(deriv, wrt) if "'" in w]
            assert all(f"'{delimit('(', ')', arg)}" in w for w in notes), (wrt, notes)


def test_the_bias_note_names_the_affine_argument() -> None:
    net = load_network("sigmoid_layer")
    notes = [w for w in net.gradient("b").where if r"\sigma'" in w]
    assert notes == [
        r"\frac{\partial h}{\partial b} = \sigma'(W z + b) = h \odot (1 - h)"
        r" \quad \text{(elementwise product)}"
    ]


def test_a_row_of_ones_is_printed_transposed() -> None:
    net = load_network("row_layout")
    assert net.gradient("b").latex.startswith(r"2 \mathbf{1}^{T} ")


@pytest.mark.parametrize("name", NETWORKS)
def test_generated_gradients_have_their_variables_shapes(name: str, tmp_path: Path) -> None:
    net = load_network(name)
    target = tmp_path / f"{name}_grads.py"
    write_module(net.derivation, f"{name}.toml", target)
    module = load_generated(target)
    code = [line for line in target.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if re.search(r"(?<![\w.])-?1\.0 \*", line)], name
    nnet = numeric.load_network(spec_path(name, tmp_path))
    values = numeric.random_values(nnet, np.random.default_rng(1))
    grads = module.all_gradients(**values)  # type: ignore[attr-defined]
    expected = {n: net.derivation[n].shape for n in net.names}
    dims = net.spec.dims
    for wrt, value in grads.items():
        rows, cols = (d if isinstance(d, int) else dims[d] for d in expected[wrt])
        assert np.shape(value) == (rows, cols), (wrt, np.shape(value), (rows, cols))
    assert set(grads) == set(net.derivation.default_names())
