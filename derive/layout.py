"""How a matrix expression is set in print, decided once for the LaTeX and the MathML printer.

`Layout` has the one `_print_<Class>` method per node type (`derive.dispatch`): it decides the
parts of a node and their order, which parts are bracketed (binding strengths: a child weaker
than its context is parenthesised), where a fraction, a script or a root goes, when a ones vector
shows its length, and which sign a term takes. A printer (`derive.latex.LatexPrinter`,
`derive.mathml.MathmlPrinter`) supplies only its tokens (the ones vector, the transpose mark,
⊙, ...) and how parts are put together (`frac`, `sup`, `juxtapose`, `fence`, ...), so the two
outputs cannot drift apart: a new node type, or a new habit of print, is written here once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.dispatch import handler

# binding strength: a child weaker than its context is parenthesised
ADD, NEG, HADAMARD, PRODUCT, POSTFIX, ATOM = 1, 2, 3, 4, 5, 6

MEMO_ENTRIES = 200_000


def length_shown_by_neighbour(factors: tuple[E.Expr, ...], i: int) -> bool:
    """Whether a ones factor of a product may be printed without its length, as a reader sizes
    it: a column 𝟏 after a factor (X 𝟏, the length X's columns), a row 𝟏ᵀ first and before a
    factor (𝟏ᵀ X). In an outer product (𝟏 xᵀ, G 𝟏 𝟏ᵀ) the length is written: 𝟏_{B}ᵀ."""
    f = factors[i]
    if f.shape[1] == 1:
        return i > 0 and not isinstance(factors[i - 1], E.Ones)
    return i == 0 and len(factors) > 1 and not isinstance(factors[1], E.Ones)


def over(factors: tuple[E.Expr, ...]) -> tuple[list[E.Expr], list[E.Expr]]:
    """A product of scalars as numerator and denominator: the factors with a negative power go
    below, each with the opposite power (y p⁻¹ is y over p), and a fraction among them puts its
    numerator above and its denominator below."""
    top: list[E.Expr] = []
    bottom: list[E.Expr] = []
    for f in factors:
        if isinstance(f, E.Power) and f.exponent.is_number and f.exponent < 0:
            bottom.append(E.power(f.children[0], -f.exponent))
        elif isinstance(f, E.Div) and f.is_scalar:  # (a/b) c⁻¹ is a over b c, not a fraction on top
            num, den = f.children
            top.append(num)
            bottom.append(den)
        else:
            top.append(f)
    if not bottom:
        return list(factors), []
    return top, bottom


def _factor_context(f: E.Expr) -> int:
    """The context of a factor of a matrix product: a ⊙ product inside one is bracketed."""
    return PRODUCT + 1 if isinstance(f, E.Hadamard) else PRODUCT


class Layout:
    """The layout of every node; a subclass gives the tokens and the ways of combining them.

    `names` maps the spec's ascii names to their LaTeX names, `loss` is the loss's name, and
    `standardized` the standardized values shown as a name (`derive.latex.standardized_names`).
    """

    # what the printer calls the output it makes, for a node it has no method for
    WHAT: ClassVar[str]
    # tokens: the number 1 and 0, the ones vector 𝟏 and the zero matrix 𝟎, the transpose mark,
    # the identity I, the elementwise product ⊙, the bar of a norm ‖v‖, the indicator 𝟙 and
    # the relations of an indicator (> and ≤)
    ONE: ClassVar[str]
    ZERO: ClassVar[str]
    ONES: ClassVar[str]
    ZEROS: ClassVar[str]
    T: ClassVar[str]
    IDENTITY: ClassVar[str]
    ODOT: ClassVar[str]
    NORM: ClassVar[str]
    INDICATOR: ClassVar[str]
    GREATER: ClassVar[str]
    AT_MOST: ClassVar[str]

    def __init__(
        self,
        names: Callable[[str], str],
        loss: str,
        standardized: Mapping[E.Expr, str] | None = None,
    ) -> None:
        self.names = names
        self.loss = loss
        self.standardized = dict(standardized or {})
        # a subtree shared many times (deep networks) is printed once per context; the node is
        # kept with its text so that its id cannot be reused
        self._memo: dict[tuple[int, int], tuple[E.Expr, str]] = {}

    # -- what a printer supplies ----------------------------------------------------------------

    def number(self, value: sympy.Expr) -> str:
        """A constant (2, ½, 0.01, 10⁻⁵, 1/B)."""
        raise NotImplementedError

    def latex_name(self, latex: str) -> str:
        """A name given in LaTeX (the spec's `latex`, a standardized value's hat)."""
        raise NotImplementedError

    def dim(self, dim: E.Dim) -> str:
        """A dim, as the length of a ones vector (𝟏_B)."""
        raise NotImplementedError

    def partial(self, name: str) -> str:
        """∂name, for a derivative's numerator or denominator."""
        raise NotImplementedError

    def fence(self, left: str, right: str, inner: str) -> str:
        """Brackets around inner, sized to it where it holds something tall (a fraction)."""
        raise NotImplementedError

    def frac(self, num: str, den: str) -> str:
        raise NotImplementedError

    def sqrt(self, inner: str) -> str:
        raise NotImplementedError

    def sup(self, base: str, script: str) -> str:
        raise NotImplementedError

    def sub(self, base: str, script: str) -> str:
        raise NotImplementedError

    def subsup(self, base: str, sub: str, sup: str) -> str:
        raise NotImplementedError

    def juxtapose(self, parts: list[str]) -> str:
        """A product written side by side: A B, 2 x."""
        raise NotImplementedError

    def infix(self, parts: list[str], op: str) -> str:
        """Parts between an operator token: a ⊙ b ⊙ c, a > 0."""
        raise NotImplementedError

    def signed(self, terms: list[tuple[bool, str]]) -> str:
        """A sum: each term with whether it is subtracted; the first one has no + sign."""
        raise NotImplementedError

    def negate(self, inner: str) -> str:
        """−inner, the minus set close."""
        raise NotImplementedError

    def elementwise(self, exponent: str) -> str:
        """An exponent with the Hadamard mark: ∘2, ∘−1."""
        raise NotImplementedError

    def operator(self, name: str) -> str:
        """An upright operator name: sum, mean, diag, tr, softmax, E, V."""
        raise NotImplementedError

    def apply(self, function: str, arg: str) -> str:
        """function(arg), the parentheses sized to arg."""
        raise NotImplementedError

    def bracketed(self, head: str, left: str, right: str, inner: str) -> str:
        """head[inner] (𝟙[a > 0], E[z]): a head followed by brackets, no function application."""
        raise NotImplementedError

    def log(self, inner: str) -> str:
        """log inner, where inner already carries its parentheses."""
        raise NotImplementedError

    def call(self, template: str, arg: str) -> str:
        """An activation row's own LaTeX call template (`latex_call`, over {a}) around arg."""
        raise NotImplementedError

    # -- the walk -------------------------------------------------------------------------------

    def doprint(self, e: E.Expr) -> str:
        return self.emit(e, 0)

    def emit(self, e: E.Expr, context: int) -> str:
        """e in a context of a binding strength: bracketed when it binds less strongly."""
        hit = self._memo.get((id(e), context))
        if hit is not None and hit[0] is e:
            return hit[1]
        text: str
        strength: int
        text, strength = handler(self, "_print_", e, self.WHAT)(e)
        if strength < context:
            text = self.fence("(", ")", text)
        if len(self._memo) > MEMO_ENTRIES:  # a long-lived printer (a server) stays bounded
            self._memo.clear()
        self._memo[(id(e), context)] = (e, text)
        return text

    def grad(self, name: str, loss: str | None = None) -> str:
        """∂loss/∂name as a fraction."""
        return self.local(loss or self.loss, name)

    def local(self, upper: str, lower: str) -> str:
        """∂upper/∂lower as a fraction."""
        return self.frac(self.partial(upper), self.partial(lower))

    def _operator(self, name: str, arg: E.Expr) -> str:
        return self.apply(self.operator(name), self.doprint(arg))

    # -- leaves ---------------------------------------------------------------------------------

    def _print_Var(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Var)
        latex = self.names(e.name)
        # a name with its own superscript must be bracketed before another one is added
        return self.latex_name(latex), (POSTFIX if "^" in latex else ATOM)

    def _print_GradRef(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.GradRef)
        return self.grad(e.name), POSTFIX

    def _print_Const(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Const)
        v = e.value
        if v.is_number and v.is_negative:
            return self.number(v), NEG
        return self.number(v), (ATOM if v.is_Atom else PRODUCT)

    def _print_Ones(self, e: E.Expr) -> tuple[str, int]:
        # a ones vector with its length, 1_B (or the row 1_Bᵀ), where no neighbour in a product
        # tells its size; `_ones_in_product` prints the short form
        if e.is_scalar:
            return self.ONE, ATOM
        rows, cols = e.shape
        if rows == 1:
            return self.subsup(self.ONES, self.dim(cols), self.T), POSTFIX
        if cols == 1:
            return self.sub(self.ONES, self.dim(rows)), POSTFIX
        return self.ONES, ATOM

    def _ones_in_product(self, e: E.Expr) -> str:
        """𝟏 or 𝟏ᵀ inside a matrix product, where the neighbouring factor gives its length."""
        if e.shape[0] == 1 and e.shape[1] != 1:
            return self.sup(self.ONES, self.T)
        return self.ONES

    def _print_Zero(self, e: E.Expr) -> tuple[str, int]:
        return (self.ZERO if e.is_scalar else self.ZEROS), ATOM

    def _print_Identity(self, e: E.Expr) -> tuple[str, int]:
        return self.IDENTITY, ATOM

    # -- compounds ------------------------------------------------------------------------------

    def _print_Add(self, e: E.Expr) -> tuple[str, int]:
        terms: list[tuple[bool, str]] = []
        for term in e.children:
            if isinstance(term, E.Scale) and E.is_negative(term.coef):
                terms.append((True, self._term(E.scale(-term.coef, term.arg))))
            else:
                terms.append((False, self._term(term)))
        return self.signed(terms), ADD

    def _term(self, term: E.Expr) -> str:
        if isinstance(term, E.Ones):
            return self.ONE  # 1 − h: the ones vector reads as 1 in a sum
        return self.emit(term, NEG)

    def _print_Scale(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Scale)
        c = e.coef
        if c == -1:
            return self.negate(self.emit(e.arg, PRODUCT)), NEG
        body = self.juxtapose([self.number(c), self.emit(e.arg, PRODUCT)])
        ones = isinstance(e.arg, E.Ones) and not e.is_scalar  # −2 𝟏 binds as a product
        if c.is_number and c < 0 and not ones:
            return body, NEG
        return body, PRODUCT

    def _print_MatMul(self, e: E.Expr) -> tuple[str, int]:
        factors = e.children
        parts: list[str] = []
        for i, f in enumerate(factors):
            if isinstance(f, E.Ones) and length_shown_by_neighbour(factors, i):
                parts.append(self._ones_in_product(f))
            elif isinstance(f, E.AxisSum) and f.axis == 0 and i > 0:
                parts.append(self.emit(f, PRODUCT + 1))  # A (𝟏ᵀ Z): 𝟏ᵀ sized by Z, not by A
            else:
                parts.append(self.emit(f, _factor_context(f)))
        return self.juxtapose(parts), PRODUCT

    def _print_AxisSum(self, e: E.Expr) -> tuple[str, int]:
        # Z 𝟏 (the sums of the rows) or 𝟏ᵀ Z (of the columns): the ones take Z's length
        assert isinstance(e, E.AxisSum)
        inner = self.emit(e.arg, _factor_context(e.arg))
        if e.axis == 1:
            return self.juxtapose([inner, self.ONES]), PRODUCT
        return self.juxtapose([self.sup(self.ONES, self.T), inner]), PRODUCT

    def _print_Variance(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("V", e.children[0]), ATOM  # the notes' V(z): per row over the batch

    def _print_Standardize(self, e: E.Expr) -> tuple[str, int]:
        # Ẑ where the spec lets it be a name (`standardized_names`), else the notes'
        # (z − E[z]) / √(V(z) + ε) written out
        assert isinstance(e, E.Standardize)
        hat = self.standardized.get(e)
        if hat is not None:
            return self.latex_name(hat), POSTFIX
        return self.standardize_definition(e), ATOM

    def standardize_definition(self, e: E.Standardize) -> str:
        """(Z − E[Z]) / √(V(Z) + ε) with E and V per row, over the columns (the batch)."""
        whole = self.doprint(e.arg)
        mean = self.bracketed(self.operator("E"), "[", "]", whole)
        var = self.apply(self.operator("V"), whole)
        top = self.signed([(False, self.emit(e.arg, ADD)), (True, mean)])
        return self.frac(top, self.sqrt(self.signed([(False, var), (False, self.number(e.eps))])))

    def _print_Hadamard(self, e: E.Expr) -> tuple[str, int]:
        if e.is_scalar:  # a product of scalars: y/p as a fraction, not y times 1/p
            top, bottom = over(e.children)
            if bottom:
                num = self.juxtapose(self._scalar_factors(top) or [self.ONE])
                return self.frac(num, self.juxtapose(self._scalar_factors(bottom))), ATOM
            return self.juxtapose([self.emit(f, PRODUCT) for f in e.children]), PRODUCT
        return self.infix([self.emit(f, POSTFIX) for f in e.children], self.ODOT), HADAMARD

    def _scalar_factors(self, fs: list[E.Expr]) -> list[str]:
        """The factors of a product of scalars inside a fraction: one alone needs no brackets."""
        if len(fs) == 1:
            return [self.doprint(fs[0])]
        return [self.emit(f, PRODUCT) for f in fs]

    def _print_ScalarMul(self, e: E.Expr) -> tuple[str, int]:
        s, a = e.children
        return self.juxtapose([self.emit(s, PRODUCT), self.emit(a, PRODUCT + 1)]), PRODUCT

    def _print_Div(self, e: E.Expr) -> tuple[str, int]:
        num, den = e.children
        return self.frac(self.doprint(num), self.doprint(den)), ATOM

    def _print_Power(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Power)
        base = e.arg
        if e.exponent.is_number and e.exponent < 0 and base.is_scalar:
            inner = self.emit(E.power(base, -e.exponent), POSTFIX)
            return self.frac(self.ONE, inner), ATOM
        p = self.number(e.exponent)
        # elementwise powers of matrices, and reciprocals of anything not scalar (never an
        # inverse), carry the Hadamard mark: X^{∘2}, u^{∘−1}
        elementwise = 1 not in base.shape or (e.exponent < 0 and not base.is_scalar)
        return self.sup(self.emit(base, ATOM), self.elementwise(p) if elementwise else p), POSTFIX

    def _print_Transpose(self, e: E.Expr) -> tuple[str, int]:
        return self.sup(self.emit(e.children[0], ATOM), self.T), POSTFIX

    def _print_Apply(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Apply)
        arg = self.doprint(e.arg)
        act = ACTIVATIONS[e.fn]
        if act.latex_call:
            return self.call(act.latex_call, arg), ATOM
        name = self.latex_name(act.latex)
        if e.param is not None and e.param != act.param_value():
            name = self.sub(name, self.number(e.param))
        return self.apply(name, arg), ATOM

    def _print_Indicator(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Indicator)
        rel = self.GREATER if e.relation == ">" else self.AT_MOST
        inner = self.infix([self.doprint(e.arg), self.ZERO], rel)
        return self.bracketed(self.INDICATOR, "[", "]", inner), ATOM

    def _print_SumAll(self, e: E.Expr) -> tuple[str, int]:
        arg = e.children[0]
        if isinstance(arg, E.Power) and arg.exponent == 2 and 1 in arg.shape:
            norm = self.fence(self.NORM, self.NORM, self.doprint(arg.arg))
            return self.sup(norm, self.number(sympy.Integer(2))), POSTFIX
        return self._operator("sum", arg), ATOM

    def _print_Mean(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("mean", e.children[0]), ATOM

    def _print_Diag(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("diag", e.children[0]), ATOM

    def _print_Trace(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("tr", e.children[0]), ATOM

    def _print_Softmax(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("softmax", e.children[0]), ATOM

    def _print_LogSoftmax(self, e: E.Expr) -> tuple[str, int]:
        return self.log(self._operator("softmax", e.children[0])), ATOM
