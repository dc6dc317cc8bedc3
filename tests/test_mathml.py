"""The MathML printer: well-formed XML for every network, what LaTeX prints, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import sympy

import derive
from derive import expr as E
from derive import mathml as M
from tests.networks import load_network, network_ids

NS = "{http://www.w3.org/1998/Math/MathML}"


def parsed(markup: str) -> ET.Element:
    """The markup as XML (a <math> element); fails the test if it is not well-formed."""
    return ET.fromstring(markup if markup.startswith("<math") else M.math(markup))


def text_of(markup: str) -> str:
    """The characters a reader sees, in order (no spaces, invisible operators dropped)."""
    chars = "".join(parsed(markup).itertext())
    return chars.replace(M.INVISIBLE_TIMES, "").replace(M.APPLY_FUNCTION, "")


@pytest.mark.parametrize("name", network_ids())
def test_every_network_prints_well_formed_mathml(name: str) -> None:
    net = load_network(name)
    deriv = net.derivation
    p = M.MathmlPrinter.for_spec(net.spec)
    for eq in M.equations_mathml(net.spec):
        assert parsed(eq).tag == NS + "math"
    for wrt in deriv.gradients:
        g = deriv[wrt]
        for form in (g.final, g.local):
            parsed(p.doprint(form))
        for row in [*M.step_rows(deriv, wrt), *M.where_rows(deriv, wrt)]:
            parsed(row)
    for wrt in deriv.default_names()[:3]:
        parsed(p.doprint(net.gradient(wrt).expanded()))


EXAMPLE2 = "examples/seed_example2.toml"


@pytest.mark.parametrize(
    ("wrt", "seen"),
    [
        ("W2", "2(y^−y)zT"),
        ("W1", "2(W(2))T(y^−y)xT"),
        ("b1", "2(W(2))T(y^−y)"),
    ],
)
def test_the_notes_example_2_reads_as_the_latex_printer_writes_it(wrt: str, seen: str) -> None:
    net = derive.load(EXAMPLE2)
    p = M.MathmlPrinter.for_spec(net.spec)
    assert text_of(p.doprint(net.gradient(wrt).expr)) == seen


def test_transpose_of_a_name_with_a_superscript_is_bracketed() -> None:
    p = M.MathmlPrinter(lambda n: {"W2": "W^{(2)}"}.get(n, n), "J")
    markup = p.doprint(E.transpose(E.Var("W2", ("m", "h"))))
    root = parsed(markup)
    sup = root.find(NS + "msup")
    assert sup is not None
    base, script = list(sup)
    assert "".join(base.itertext()) == "(W(2))"
    assert "".join(script.itertext()) == "T"


def test_fractions_hadamard_ones_and_derivatives() -> None:
    h = E.Var("h", ("n", 1))
    one_minus_h = E.sub(E.Ones(("n", 1)), h)
    p = M.MathmlPrinter(lambda n: n, "J")
    assert text_of(p.doprint(E.hadamard(h, one_minus_h))) == "h⊙(1−h)"
    assert parsed(p.doprint(E.scale(sympy.Rational(1, 2), h))).find(f".//{NS}mfrac") is not None
    assert text_of(p.doprint(E.scale(sympy.Rational(1, 100), h))) == "0.01h"
    assert text_of(p.doprint(E.scale(sympy.Rational(1, 100000), h))) == "10−5h"
    ones = E.Ones((1, "B"))
    assert text_of(p.doprint(ones)) == "𝟏BT"
    assert text_of(p.doprint(E.matmul(E.Var("G", ("n", "B")), E.transpose(ones)))) == "G𝟏"
    assert text_of(p.doprint(E.Indicator(h, ">"))) == "𝟙[h>0]"
    assert text_of(p.doprint(E.power(E.Var("X", ("n", "B")), 2))) == "X∘2"
    assert text_of(p.doprint(E.sum_all(E.power(h, 2)))) == "‖h‖2"
    assert text_of(p.derivative("sigmoid", E.Var("a", ("n", 1)))) == "σ′(a)"
    batch = sympy.Symbol("B", integer=True, positive=True)
    assert text_of(M.number_mathml(2 / batch)) == "2B"
    assert text_of(M.number_mathml(sympy.Integer(-3))) == "−3"


def test_where_rows_name_the_activation_derivative_at_its_argument() -> None:
    net = load_network("sigmoid_layer")
    rows = [text_of(r) for r in M.where_rows(net.derivation, "b")]
    assert any("σ′(" in r for r in rows), rows


@pytest.mark.parametrize(
    ("latex", "seen"),
    [
        (r"W^{(2)}", "W(2)"),
        (r"\hat{y}", "y^"),
        (r"\mathcal{J}(W)", "𝒥(W)"),
        (r"\mathbf{W}_2", "𝐖2"),
        (r"\boldsymbol\delta^{(l)}", "𝜹(l)"),
        (r"\mathbb{R}", "ℝ"),
        (r"\operatorname{ReLU}", "ReLU"),
        (r"\sigma", "σ"),
        (r"x'", "x′"),
    ],
)
def test_names_of_the_spec_grammar(latex: str, seen: str) -> None:
    assert text_of(M.name_mathml(latex)) == seen


HOSTILE = [
    "<script>alert(1)</script>",
    "a&b",
    '"><img src=x onerror=alert(1)>',
    "]]><!--",
    "\x00\x1f\ud800",
    r"\input{/etc/passwd}",
    "{{{",
    "}}}^_",
    "\\",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_escaped_not_interpreted(name: str) -> None:
    p = M.MathmlPrinter(lambda n: name, "J")
    x = E.Var("x", ("n", 1))
    for markup in (p.doprint(E.transpose(x)), p.grad("x"), M.name_mathml(name)):
        root = parsed(markup)  # well-formed: nothing closed or opened a tag
        tags = {el.tag.removeprefix(NS) for el in root.iter()}
        assert tags <= {"math", "mrow", "mi", "mn", "mo", "mtext", "msup", "msub", "msubsup",
                        "mfrac", "mover"}, tags  # fmt: skip
        assert "<script" not in markup and "<img" not in markup
    # every character the name held is shown (controls and lone surrogates as U+FFFD)
    shown = text_of(M.name_mathml(name))
    for ch in name:
        if ch.isalnum() and ch.isascii():
            assert ch in shown


def test_a_missing_print_method_is_named() -> None:
    class Odd(E.Expr):
        def __init__(self) -> None:
            self._finish((1, 1))

    with pytest.raises(NotImplementedError, match="_print_Odd"):
        M.MathmlPrinter(lambda n: n, "J").doprint(Odd())
