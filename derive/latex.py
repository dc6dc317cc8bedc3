"""LaTeX printer for matrix expressions: dispatch on the node's class, one method per node.

Output follows textbook habits: products by juxtaposition in the order derived, ⊙ for elementwise
products, (W⁽²⁾)ᵀ with parentheses around a name that already carries a superscript, ‖v‖² for the
sum of squares of a vector, and powers of matrices (not vectors) marked elementwise (X^{∘2}).
"""

from __future__ import annotations

from collections.abc import Callable

import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS

# binding strength: a child weaker than its context is parenthesised
ADD, NEG, HADAMARD, PRODUCT, POSTFIX, ATOM = 1, 2, 3, 4, 5, 6


def number_latex(value: sympy.Expr) -> str:
    """A constant as a person writes it: 2, \\frac{1}{B}, 0.01, 10^{-5}."""
    if isinstance(value, sympy.Float) or (value.is_number and not value.is_Rational):
        x = float(value)
        text = f"{x:.6g}"
        if "e" in text:
            mantissa, exp = text.split("e")
            power = f"10^{{{int(exp)}}}"
            return power if mantissa == "1" else rf"{mantissa} \cdot {power}"
        return text
    return str(sympy.latex(value))


class LatexPrinter:
    """Prints expressions with the spec's LaTeX names; `names` maps ascii names to LaTeX."""

    def __init__(self, names: Callable[[str], str], loss: str) -> None:
        self.names = names
        self.loss = loss

    def doprint(self, e: E.Expr) -> str:
        return self.emit(e, 0)

    # -- helpers ------------------------------------------------------------------------------

    def emit(self, e: E.Expr, context: int) -> str:
        method: Callable[[E.Expr], tuple[str, int]] = getattr(self, "_print_" + type(e).__name__)
        text, strength = method(e)
        if strength < context:
            return rf"\left({text}\right)"
        return text

    def grad(self, name: str, loss: str | None = None) -> str:
        return rf"\frac{{\partial {self.names(loss or self.loss)}}}{{\partial {self.names(name)}}}"

    def local(self, upper: str, lower: str) -> str:
        return rf"\frac{{\partial {self.names(upper)}}}{{\partial {self.names(lower)}}}"

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
        return (r"\mathbf{1}" if not e.is_scalar else "1"), ATOM

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
            return number_latex(c) + r" \mathbf{1}", PRODUCT
        coef = number_latex(c)
        if c.is_number and c < 0:
            return f"{coef} {self.emit(e.arg, PRODUCT)}", NEG
        return f"{coef} {self.emit(e.arg, PRODUCT)}", PRODUCT

    def _print_MatMul(self, e: E.Expr) -> tuple[str, int]:
        return " ".join(
            self.emit(f, PRODUCT + 1 if isinstance(f, E.Hadamard) else PRODUCT) for f in e.children
        ), PRODUCT

    def _print_Hadamard(self, e: E.Expr) -> tuple[str, int]:
        if e.is_scalar:  # a product of scalars
            return " ".join(self.emit(f, PRODUCT) for f in e.children), PRODUCT
        return r" \odot ".join(self.emit(f, POSTFIX) for f in e.children), HADAMARD

    def _print_ScalarMul(self, e: E.Expr) -> tuple[str, int]:
        s, a = e.children
        return f"{self.emit(s, PRODUCT)} {self.emit(a, PRODUCT + 1)}", PRODUCT

    def _print_Div(self, e: E.Expr) -> tuple[str, int]:
        num, den = e.children
        return rf"\frac{{{self.doprint(num)}}}{{{self.doprint(den)}}}", ATOM

    def _print_Power(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Power)
        (base,) = e.children
        if e.exponent.is_number and e.exponent < 0:  # elementwise reciprocal, never an inverse
            inner = self.emit(E.power(base, -e.exponent), POSTFIX)
            if base.is_scalar:
                return rf"\frac{{1}}{{{inner}}}", ATOM
            return rf"1 \oslash {inner}", HADAMARD
        p = number_latex(e.exponent)
        matrix = 1 not in base.shape
        exponent = rf"\circ {p}" if matrix else p
        return f"{self.emit(base, ATOM)}^{{{exponent}}}", POSTFIX

    def _print_Transpose(self, e: E.Expr) -> tuple[str, int]:
        return f"{self.emit(e.children[0], ATOM)}^{{T}}", POSTFIX

    def _print_Apply(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Apply)
        arg = self.doprint(e.children[0])
        if e.fn == "sqrt":
            return rf"\sqrt{{{arg}}}", ATOM
        name = ACTIVATIONS[e.fn].latex
        if e.param is not None and e.param != ACTIVATIONS[e.fn].default_param:
            name += f"_{{{number_latex(e.param)}}}"
        return rf"{name}\left({arg}\right)", ATOM

    def _print_Indicator(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Indicator)
        rel = ">" if e.relation == ">" else r"\le"
        return rf"\mathbb{{1}}\left[{self.doprint(e.children[0])} {rel} 0\right]", ATOM

    def _print_SumAll(self, e: E.Expr) -> tuple[str, int]:
        (arg,) = e.children
        if isinstance(arg, E.Power) and arg.exponent == 2 and 1 in arg.shape:
            return rf"\left\|{self.doprint(arg.children[0])}\right\|^{{2}}", POSTFIX
        return rf"\operatorname{{sum}}\left({self.doprint(arg)}\right)", ATOM

    def _print_Mean(self, e: E.Expr) -> tuple[str, int]:
        return rf"\operatorname{{mean}}\left({self.doprint(e.children[0])}\right)", ATOM

    def _print_Diag(self, e: E.Expr) -> tuple[str, int]:
        return rf"\operatorname{{diag}}\left({self.doprint(e.children[0])}\right)", ATOM

    def _print_Trace(self, e: E.Expr) -> tuple[str, int]:
        return rf"\operatorname{{tr}}\left({self.doprint(e.children[0])}\right)", ATOM

    def _print_Identity(self, e: E.Expr) -> tuple[str, int]:
        return "I", ATOM
