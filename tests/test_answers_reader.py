"""The LaTeX reader keeps matrix meaning: names in every usual notation, transposes, order, ⊙."""

from __future__ import annotations

import pytest

import derive
from derive import expr as E
from derive.answers.check import CORRECT, INCORRECT, INVALID, grade
from derive.errors import AnswerError
from tests.conftest import EXAMPLES

NETS = {name: derive.load(EXAMPLES / f"{name}.toml") for name in (
    "seed_example1", "seed_example2", "sigmoid_layer", "relu_residual", "quadratic_form",
    "tanh_batch", "shared_weight", "leaky_relu", "two_sigmoid_layers",
)}  # fmt: skip

# one row per notation: (network, wrt, answer); every one is a correct gradient
CORRECT_ANSWERS = [
    ("seed_example2", "W2", r"2(\hat{y}-y)z^T"),
    ("seed_example2", "W2", r"2(\hat y - y) z^{\top}"),
    ("seed_example2", "W2", r"2\left(\widehat{y}-y\right)z^{\intercal}"),
    ("seed_example2", "W2", r"2 \cdot (\hat{y} - y) \cdot z^{\mathsf{T}}"),
    ("seed_example2", "W2", r"2(yhat - y) z^{T}"),
    ("seed_example2", "W2", r"2(W^{(2)}z+b^{(2)}-y)z^T"),
    ("seed_example2", "W2", r"2(\hat{y}-y)(W^{(1)}x+b^{(1)})^T"),
    ("seed_example2", "W2", r"\frac{\partial J}{\partial W^{(2)}} = 2(\hat{y}-y)z^T"),
    ("seed_example2", "W2", r"\frac{\partial \mathcal{J}(W)}{\partial W_2} = 2(\hat{y}-y)z^T"),
    ("seed_example2", "W2", r"\nabla_{W^{[2]}} J = 2(\hat{y}-y)z^T"),
    ("seed_example2", "W2", r"\frac{\partial J}{\partial \hat{y}} z^T"),
    ("seed_example2", "b2", r"2(\hat{y}-y)"),
    ("seed_example2", "z", r"2 (W^{(2)})^T (\hat{y}-y)"),
    ("seed_example2", "z", r"2 W^{(2)T}(\hat{y}-y)"),
    ("seed_example2", "z", r"2 {W^{(2)}}^T(\hat{y}-y)"),
    ("seed_example2", "z", r"2\mathbf{W}_2^T(\hat{y}-y)"),
    ("seed_example2", "z", r"2 W_{2}^{T} \left[\hat{y}-y\right]"),
    ("seed_example2", "z", r"2 ((\hat{y}-y)^T W^{(2)})^T"),
    ("seed_example2", "W1", r"2 W^{(2)T}(\hat{y}-y)x^T"),
    ("seed_example2", "W1", r"\frac{\partial J}{\partial z} x^{T}"),
    ("seed_example2", "W1", r"2 I W^{(2)T}(\hat{y}-y)x^T"),
    ("seed_example1", "w1", r"2(\hat{y}-y) w_2 x"),
    ("seed_example1", "w1", r"2 x w_{2} (\hat y - y)"),
    ("sigmoid_layer", "W", r"\left(2(h-t) \odot h \odot (1-h)\right) z^T"),
    ("sigmoid_layer", "W", r"(2(h-t)\circ\sigma'(Wz+b)) z^T"),
    ("sigmoid_layer", "W", r"2\operatorname{diag}(h \odot (1-h)) (h-t) z^T"),
    ("sigmoid_layer", "W", r"2((h-t) \odot \sigma(Wz+b) \odot (\mathbf{1}-\sigma(Wz+b))) z^T"),
    ("sigmoid_layer", "z", r"2 W^T ((h - t) \odot h \odot (1 - h))"),
    ("sigmoid_layer", "b", r"2 (h-t) \odot h \odot (1-h)"),
    ("relu_residual", "a", r"2 W_2^T (h - y) \odot \mathbb{1}[a > 0]"),
    ("relu_residual", "a", r"2 W_2^T (h - y) \odot \mathbb{1}\{a > 0\}"),
    ("relu_residual", "a", r"2 W_2^T (h - y) \odot H(a)"),
    ("relu_residual", "a", r"\operatorname{ReLU}'(a) \odot 2 W^{(2)T} (h - y)"),
    ("relu_residual", "x", r"2(h-y) + W^{(1)T}((W^{(2)T} 2(h-y)) \odot \mathbb{1}[a>0])"),
    ("relu_residual", "W2", r"2(h-y)\max(0, a)^T"),
    ("relu_residual", "W2", r"2(h-y)\operatorname{ReLU}(W^{(1)}x+b^{(1)})^T"),
    ("quadratic_form", "x", r"(A + A^T) x"),
    ("quadratic_form", "x", r"A x + A^\top x"),
    ("quadratic_form", "A", r"x x^T"),
    ("tanh_batch", "b", r"\frac{2}{Bh}((H-Y)\odot(1-H^{\circ 2}))\mathbf{1}"),
    ("tanh_batch", "W", r"\frac{2}{B h} ((H - Y) \odot (1 - H \odot H)) X^T"),
    ("shared_weight", "W", r"2(\hat{y}-y)h^T + ((W^T 2(\hat{y}-y)) \odot (1-h^2)) x^T"),
    ("leaky_relu", "a", r"2(h-y) \odot (\mathbb{1}[a>0] + 0.01\,\mathbb{1}[a \le 0])"),
    (
        "two_sigmoid_layers",
        "b1",
        r"2 (W^{(2)T}((\hat{y}-y) \odot \hat{y} \odot (1-\hat{y})))"
        r" \odot h^{(1)} \odot (1-h^{(1)})",
    ),
]

INVALID_ANSWERS = [
    ("seed_example2", "W2", r"2(\hat{y}-y)z", "cannot multiply [m x 1] by [h x 1]"),
    ("seed_example2", "W2", r"2 z^T (\hat{y}-y)", "cannot multiply [1 x h] by [m x 1]"),
    ("seed_example2", "W2", r"2(\hat{y}-y)Q^T", "unknown name Q"),
    ("seed_example2", "W2", r"W_3 x", "did you mean W^{(2)}"),
    ("seed_example2", "W2", r"2(\hat{y}-y", "expected )"),
    ("seed_example2", "W2", r"2(\hat{y}-y z^T", "cannot add [m x 1] and [m x h]"),
    ("seed_example2", "b1", r"2 W_2 (\hat{y}-y)", "did you forget a transpose?"),
    ("seed_example2", "W1", r"2 W_2^T(\hat y-y)x^T + b_1", "cannot add [h x n] and [h x 1]"),
    ("seed_example2", "W2", r"\frac{\partial J}{\partial W^{(1)}} = 2(\hat{y}-y)z^T", "asks for"),
    ("sigmoid_layer", "b", r"2 (h-t) h (1-h)", r"write \odot"),
    ("seed_example2", "W2", r"W^{(2)} W^{(2)}", "cannot multiply [m x h] by [m x h]"),
    ("seed_example2", "W2", r"2(\hat{y}-y)z^T @", "not part of LaTeX math"),
    ("seed_example2", "W2", r"2(\hat{y}-y)z^T \%", r"the command \% is not understood"),
    # the loss's derivative with respect to itself is no upstream gradient (it raised before)
    ("seed_example2", "W2", r"z + \frac{\partial J}{\partial J}", "with respect to itself"),
    ("seed_example2", "W2", r"\nabla_{J} J", "with respect to itself"),
]


@pytest.mark.parametrize(("net", "wrt", "answer"), CORRECT_ANSWERS)
def test_notations_are_read_and_accepted(net: str, wrt: str, answer: str) -> None:
    result = grade(NETS[net].derivation, wrt, answer)
    assert result.verdict == CORRECT, (result.diagnosis, result.parsed)


@pytest.mark.parametrize(("net", "wrt", "answer", "says"), INVALID_ANSWERS)
def test_unreadable_answers_are_invalid_with_a_reason(
    net: str, wrt: str, answer: str, says: str
) -> None:
    result = grade(NETS[net].derivation, wrt, answer)
    assert result.verdict == INVALID
    assert result.diagnosis is not None and says in result.diagnosis


def test_lenient_reads_side_by_side_vectors_as_hadamard_with_a_warning() -> None:
    result = grade(NETS["sigmoid_layer"].derivation, "b", r"2 (h-t) h (1-h)", lenient=True)
    assert result.verdict == CORRECT
    assert result.warnings and "⊙" in result.warnings[0]


def test_transposed_gradient_is_incorrect_and_said_so() -> None:
    result = grade(NETS["seed_example2"].derivation, "W2", r"2 z (\hat{y}-y)^T")
    assert result.verdict == INCORRECT
    assert result.mistake == "transpose" and "shape of its variable" in (result.diagnosis or "")


def test_the_parsed_answer_is_printed_back() -> None:
    result = grade(NETS["seed_example2"].derivation, "z", r"2 W_2^T(\hat y-y)")
    assert result.parsed == r"2 (W^{(2)})^{T} (\hat{y} - y)"


def test_unicode_is_rewritten_to_latex_and_errors_point_into_the_typed_text() -> None:
    from derive.answers.lexer import to_latex, tokenize

    assert to_latex("2(ŷ−y)zᵀ")[0] == r"2(\hat{y}-y)z^{T}"
    assert to_latex("h² ⊙ σ")[0] == r"h^{2} \odot  \sigma "
    assert to_latex("y\u0302")[0] == r"\hat{y}"
    with pytest.raises(AnswerError) as err:
        tokenize("ŷ ⊙ 中")
    assert err.value.position == 4


@pytest.mark.parametrize(
    ("spec", "wrt", "latex", "warned"),
    [
        ("least_squares", "x", "2A'(Ax-b)", "prime"),
        ("quadratic_form", "A", "x x'", "prime"),
        (
            "sigmoid_layer",
            "b",
            r"2(h-t) \odot \frac{e^{-(Wz+b)}}{(1+e^{-(Wz+b)})^2}",
            "elementwise",
        ),
    ],
)
def test_a_chosen_reading_is_said_in_warnings(spec: str, wrt: str, latex: str, warned: str) -> None:
    result = grade(derive.load(EXAMPLES / f"{spec}.toml").derivation, wrt, latex)
    assert result.verdict == CORRECT
    assert any(warned in w for w in result.warnings), result.warnings
    assert "^{T}" in (result.parsed or "") or r"\circ" in (result.parsed or "")


def test_spec_aliases_name_a_gradient_and_are_validated() -> None:
    import tomllib

    from derive.errors import SpecError

    data = tomllib.loads((EXAMPLES / "relu_residual.toml").read_text(encoding="utf-8"))
    data["aliases"] = {"delta": "dL/da", "g": "dL/dh"}
    deriv = derive.network(data).derivation
    assert grade(deriv, "W1", r"\delta x^T").verdict == CORRECT
    assert grade(deriv, "W2", r"g r^T").verdict == CORRECT
    assert grade(deriv, "W2", r"g r").verdict == INVALID
    for bad, message in [
        ({"a": "dL/da"}, "already a name"),
        ({"d1": "dJ/da"}, "of the loss 'L'"),
        ({"d1": "dL/dq"}, "unknown name 'q'"),
        ({"d1": "a"}, "expected a gradient"),
    ]:
        data["aliases"] = bad
        with pytest.raises(SpecError, match=message):
            derive.network(data).spec  # noqa: B018


def test_a_one_by_one_product_in_the_middle_of_a_chain_is_a_scalar() -> None:
    from derive.answers.reader import Reader

    net = derive.load(EXAMPLES / "quadratic_form.toml")
    reading = Reader(net.derivation).read(r"2 A x^T x x")
    x, a = net.spec.var("x"), net.spec.var("A")
    assert reading.expr == E.scale(2, E.smul(E.matmul(E.transpose(x), x), E.matmul(a, x)))
    assert any("1x1 product at character 5 as a scalar" in w for w in reading.warnings)
    # where the row does not close to 1x1, it stays a shape error with the place
    with pytest.raises(AnswerError, match="cannot multiply"):
        Reader(net.derivation).read(r"A x^T A")


def test_index_notation_is_refused_with_the_matrix_forms() -> None:
    net = derive.load(EXAMPLES / "ridge_regression.toml")
    r = derive.check(net, "lam", r"\sum_{i,j} W_{ij}^2", timeout=None)
    assert r.verdict == "invalid"
    assert "index notation" in (r.diagnosis or "") and "\\|W\\|_F^2" in (r.diagnosis or "")
    assert derive.check(net, "lam", r"\|W\|_F^2", timeout=None).verdict == "correct"
