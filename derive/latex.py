"""LaTeX printer for matrix expressions: dispatch on the node's class, one method per node.

Output follows textbook habits: products by juxtaposition in the order derived, ⊙ for elementwise
products, (W⁽²⁾)ᵀ with parentheses around a name that already carries a superscript, ‖v‖² for the
sum of squares of a vector, and powers of matrices (not vectors) marked elementwise (X^{∘2}).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.dispatch import handler
from derive.spec import Spec

if TYPE_CHECKING:
    from derive.spec import Spec

# binding strength: a child weaker than its context is parenthesised
ADD, NEG, HADAMARD, PRODUCT, POSTFIX, ATOM = 1, 2, 3, 4, 5, 6


def number_latex(value: sympy.Expr) -> str:
    """A constant as a person writes it: 2, \\frac{1}{2}, \\frac{1}{B}, 0.01, 10^{-5}.

    Constants are exact rationals (the spec's 0.5 is 1/2). A fraction whose denominator is a
    power of ten times a power of two with a factor 5 (1/10, 3/5, 1/100) came from a decimal and
    is printed as one; other fractions (1/2, 3/4, 1/3) as \\frac.
    """
    if isinstance(value, sympy.Rational) and not value.is_Integer:
        q = int(value.q)
        if q % 5 == 0 and _terminates(q):
            return _exact_decimal_latex(int(value.p), q)
        sign = "-" if value < 0 else ""
        return rf"{sign}\frac{{{abs(int(value.p))}}}{{{q}}}"
    if isinstance(value, sympy.Float):
        return _decimal_latex(float(value))
    if value.is_number and not value.is_Rational and value.atoms(sympy.Float):
        return _decimal_latex(float(value))  # exact irrationals (\\sqrt{2}, \\pi) as themselves
    return str(sympy.latex(value))


def _terminates(q: int) -> bool:
    """Whether 1/q has a finite decimal expansion (q = 2^a 5^b)."""
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


def _exact_decimal_latex(p: int, q: int) -> str:
    """p/q (q = 2^a 5^b) written out exactly: 0.01, 0.125, 10^{-5}, 3 \\cdot 10^{-7}."""
    digits = 0
    while q != 1 and 10**digits % q:
        digits += 1
    scaled = abs(p) * (10**digits // q)  # p/q = scaled / 10^digits exactly
    sign = "-" if p < 0 else ""
    mantissa = str(scaled)
    if digits > 4 and len(mantissa) <= 3:  # 0.00001 reads better as 10^{-5}
        stripped = mantissa.rstrip("0")
        exp = len(mantissa) - len(stripped) - digits
        if len(stripped) == 1:
            head = stripped
        else:
            head = f"{stripped[0]}.{stripped[1:]}"
            exp += len(stripped) - 1
        power = f"10^{{{exp}}}"
        return sign + (power if head == "1" else rf"{head} \cdot {power}")
    whole, frac = divmod(scaled, 10**digits)
    return f"{sign}{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def _decimal_latex(x: float) -> str:
    text = f"{x:.6g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        power = f"10^{{{int(exp)}}}"
        if mantissa in ("1", "-1"):
            return ("-" if mantissa == "-1" else "") + power
        return rf"{mantissa} \cdot {power}"
    return text


MEMO_ENTRIES = 200_000
_TALL = ("\\frac", "\\sqrt", "\\sum", "\\Big")


def delimit(left: str, right: str, text: str) -> str:
    """Brackets around text: sized to it (\\left … \\right) only when it holds something tall
    such as a fraction; plain otherwise, as a textbook sets (ŷ − y) and (W⁽²⁾)ᵀ."""
    if any(mark in text for mark in _TALL):
        return rf"\left{left}{text}\right{right}"
    return f"{left}{text}{right}"


def length_shown_by_neighbour(factors: tuple[E.Expr, ...], i: int) -> bool:
    """Whether a ones factor of a product may be printed without its length, as a reader sizes
    it: a column 𝟏 after a factor (X 𝟏, the length X's columns), a row 𝟏ᵀ first and before a
    factor (𝟏ᵀ X). In an outer product (𝟏 xᵀ, G 𝟏 𝟏ᵀ) the length is written: 𝟏_{B}ᵀ."""
    f = factors[i]
    if f.shape[1] == 1:
        return i > 0 and not isinstance(factors[i - 1], E.Ones)
    return i == 0 and len(factors) > 1 and not isinstance(factors[1], E.Ones)


# a head letter, or a command that takes no argument (\\gamma, \\ell), not an accent or a font
_HEAD = re.compile(r"^([A-Za-z]|\\[A-Za-z]+)(?![A-Za-z{])")


def hatted(latex: str) -> str:
    """The standardized value of a name: a hat on its head letter, \\hat{Z}^{(1)} for Z^{(1)};
    \\widehat over a name that starts otherwise (an accent, a font)."""
    m = _HEAD.match(latex)
    if m:
        return rf"\hat{{{m.group(1)}}}{latex[m.end():]}"
    return rf"\widehat{{{latex}}}"


def standardized_names(spec: Spec) -> dict[E.Expr, str]:
    """The standardized values printed as a name, Ẑ for standardize(Z) inside a batch norm:
    those of a named argument that no equation names, each hat given to one of them only and
    to no name of the spec (any other is written out in full)."""
    taken = {spec.latex_of(n) for n in spec.names()}
    tops = {eq.expr for eq in spec.equations}
    by_hat: dict[str, set[E.Expr]] = {}
    for eq in spec.equations:
        for n in E.walk_nodes(eq.expr):
            if isinstance(n, E.Standardize) and isinstance(n.arg, E.Var) and n not in tops:
                by_hat.setdefault(hatted(spec.latex_of(n.arg.name)), set()).add(n)
    return {
        next(iter(nodes)): hat
        for hat, nodes in by_hat.items()
        if len(nodes) == 1 and hat not in taken
    }


class LatexPrinter:
    """Prints expressions with the spec's LaTeX names; `names` maps ascii names to LaTeX, and
    `standardized` the standardized values shown as a name (`standardized_names`)."""

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

    def doprint(self, e: E.Expr) -> str:
        return self.emit(e, 0)

    # -- helpers ------------------------------------------------------------------------------

    def emit(self, e: E.Expr, context: int) -> str:
        hit = self._memo.get((id(e), context))
        if hit is not None and hit[0] is e:
            return hit[1]
        text: str
        strength: int
        text, strength = handler(self, "_print_", e, "LaTeX form")(e)
        if strength < context:
            text = delimit("(", ")", text)
        if len(self._memo) > MEMO_ENTRIES:  # a long-lived printer (a server) stays bounded
            self._memo.clear()
        self._memo[(id(e), context)] = (e, text)
        return text

    def grad(self, name: str, loss: str | None = None) -> str:
        return rf"\frac{{\partial {self.names(loss or self.loss)}}}{{\partial {self.names(name)}}}"

    def local(self, upper: str, lower: str) -> str:
        return rf"\frac{{\partial {self.names(upper)}}}{{\partial {self.names(lower)}}}"

    # -- rows of a document (derive.document.rows) --------------------------------------------

    def name(self, name: str) -> str:
        return self.names(name)

    def hat(self, latex_name: str) -> str:
        return latex_name

    def derivative(self, fn: str, arg: E.Expr) -> str:
        """f'(arg) for a function of the activation table: \\sigma'(W^{(1)}x + b^{(1)})."""
        return f"{ACTIVATIONS[fn].latex}'{delimit('(', ')', self.doprint(arg))}"

    def product(self, parts: list[str]) -> str:
        return r" \cdot ".join(parts)

    def total(self, terms: list[str]) -> str:
        return " + ".join(terms)

    def equals(self, parts: list[str]) -> str:
        return " = ".join(parts)

    def noted(self, row: str, note: str) -> str:
        return rf"{row} \quad \text{{({note})}}"

    # -- leaves -------------------------------------------------------------------------------

    def _print_Var(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Var)
        text = self.names(e.name)
        # a name with its own superscript must be bracketed before another one is added
        return text, (POSTFIX if "^" in text else ATOM)

    def _print_GradRef(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.GradRef)
        return self.grad(e.name), POSTFIX

    def _print_Const(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Const)
        v = e.value
        text = number_latex(v)
        if v.is_number and v.is_negative:
            return text, NEG
        return text, (ATOM if v.is_Atom else PRODUCT)

    def _print_Ones(self, e: E.Expr) -> tuple[str, int]:
        # a ones vector with its length, 1_B (or the row 1_Bᵀ), where no neighbour in a product
        # tells its size; `_ones_in_product` prints the short form
        if e.is_scalar:
            return "1", ATOM
        rows, cols = e.shape
        if rows == 1:
            return rf"\mathbf{{1}}_{{{cols}}}^{{T}}", POSTFIX
        if cols == 1:
            return rf"\mathbf{{1}}_{{{rows}}}", POSTFIX
        return r"\mathbf{1}", ATOM

    def _ones_in_product(self, e: E.Expr) -> str:
        """𝟏 or 𝟏ᵀ inside a matrix product, where the neighbouring factor gives its length."""
        return r"\mathbf{1}^{T}" if e.shape[0] == 1 and e.shape[1] != 1 else r"\mathbf{1}"

    def _print_Zero(self, e: E.Expr) -> tuple[str, int]:
        return ("0" if e.is_scalar else r"\mathbf{0}"), ATOM

    # -- compounds ----------------------------------------------------------------------------

    def _print_Add(self, e: E.Expr) -> tuple[str, int]:
        parts: list[str] = []
        for i, term in enumerate(e.children):
            negative = isinstance(term, E.Scale) and E.is_negative(term.coef)
            if negative:
                assert isinstance(term, E.Scale)
                body = self._term(E.scale(-term.coef, term.arg))
                parts.append(f"- {body}" if i else f"-{body}")
            else:
                body = self._term(term)
                parts.append(f"+ {body}" if i else body)
        return " ".join(parts), ADD

    def _term(self, term: E.Expr) -> str:
        if isinstance(term, E.Ones):
            return "1"  # 1 − h: the ones vector reads as 1 in a sum
        return self.emit(term, NEG)

    def _print_Scale(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Scale)
        c = e.coef
        if c == -1:
            return "-" + self.emit(e.arg, PRODUCT), NEG
        if isinstance(e.arg, E.Ones) and not e.is_scalar:
            return number_latex(c) + " " + self.emit(e.arg, PRODUCT), PRODUCT
        coef = number_latex(c)
        if c.is_number and c < 0:
            return f"{coef} {self.emit(e.arg, PRODUCT)}", NEG
        return f"{coef} {self.emit(e.arg, PRODUCT)}", PRODUCT

    def _print_MatMul(self, e: E.Expr) -> tuple[str, int]:
        factors = e.children
        parts: list[str] = []
        for i, f in enumerate(factors):
            if isinstance(f, E.Ones) and length_shown_by_neighbour(factors, i):
                parts.append(self._ones_in_product(f))
            elif isinstance(f, E.AxisSum) and f.axis == 0 and i > 0:
                parts.append(self.emit(f, PRODUCT + 1))  # A (𝟏ᵀ Z): 𝟏ᵀ sized by Z, not by A
            else:
                parts.append(self.emit(f, PRODUCT + 1 if isinstance(f, E.Hadamard) else PRODUCT))
        return " ".join(parts), PRODUCT

    def _print_AxisSum(self, e: E.Expr) -> tuple[str, int]:
        # Z 𝟏 (the sums of the rows) or 𝟏ᵀ Z (of the columns): the ones take Z's length
        assert isinstance(e, E.AxisSum)
        (arg,) = e.children
        inner = self.emit(arg, PRODUCT + 1 if isinstance(arg, E.Hadamard) else PRODUCT)
        if e.axis == 1:
            return rf"{inner} \mathbf{{1}}", PRODUCT
        return rf"\mathbf{{1}}^{{T}} {inner}", PRODUCT

    def _print_Variance(self, e: E.Expr) -> tuple[str, int]:
        # the notes' V(z): per row over the batch
        return r"\operatorname{V}" + delimit("(", ")", self.doprint(e.children[0])), ATOM

    def _print_Standardize(self, e: E.Expr) -> tuple[str, int]:
        # Ẑ where the spec lets it be a name (`standardized_names`), else the notes'
        # (z − E[z]) / √(V(z) + ε) written out
        assert isinstance(e, E.Standardize)
        hat = self.standardized.get(e)
        if hat is not None:
            return hat, POSTFIX
        return self.standardize_definition(e), ATOM

    def standardize_definition(self, e: E.Standardize) -> str:
        """(Z − E[Z]) / √(V(Z) + ε) with E and V per row, over the columns (the batch)."""
        z = self.emit(e.arg, ADD)
        whole = self.doprint(e.arg)
        mean = r"\operatorname{E}" + delimit("[", "]", whole)
        var = r"\operatorname{V}" + delimit("(", ")", whole)
        return rf"\frac{{{z} - {mean}}}{{\sqrt{{{var} + {number_latex(e.eps)}}}}}"

    def _print_Hadamard(self, e: E.Expr) -> tuple[str, int]:
        if e.is_scalar:  # a product of scalars: y/p as \frac{y}{p}, not y \frac{1}{p}
            top, bottom = over(e.children)
            if bottom:
                num = self.factors(top) if top else "1"
                den = self.factors(bottom)
                return rf"\frac{{{num}}}{{{den}}}", ATOM
            return " ".join(self.emit(f, PRODUCT) for f in e.children), PRODUCT
        return r" \odot ".join(self.emit(f, POSTFIX) for f in e.children), HADAMARD

    def factors(self, fs: list[E.Expr]) -> str:
        """A product of scalars inside \\frac: one factor needs no parentheses there."""
        if len(fs) == 1:
            return self.doprint(fs[0])
        return " ".join(self.emit(f, PRODUCT) for f in fs)

    def _print_ScalarMul(self, e: E.Expr) -> tuple[str, int]:
        s, a = e.children
        return f"{self.emit(s, PRODUCT)} {self.emit(a, PRODUCT + 1)}", PRODUCT

    def _print_Div(self, e: E.Expr) -> tuple[str, int]:
        num, den = e.children
        return rf"\frac{{{self.doprint(num)}}}{{{self.doprint(den)}}}", ATOM

    def _print_Power(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Power)
        (base,) = e.children
        if e.exponent.is_number and e.exponent < 0 and base.is_scalar:
            inner = self.emit(E.power(base, -e.exponent), POSTFIX)
            return rf"\frac{{1}}{{{inner}}}", ATOM
        p = number_latex(e.exponent)
        # elementwise powers of matrices, and reciprocals of anything not scalar (never an
        # inverse), carry the Hadamard mark: X^{∘2}, u^{∘−1}
        elementwise = 1 not in base.shape or (e.exponent < 0 and not base.is_scalar)
        exponent = rf"\circ {p}" if elementwise else p
        return f"{self.emit(base, ATOM)}^{{{exponent}}}", POSTFIX

    def _print_Transpose(self, e: E.Expr) -> tuple[str, int]:
        return f"{self.emit(e.children[0], ATOM)}^{{T}}", POSTFIX

    def _print_Apply(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Apply)
        arg = self.doprint(e.children[0])
        act = ACTIVATIONS[e.fn]
        if act.latex_call:
            return act.latex_call.format(a=arg), ATOM
        name = act.latex
        if e.param is not None and e.param != ACTIVATIONS[e.fn].param_value():
            name += f"_{{{number_latex(e.param)}}}"
        return name + delimit("(", ")", arg), ATOM

    def _print_Indicator(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Indicator)
        rel = ">" if e.relation == ">" else r"\le"
        return r"\mathbb{1}" + delimit("[", "]", f"{self.doprint(e.children[0])} {rel} 0"), ATOM

    def _print_SumAll(self, e: E.Expr) -> tuple[str, int]:
        (arg,) = e.children
        if isinstance(arg, E.Power) and arg.exponent == 2 and 1 in arg.shape:
            return delimit(r"\|", r"\|", self.doprint(arg.children[0])) + "^{2}", POSTFIX
        return r"\operatorname{sum}" + delimit("(", ")", self.doprint(arg)), ATOM

    def _print_Mean(self, e: E.Expr) -> tuple[str, int]:
        return r"\operatorname{mean}" + delimit("(", ")", self.doprint(e.children[0])), ATOM

    def _print_Diag(self, e: E.Expr) -> tuple[str, int]:
        return r"\operatorname{diag}" + delimit("(", ")", self.doprint(e.children[0])), ATOM

    def _print_Trace(self, e: E.Expr) -> tuple[str, int]:
        return r"\operatorname{tr}" + delimit("(", ")", self.doprint(e.children[0])), ATOM

    def _print_Identity(self, e: E.Expr) -> tuple[str, int]:
        return "I", ATOM

    def _print_Softmax(self, e: E.Expr) -> tuple[str, int]:
        return r"\operatorname{softmax}" + delimit("(", ")", self.doprint(e.children[0])), ATOM

    def _print_LogSoftmax(self, e: E.Expr) -> tuple[str, int]:
        arg = delimit("(", ")", self.doprint(e.children[0]))
        return r"\log \operatorname{softmax}" + arg, ATOM


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


def printer_for(spec: Spec) -> LatexPrinter:
    """The spec's printer, one per spec: its memo of printed subtrees is shared by every
    gradient (a deep network's gradients share most of their trees)."""
    printer = spec.__dict__.get("_printer")
    if printer is None:
        printer = LatexPrinter(spec.latex_of, spec.loss, standardized_names(spec))
        object.__setattr__(spec, "_printer", printer)
    assert isinstance(printer, LatexPrinter)
    return printer
