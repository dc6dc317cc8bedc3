"""LaTeX printer for matrix expressions: LaTeX's tokens over the layout of `derive.layout`.

Output follows textbook habits: products by juxtaposition in the order derived, ⊙ for elementwise
products, (W⁽²⁾)ᵀ with parentheses around a name that already carries a superscript, ‖v‖² for the
sum of squares of a vector, and powers of matrices (not vectors) marked elementwise (X^{∘2}).
"""

from __future__ import annotations

import re

import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.layout import Layout
from derive.spec import Spec


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


_TALL = ("\\frac", "\\sqrt", "\\sum", "\\Big")


def delimit(left: str, right: str, text: str) -> str:
    """Brackets around text: sized to it (\\left … \\right) only when it holds something tall
    such as a fraction; plain otherwise, as a textbook sets (ŷ − y) and (W⁽²⁾)ᵀ."""
    if any(mark in text for mark in _TALL):
        return rf"\left{left}{text}\right{right}"
    return f"{left}{text}{right}"


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


class LatexPrinter(Layout):
    """Prints expressions with the spec's LaTeX names; `names` maps ascii names to LaTeX, and
    `standardized` the standardized values shown as a name (`standardized_names`). The layout
    is `derive.layout.Layout`'s; this class gives LaTeX's tokens."""

    WHAT = "LaTeX form"
    ONE, ZERO, ONES, ZEROS, T, IDENTITY = "1", "0", r"\mathbf{1}", r"\mathbf{0}", "T", "I"
    ODOT, NORM, INDICATOR, GREATER, AT_MOST = r"\odot", r"\|", r"\mathbb{1}", ">", r"\le"

    def number(self, value: sympy.Expr) -> str:
        return number_latex(value)

    def latex_name(self, latex: str) -> str:
        return latex

    def dim(self, dim: E.Dim) -> str:
        return str(dim)

    def partial(self, name: str) -> str:
        return rf"\partial {self.names(name)}"

    def fence(self, left: str, right: str, inner: str) -> str:
        return delimit(left, right, inner)

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

    def frac(self, num: str, den: str) -> str:
        return rf"\frac{{{num}}}{{{den}}}"

    def sqrt(self, inner: str) -> str:
        return rf"\sqrt{{{inner}}}"

    def sup(self, base: str, script: str) -> str:
        return f"{base}^{{{script}}}"

    def sub(self, base: str, script: str) -> str:
        return f"{base}_{{{script}}}"

    def subsup(self, base: str, sub: str, sup: str) -> str:
        return f"{base}_{{{sub}}}^{{{sup}}}"

    def juxtapose(self, parts: list[str]) -> str:
        return " ".join(parts)

    def infix(self, parts: list[str], op: str) -> str:
        return f" {op} ".join(parts)

    def signed(self, terms: list[tuple[bool, str]]) -> str:
        parts: list[str] = []
        for i, (minus, body) in enumerate(terms):
            if minus:
                parts.append(f"- {body}" if i else f"-{body}")
            else:
                parts.append(f"+ {body}" if i else body)
        return " ".join(parts)

    def negate(self, inner: str) -> str:
        return "-" + inner

    def elementwise(self, exponent: str) -> str:
        return rf"\circ {exponent}"

    def operator(self, name: str) -> str:
        return rf"\operatorname{{{name}}}"

    def apply(self, function: str, arg: str) -> str:
        return function + delimit("(", ")", arg)

    def bracketed(self, head: str, left: str, right: str, inner: str) -> str:
        return head + delimit(left, right, inner)

    def log(self, inner: str) -> str:
        return rf"\log {inner}"

    def call(self, template: str, arg: str) -> str:
        return template.format(a=arg)


def printer_for(spec: Spec) -> LatexPrinter:
    """The spec's printer, one per spec: its memo of printed subtrees is shared by every
    gradient (a deep network's gradients share most of their trees)."""
    printer = spec.__dict__.get("_printer")
    if printer is None:
        printer = LatexPrinter(spec.latex_of, spec.loss, standardized_names(spec))
        object.__setattr__(spec, "_printer", printer)
    assert isinstance(printer, LatexPrinter)
    return printer
