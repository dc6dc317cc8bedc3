"""Token normalisation: each rule of derive.answers.normalize, token stream in, token stream out.

One row per spelling: what the student typed, and the tokens the parser is then given. Every rule
has rows that change the tokens (they fail if the rule is taken out of `normalize_tokens`) and
rows that must stay as typed (they fail if the rule reaches too far).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

import derive
from derive.answers import normalize as N
from derive.answers.lexer import Token, tokenize
from derive.answers.names import NameTable
from derive.answers.reader import Reader
from tests.conftest import EXAMPLES


class Names:
    """A stand-in for the spec's NameTable: `whole` are words named as a whole (yhat, a dim),
    `typed` the spec names as typed (W2)."""

    def __init__(self, whole: Iterable[str] = (), typed: Iterable[str] = ()) -> None:
        self.whole = set(whole) | set(typed)
        self.typed = set(typed)

    def knows_word(self, word: str) -> bool:
        return word in self.whole

    def is_name(self, word: str) -> bool:
        return word in self.typed


NONE = Names()
SPEC_LIKE = Names(whole={"yhat", "sigma"}, typed={"W2", "yhat", "x"})


def shown(tokens: list[Token]) -> str:
    """Tokens as text, one space apart; a command with its backslash, the end token left out."""
    return " ".join(
        ("\\" + t.text if t.kind == "cmd" else t.text) for t in tokens if t.kind != "end"
    )


def run(rule: Callable[[list[Token]], list[Token]], typed: str) -> str:
    return shown(rule(tokenize(typed)))


# (typed, tokens after the rule); "=" means the tokens stay as typed
ONE_LETTER = [
    (r"x^Tx", "x ^ T x"),
    (r"x_ij", "x _ i j"),
    (r"\hat yz", r"\hat y z"),
    (r"\mathbf Wx", r"\mathbf W x"),
    (r"\frac ab", r"\frac a b"),
    (r"\frac abc", r"\frac a b c"),
    (r"\frac{a}bc", r"\frac { a } b c"),
    (r"x^\mathsf Tx", r"x ^ \mathsf T x"),
    (r"x^T2", "x ^ T 2"),
    (r"x^{Tx}", "="),  # braced: the whole group is the superscript
    (r"\sqrt xy", "="),  # \sqrt reads an expression, not one character
    (r"x^23", "="),  # a number stays one token
]
DERIVATIVE_D = [
    (r"\frac{d J}{d W}", r"\frac { \partial J } { \partial W }"),
    (r"\frac{d}{dW}", r"\frac { \partial } { dW }"),
    (r"\frac{\partial J}{d W}", "="),  # the numerator is no d: not this rule's to change
    (r"\frac{dJ}{dW}", "="),  # dJ is a word: d times J, as before
    (r"d J / d W", "="),
]
LAYER = [
    (r"W^{(2)T}", r"W ^ { ( 2 ) } ^ { T }"),
    (r"W^{[2]^T}", r"W ^ { [ 2 ] } ^ { T }"),
    (r"W^{(2)^{\top}}", r"W ^ { ( 2 ) } ^ { \top }"),
    (r"\mathbf{W}_1^{(2)T}", r"\mathbf { W } _ 1 ^ { ( 2 ) } ^ { T }"),
    (r"W^{(2)}", "="),
    (r"(x)^{(2)T}", "="),  # not on a name: left for the parser to refuse
    (r"W^{(1)T}^{(2)T}", r"W ^ { ( 1 ) } ^ { T } ^ { ( 2 ) T }"),  # the name ended at the first T
]
TRANSPOSE = [
    (r"W^T_2", r"W _ { 2 } ^ { T }"),
    (r"W^{\top}_{2}", r"W _ { 2 } ^ { \top }"),
    (r"W^\mathsf{T}_2", r"W _ { 2 } ^ { \mathsf { T } }"),
    (r"W^T_2_3", r"W _ { 2 } _ { 3 } ^ { T }"),
    (r"W_1^T_2", r"W _ 1 _ { 2 } ^ { T }"),
    (r"\hat{y}^T_1", r"\hat { y } _ { 1 } ^ { T }"),
    (r"\delta^T_l", r"\delta _ { l } ^ { T }"),
    (r"W^{(2)}^T_1", r"W ^ { ( 2 ) } _ { 1 } ^ { T }"),
    (r"W'^T_1", r"W ' _ { 1 } ^ { T }"),
    (r"W^2_1", "="),  # a power, not a transpose
    (r"(W)^T_2", "="),  # not on a name
    (r"2^T_2", "="),
    (r"\mathbf{1}^T_B", "="),  # the ones vector is no name
    (r"\sigma^T_2(z)", "="),  # \sigma applied, when the spec has no sigma
    (r"W^T", "="),
]


@pytest.mark.parametrize(
    ("rule", "typed", "expected"),
    [(N.one_letter_arguments, *row) for row in ONE_LETTER]
    + [(N.derivative_d_as_partial, *row) for row in DERIVATIVE_D]
    + [(lambda ts: N.layer_index_apart(ts, NONE), *row) for row in LAYER]
    + [(lambda ts: N.subscripts_before_transpose(ts, NONE), *row) for row in TRANSPOSE],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_rule(rule: Callable[[list[Token]], list[Token]], typed: str, expected: str) -> None:
    assert run(rule, typed) == (shown(tokenize(typed)) if expected == "=" else expected)


# words need the names: (typed, tokens), with SPEC_LIKE's names (yhat, sigma; W2, x as typed)
LETTERS = [
    ("xy", "x y"),
    ("xW2b", "x W2 b"),
    ("xx^T", "x x ^ T"),
    (r"\frac{xy}{2}", r"\frac { x y } { 2 }"),
    (r"e^{-wx}", "e ^ { - w x }"),
    ("yhat", "="),  # a name as a whole
    ("sigma", "="),
    (r"\hat{yz}", "="),  # the argument of an accent is a name
    (r"\operatorname{relu}", "="),
    (r"\frac{\partial J}{\partial xy}", "="),  # the variable of a derivative
    (r"\nabla_{xy} JK", "="),  # and of \nabla, and the loss after it
]
DIGITS = [
    ("a2", "a _ { 2 }"),
    ("W12", "W _ { 12 }"),
    ("W2^T", "W _ { 2 } ^ T"),  # something attached: the parser reads the symbol W_2
    (r"\mathbf{W2}", r"\mathbf { W _ { 2 } }"),  # an accent or font's argument: always
    (r"\hat{y2}", r"\hat { y _ { 2 } }"),
    ("W2", "="),  # a spec name standing alone: the parser reads it whole
    ("W2'", "="),
    ("yhat2", "="),  # its ascii reading is y, hat, 2: not the letters yhat
    ("x_{W2}", "="),
]


@pytest.mark.parametrize(("typed", "expected"), LETTERS, ids=[r[0] for r in LETTERS])
def test_words_as_letters(typed: str, expected: str) -> None:
    out = shown(N.words_as_letters(tokenize(typed), SPEC_LIKE, "expression"))
    assert out == (shown(tokenize(typed)) if expected == "=" else expected)


@pytest.mark.parametrize(("typed", "expected"), DIGITS, ids=[r[0] for r in DIGITS])
def test_digits_as_subscript(typed: str, expected: str) -> None:
    out = shown(N.digits_as_subscript(tokenize(typed), SPEC_LIKE, "expression"))
    assert out == (shown(tokenize(typed)) if expected == "=" else expected)


def test_a_name_alone_keeps_its_words_but_not_its_digits() -> None:
    """A spec's own latex (place "argument"): no word split, W2 always W_{2}."""
    out = N.normalize_tokens(tokenize("xy W2"), SPEC_LIKE, "argument")
    assert shown(out) == "xy W _ { 2 }"
    variable = N.normalize_tokens(tokenize("W2"), SPEC_LIKE, "variable")
    assert shown(variable) == "W2"  # the W of dJ/dW2: a spec name, kept for the parser


# the whole pass, in order: each row needs every rule it names
PIPELINE = [
    (r"x^Txy", "x ^ T x y"),  # one letter, then the rest split into letters
    (r"W2^T_1", r"W _ { 2 } _ { 1 } ^ { T }"),  # transpose moved, then the digits
    (r"W^{(2)T}_1", r"W ^ { ( 2 ) } _ { 1 } ^ { T }"),  # layer apart, then transpose moved
    (r"\frac dJ dW", r"\frac \partial J d W"),  # one letter each, then d is \partial
    (r"zW2^T_3", r"z W _ { 2 } _ { 3 } ^ { T }"),
    (r"\hat yx2", r"\hat y x _ { 2 }"),
]


@pytest.mark.parametrize(("typed", "expected"), PIPELINE, ids=[r[0] for r in PIPELINE])
def test_normalize_tokens_runs_every_rule_in_order(typed: str, expected: str) -> None:
    assert shown(N.normalize_tokens(tokenize(typed), SPEC_LIKE)) == expected


def test_positions_stay_those_of_the_text_as_typed() -> None:
    out = N.normalize_tokens(tokenize("x^Tyz + W^T_2"), NONE)
    assert [(t.kind, t.text, t.pos) for t in out if t.kind in ("word", "num")] == [
        ("word", "x", 0), ("word", "T", 2), ("word", "y", 3), ("word", "z", 4),
        ("word", "W", 8), ("num", "2", 12), ("word", "T", 10),
    ]  # fmt: skip
    digits = N.normalize_tokens(tokenize("ab12"), NONE)
    assert [(t.text, t.pos) for t in digits if t.kind in ("word", "num")] == [
        ("a", 0), ("b", 1), ("12", 2),
    ]  # fmt: skip


def test_the_rest_of_a_one_letter_argument_is_a_word_even_of_digits() -> None:
    out = N.one_letter_arguments(tokenize("x^T2"))
    assert [(t.kind, t.text) for t in out[-3:-1]] == [("word", "T"), ("word", "2")]


@pytest.mark.parametrize(
    "typed", [r"x^{", r"\frac{a", r"W^{(2)", r"W^T_", r"_", r"\hat", r"\frac", "}}^T_2", ""]
)
def test_malformed_tokens_are_left_for_the_parser(typed: str) -> None:
    """The pass never raises: an unclosed group or a missing argument stays as typed."""
    tokens = tokenize(typed)
    assert shown(N.normalize_tokens(tokens, NONE)) == shown(tokens)


def test_the_spec_name_table_supplies_the_names() -> None:
    spec = derive.load(EXAMPLES / "seed_example2.toml").spec
    names = NameTable(spec)
    assert names.knows_word("yhat") and names.knows_word("W2") and not names.knows_word("xz")
    assert names.is_name("W2") and not names.is_name("W_2")
    out = N.normalize_tokens(tokenize(r"yhat xz W2 W2^T"), names)
    assert shown(out) == "yhat x z W2 W _ { 2 } ^ T"


@pytest.mark.parametrize(
    ("typed", "read_as"),
    [
        (r"W^T_2(\hat y - y)", r"W_2^T(\hat y - y)"),
        (r"(x^Tx) z", r"(x^T x) z"),
        (r"W2^T(\hat y - y)", r"W_{2}^{T}(\hat y - y)"),
        (r"W^{(2)T}(yhat - y)", r"(W^{(2)})^T(\hat y - y)"),
        (r"\frac{d J}{d z} = 2 W2^T(yhat-y)", r"\frac{\partial J}{\partial z} = 2W_2^T(\hat y-y)"),
        (r"xy^T", r"x y^T"),
    ],
)
def test_the_reader_reads_each_spelling_as_its_normal_form(typed: str, read_as: str) -> None:
    reader = Reader(derive.load(EXAMPLES / "seed_example2.toml").derivation)
    first, second = reader.read(typed), reader.read(read_as)
    assert first.expr == second.expr and first.lhs_wrt == second.lhs_wrt


def test_slash_derivative_reads_its_words_before_they_are_split() -> None:
    """dJ/dyhat: the lhs is recognised on the tokens as typed, so yhat is not y h a t."""
    reader = Reader(derive.load(EXAMPLES / "seed_example2.toml").derivation)
    assert reader.read(r"dJ/dyhat = 2(yhat - y)").lhs_wrt == "yhat"
    assert reader.read(r"dJ/dW2 = 2(yhat - y) z^T").lhs_wrt == "W2"
