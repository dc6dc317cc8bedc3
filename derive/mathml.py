"""MathML Core printer for matrix expressions: what the LaTeX printer prints, for a browser.

One method per node class (`_print_<Class>`), with the same binding strengths and parentheses
as `derive.latex`, so a page shows (W⁽²⁾)ᵀ, ŷ, ⊙, fractions, 𝟏_B and σ′(…) as the LaTeX report
does, rendered natively by the browser (no script, no font download). Names arrive as the spec's
LaTeX (`W^{(2)}`, `\\hat{y}`, `\\mathcal{J}(W)`) and are translated by a small reader of the
name grammar (`name_mathml`); whatever it does not know is shown as text. Every character that
comes from a spec or an answer is escaped for XML, so the markup can go into HTML as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from html import escape as _escape

import sympy

from derive import display_rows as rows
from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.chain_rule import Derivation
from derive.dispatch import handler
from derive.greek import LETTERS
from derive.latex import (
    ADD,
    ATOM,
    HADAMARD,
    NEG,
    POSTFIX,
    PRODUCT,
    length_shown_by_neighbour,
    number_latex,
    over,
    standardized_names,
)
from derive.spec import Spec

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
INVISIBLE_TIMES = "\u2062"
APPLY_FUNCTION = "\u2061"
MINUS = "\u2212"

_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Text for an element or an attribute: & < > " ' escaped, characters XML forbids (C0
    controls, lone surrogates, U+FFFE/FFFF) replaced by U+FFFD."""
    return _escape(_XML_INVALID.sub("\ufffd", text), quote=True)


# -- elements ---------------------------------------------------------------------------------


def mi(text: str, normal: bool = False) -> str:
    variant = ' mathvariant="normal"' if normal and len(text) == 1 else ""
    return f"<mi{variant}>{xml_text(text)}</mi>"


def mn(text: str) -> str:
    return f"<mn>{xml_text(text)}</mn>"


def mo(text: str, stretchy: bool | None = None) -> str:
    attr = "" if stretchy is None else f' stretchy="{"true" if stretchy else "false"}"'
    return f"<mo{attr}>{xml_text(text)}</mo>"


def mtext(text: str) -> str:
    return f"<mtext>{xml_text(text)}</mtext>"


def mspace(width: str) -> str:
    return f'<mspace width="{width}"></mspace>'


def mrow(*parts: str) -> str:
    return "<mrow>" + "".join(parts) + "</mrow>"


def mfrac(num: str, den: str) -> str:
    return f"<mfrac>{num}{den}</mfrac>"


def msup(base: str, sup: str) -> str:
    return f"<msup>{base}{sup}</msup>"


def msub(base: str, sub: str) -> str:
    return f"<msub>{base}{sub}</msub>"


def msubsup(base: str, sub: str, sup: str) -> str:
    return f"<msubsup>{base}{sub}{sup}</msubsup>"


_TALL = ("<mfrac", "<msqrt", "<munderover")


def fenced(left: str, right: str, inner: str) -> str:
    """Brackets around inner: sized to it only when it holds something tall such as a fraction,
    as derive.latex.delimit uses \\left … \\right; plain brackets otherwise."""
    stretchy = any(mark in inner for mark in _TALL)
    return mrow(mo(left, stretchy=stretchy), inner, mo(right, stretchy=stretchy))


def math(body: str, display: str = "block") -> str:
    """A whole <math> element (display "block" or "inline")."""
    return f'<math xmlns="{MATHML_NS}" display="{display}">{body}</math>'


# -- names: the spec's LaTeX name grammar to MathML ---------------------------------------------


def _unicode_name(name: str) -> str | None:
    try:
        return unicodedata.lookup(name)
    except KeyError:
        return None


GREEK: dict[str, str] = dict(LETTERS)  # TeX's letters and the characters it prints
SYMBOLS = {"ell": "\u2113", "top": "\u22a4", "intercal": "\u22ba", "partial": "\u2202",
           "nabla": "\u2207", "infty": "\u221e"}  # fmt: skip
OPERATORS = {"prime": "\u2032", "cdot": "\u22c5", "odot": "\u2299", "circ": "\u2218",
             "times": "\u00d7", "le": "\u2264", "leq": "\u2264", "ge": "\u2265", "geq": "\u2265",
             "|": "\u2016", "quad": "\u2003"}  # fmt: skip
# accents over their argument: the mark, and whether it stretches to the argument's width
ACCENTS = {"hat": ("^", False), "widehat": ("^", True), "bar": ("\u00af", False),
           "overline": ("\u203e", True), "tilde": ("~", False), "widetilde": ("~", True),
           "vec": ("\u2192", False), "dot": ("\u02d9", False), "ddot": ("\u00a8", False),
           "check": ("\u02c7", False)}  # fmt: skip
# LaTeX's upright operator names (\tanh, \exp, ...) that may appear in a printed name
OPERATOR_NAMES = {"tanh", "exp", "log", "ln", "sin", "cos", "sinh", "cosh", "max", "min", "det",
                  "arg", "sup", "inf", "lim"}  # fmt: skip
# font commands: the Unicode mathematical alphabet of each (None: upright, one <mi>)
FONTS: dict[str, str | None] = {
    "mathbf": "BOLD",
    "boldsymbol": "BOLD ITALIC",
    "mathcal": "SCRIPT",
    "mathbb": "DOUBLE-STRUCK",
    "mathit": "ITALIC",
    "mathsf": "SANS-SERIF",
    "mathrm": None,
    "operatorname": None,
    "text": None,
    "mathscr": "SCRIPT",
}
_DIGITS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]
# the letters Unicode placed in Letterlike Symbols before the mathematical alphabets existed
_LETTERLIKE = {("ITALIC", "h"): "\u210e"}


def styled(char: str, style: str | None) -> str:
    """A letter or digit in a mathematical alphabet (𝐖, 𝒥, ℝ, 𝟏), or itself when there is none."""
    if style is None:
        return char
    if (style, char) in _LETTERLIKE:
        return _LETTERLIKE[(style, char)]
    if char.isascii() and char.isdigit():
        digit_style = "BOLD" if style == "BOLD ITALIC" else style
        found = _unicode_name(f"MATHEMATICAL {digit_style} DIGIT {_DIGITS[int(char)]}")
        return found or char
    if char.isascii() and char.isalpha():
        case = "CAPITAL" if char.isupper() else "SMALL"
        found = _unicode_name(f"MATHEMATICAL {style} {case} {char.upper()}")
        # holes in the alphabets are the Letterlike Symbols: ℬ, ℛ, ℂ, ℝ, ℯ, ...
        return found or _unicode_name(f"{style} {case} {char.upper()}") or char
    name = unicodedata.name(char, "")
    if name.startswith("GREEK ") and style in ("BOLD", "BOLD ITALIC", "ITALIC"):
        plain = name.replace("GREEK ", f"MATHEMATICAL {style} ", 1).replace(" LETTER ", " ", 1)
        return _unicode_name(plain) or char
    return char


class _NameReader:
    """The grammar of a spec's `latex` name (derive.spec), read into MathML.

        name    := item*          item := nucleus [^ arg] [_ arg]  (either order)
        nucleus := letter | digits | punctuation | {name} | \\symbol | \\accent arg | \\font arg
        arg     := {name} | letter | digit | \\symbol

    A spec's names are validated by that grammar before they get here; anything else (a
    command it does not know, a stray brace) is shown as escaped text, never dropped.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def read(self) -> str:
        parts = self.sequence(style=None, closing=False)
        return parts[0] if len(parts) == 1 else mrow(*parts)

    def sequence(self, style: str | None, closing: bool) -> list[str]:
        items: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                return items
            if ch == "}":
                self.i += 1
                if closing:
                    return items
                items.append(mtext("}"))
                continue
            if ch == " ":
                self.i += 1
                continue
            if ch in "^_":
                self.i += 1
                base = items.pop() if items else mrow()
                items.append(self.scripts(base, ch, style))
                continue
            items.append(self.nucleus(style))

    def scripts(self, base: str, first: str, style: str | None) -> str:
        given = {first: self.argument(style)}
        while self.peek() == " ":
            self.i += 1
        other = "_" if first == "^" else "^"
        if self.peek() == other:
            self.i += 1
            given[other] = self.argument(style)
        if "^" in given and "_" in given:
            return msubsup(base, given["_"], given["^"])
        if "^" in given:
            return msup(base, given["^"])
        return msub(base, given["_"])

    def argument(self, style: str | None) -> str:
        while self.peek() == " ":
            self.i += 1
        ch = self.peek()
        if ch == "{":
            self.i += 1
            parts = self.sequence(style, closing=True)
            return parts[0] if len(parts) == 1 else mrow(*parts)
        if not ch:
            return mrow()
        if ch == "\\":
            return self.command(style)
        self.i += 1
        return self.character(ch, style)

    def nucleus(self, style: str | None) -> str:
        ch = self.peek()
        if ch == "{":
            self.i += 1
            parts = self.sequence(style, closing=True)
            return parts[0] if len(parts) == 1 else mrow(*parts)
        if ch == "\\":
            return self.command(style)
        if ch.isascii() and ch.isdigit():
            start = self.i
            while self.peek().isascii() and (self.peek().isdigit() or self.peek() == "."):
                self.i += 1
            digits = self.text[start : self.i]
            return mn("".join(styled(d, style) for d in digits))
        if style is None and ch.isascii() and ch.isalpha() and self._upright is not None:
            start = self.i
            while self.peek().isascii() and self.peek().isalnum():
                self.i += 1
            return mi(self.text[start : self.i], normal=True)
        self.i += 1
        return self.character(ch, style)

    _upright: str | None = None  # set while reading the argument of \mathrm or \operatorname

    def character(self, ch: str, style: str | None) -> str:
        if ch.isascii() and ch.isdigit():
            return mn(styled(ch, style))
        if ch.isalpha():
            if self._upright is not None:
                return mi(ch, normal=True)
            return mi(styled(ch, style))
        if ch == "'":
            return mo("\u2032")
        if ch == "-":
            return mo(MINUS)
        if ch in "()[]|":
            return mo(ch, stretchy=False)
        return mo(ch)

    def command(self, style: str | None) -> str:
        start = self.i
        self.i += 1
        while self.peek().isascii() and self.peek().isalpha():
            self.i += 1
        name = self.text[start + 1 : self.i]
        if not name and self.peek():  # \| and other one-character commands
            name = self.peek()
            self.i += 1
        if name in GREEK:
            return mi(styled(GREEK[name], style))
        if name in SYMBOLS:
            return mi(SYMBOLS[name])
        if name in OPERATORS:
            return mo(OPERATORS[name])
        if name in OPERATOR_NAMES:
            return mi(name)
        if name in ACCENTS:
            mark, stretchy = ACCENTS[name]
            base = self.argument(style)
            return f'<mover accent="true">{base}{mo(mark, stretchy=stretchy)}</mover>'
        if name in FONTS:
            font = FONTS[name]
            if font is None:
                saved, self._upright = self._upright, name
                try:
                    return self.argument(None)
                finally:
                    self._upright = saved
            return self.argument(font)
        return mtext(self.text[start : self.i])  # not of the grammar: shown as typed


def name_mathml(latex: str) -> str:
    """A LaTeX math name (the spec grammar) as MathML: W^{(2)}, \\hat{y}, \\mathcal{J}(W)."""
    if not latex:
        return mrow()
    return _NameReader(latex).read()


# -- numbers ------------------------------------------------------------------------------------

_FRACTION = re.compile(r"\\frac\{(\d+)\}\{(\d+)\}")
_POWER_OF_TEN = re.compile(r"(?:(\d+(?:\.\d+)?) \\cdot )?10\^\{(-?\d+)\}")
_DECIMAL = re.compile(r"\d+(?:\.\d+)?")


def number_mathml(value: sympy.Expr) -> str:
    """A constant as derive.latex.number_latex writes it (½, 0.01, 10⁻⁵, 1/B), in MathML."""
    if value.is_number and (value.is_Rational or value.atoms(sympy.Float)):
        text = number_latex(value)
        sign = text.startswith("-")
        body = _plain_number(text[1:] if sign else text)
        if body is not None:
            return mrow(mo(MINUS), body) if sign else body
    return _symbolic(value)


def _plain_number(text: str) -> str | None:
    if _DECIMAL.fullmatch(text):
        return mn(text)
    m = _FRACTION.fullmatch(text)
    if m:
        return mfrac(mn(m.group(1)), mn(m.group(2)))
    m = _POWER_OF_TEN.fullmatch(text)
    if m:
        exp = m.group(2)
        power = msup(mn("10"), mrow(mo(MINUS), mn(exp[1:])) if exp[0] == "-" else mn(exp))
        return mrow(mn(m.group(1)), mo("\u22c5"), power) if m.group(1) else power
    return None


def _symbolic(value: sympy.Expr) -> str:
    """A coefficient in the dims (1/B, 2/(B n), B m) as a fraction of products."""
    if value.could_extract_minus_sign():
        return mrow(mo(MINUS), _symbolic(-value))
    num, den = sympy.fraction(value)
    if den != 1:
        return mfrac(_product(num), _product(den))
    return _product(num)


def _product(value: sympy.Expr) -> str:
    if isinstance(value, sympy.Add):
        parts: list[str] = []
        for i, term in enumerate(value.as_ordered_terms()):
            if term.could_extract_minus_sign():
                parts += [mo(MINUS), _product(-term)]
            else:
                parts += ([mo("+")] if i else []) + [_product(term)]
        return mrow(*parts)
    if isinstance(value, sympy.Mul):
        coef, rest = value.as_coeff_Mul()
        factors = [_factor(f) for f in sympy.Mul.make_args(rest)]
        if coef != 1:
            factors.insert(0, number_mathml(coef))
        return mrow(*_between(factors, mo(INVISIBLE_TIMES)))
    return _factor(value)


def _factor(value: sympy.Expr) -> str:
    if isinstance(value, sympy.Symbol):
        return name_mathml(value.name)
    if value.is_Integer:
        return mn(str(value))
    if value == sympy.pi:
        return mi("\u03c0")
    if isinstance(value, sympy.Pow) and abs(value.exp) == sympy.Rational(1, 2):
        root = f"<msqrt>{_product(value.base)}</msqrt>"  # √2, √π
        return root if value.exp > 0 else mfrac(mn("1"), root)
    if isinstance(value, sympy.Pow) and value.exp.is_Integer and value.exp > 0:
        base = _factor(value.base)
        if isinstance(value.base, sympy.Add):
            base = fenced("(", ")", base)
        return msup(base, mn(str(value.exp)))
    if isinstance(value, sympy.Add):
        return fenced("(", ")", _product(value))
    if value.is_number:
        return number_mathml(value)
    return mtext(str(value))


def _between(parts: list[str], separator: str) -> list[str]:
    out: list[str] = []
    for i, p in enumerate(parts):
        if i:
            out.append(separator)
        out.append(p)
    return out


# -- expressions --------------------------------------------------------------------------------


class MathmlPrinterBase:
    """Dispatch on the node's class name: `_print_<Class>` returns (markup, binding strength)."""

    def emit(self, e: E.Expr, context: int) -> str:
        markup: str
        strength: int
        markup, strength = handler(self, "_print_", e, "MathML form")(e)
        if strength < context:
            return fenced("(", ")", markup)
        return markup

    def doprint(self, e: E.Expr) -> str:
        """The expression as a MathML fragment (an <mrow> or a token), without <math>."""
        return self.emit(e, 0)


class MathmlPrinter(MathmlPrinterBase):
    """Prints expressions with the spec's names; `names` maps ascii names to LaTeX names."""

    def __init__(
        self,
        names: Callable[[str], str],
        loss: str,
        standardized: Mapping[E.Expr, str] | None = None,
    ) -> None:
        self.names = names
        self.loss = loss
        self.standardized = dict(standardized or {})

    @classmethod
    def for_spec(cls, spec: Spec) -> MathmlPrinter:
        return cls(spec.latex_of, spec.loss, standardized_names(spec))

    def name(self, name: str) -> str:
        return name_mathml(self.names(name))

    def grad(self, name: str, loss: str | None = None) -> str:
        """∂loss/∂name as a fraction."""
        return self.local(loss or self.loss, name)

    def local(self, upper: str, lower: str) -> str:
        """∂upper/∂lower as a fraction."""
        return mfrac(mrow(mi("\u2202"), self.name(upper)), mrow(mi("\u2202"), self.name(lower)))

    def derivative(self, fn: str, arg: E.Expr) -> str:
        """f′(arg) for a function of the activation table: σ′(W⁽¹⁾x + b⁽¹⁾)."""
        return mrow(name_mathml(ACTIVATIONS[fn].latex), mo("\u2032"), mo(APPLY_FUNCTION),
                    fenced("(", ")", self.doprint(arg)))  # fmt: skip

    # -- rows of a document (derive.document.rows) ----------------------------------------------

    def hat(self, latex_name: str) -> str:
        return name_mathml(latex_name)

    def product(self, parts: list[str]) -> str:
        return mrow(*_between(parts, mo("\u22c5")))

    def total(self, terms: list[str]) -> str:
        return terms[0] if len(terms) == 1 else mrow(*_between(terms, mo("+")))

    def equals(self, parts: list[str]) -> str:
        return mrow(*_between(parts, mo("=")))

    def noted(self, row: str, note: str) -> str:
        return mrow(row, mspace("1em"), mtext(f"({note})"))

    # -- leaves ---------------------------------------------------------------------------------

    def _print_Var(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Var)
        latex = self.names(e.name)
        # a name with its own superscript is bracketed before another one is added
        return name_mathml(latex), (POSTFIX if "^" in latex else ATOM)

    def _print_GradRef(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.GradRef)
        return self.grad(e.name), POSTFIX

    def _print_Const(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Const)
        v = e.value
        if v.is_number and v.is_negative:
            return number_mathml(v), NEG
        return number_mathml(v), (ATOM if v.is_Atom else PRODUCT)

    def _ones(self) -> str:
        return mi(styled("1", "BOLD"))

    def _print_Ones(self, e: E.Expr) -> tuple[str, int]:
        # a ones vector with its length, 𝟏_B (or the row 𝟏_Bᵀ), where no neighbour in a product
        # tells its size; `_ones_in_product` prints the short form
        if e.is_scalar:
            return mn("1"), ATOM
        rows, cols = e.shape
        if rows == 1:
            return msubsup(self._ones(), name_mathml(str(cols)), mi("T")), POSTFIX
        if cols == 1:
            return msub(self._ones(), name_mathml(str(rows))), POSTFIX
        return self._ones(), ATOM

    def _ones_in_product(self, e: E.Expr) -> str:
        """𝟏 or 𝟏ᵀ inside a matrix product, where the neighbouring factor gives its length."""
        if e.shape[0] == 1 and e.shape[1] != 1:
            return msup(self._ones(), mi("T"))
        return self._ones()

    def _print_Zero(self, e: E.Expr) -> tuple[str, int]:
        return (mn("0") if e.is_scalar else mi(styled("0", "BOLD"))), ATOM

    # -- compounds ------------------------------------------------------------------------------

    def _print_Add(self, e: E.Expr) -> tuple[str, int]:
        parts: list[str] = []
        for i, term in enumerate(e.children):
            if isinstance(term, E.Scale) and E.is_negative(term.coef):
                parts += [mo(MINUS), self._term(E.scale(-term.coef, term.arg))]
            else:
                parts += ([mo("+")] if i else []) + [self._term(term)]
        return mrow(*parts), ADD

    def _term(self, term: E.Expr) -> str:
        if isinstance(term, E.Ones):
            return mn("1")  # 1 − h: the ones vector reads as 1 in a sum
        return self.emit(term, NEG)

    def _print_Scale(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Scale)
        c = e.coef
        if c == -1:
            return mrow(mo(MINUS), self.emit(e.arg, PRODUCT)), NEG
        body = mrow(number_mathml(c), mo(INVISIBLE_TIMES), self.emit(e.arg, PRODUCT))
        if c.is_number and c < 0 and not (isinstance(e.arg, E.Ones) and not e.is_scalar):
            return body, NEG
        return body, PRODUCT

    def _print_MatMul(self, e: E.Expr) -> tuple[str, int]:
        children = e.children
        factors = [
            self._ones_in_product(f)
            if isinstance(f, E.Ones) and length_shown_by_neighbour(children, i)
            else self.emit(f, PRODUCT + 1 if isinstance(f, E.Hadamard) else PRODUCT)
            for i, f in enumerate(children)
        ]
        return mrow(*_between(factors, mo(INVISIBLE_TIMES))), PRODUCT

    def _print_AxisSum(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.AxisSum)
        (arg,) = e.children
        inner = self.emit(arg, PRODUCT + 1 if isinstance(arg, E.Hadamard) else PRODUCT)
        if e.axis == 1:
            return mrow(inner, mo(INVISIBLE_TIMES), self._ones()), PRODUCT
        return mrow(msup(self._ones(), mi("T")), mo(INVISIBLE_TIMES), inner), PRODUCT

    def _print_Variance(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("V", e.children[0]), ATOM

    def _print_Standardize(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Standardize)
        hat = self.standardized.get(e)
        if hat is not None:
            return name_mathml(hat), POSTFIX
        return self.standardize_definition(e), ATOM

    def standardize_definition(self, e: E.Standardize) -> str:
        whole = self.doprint(e.arg)
        mean = mrow(mi("E"), fenced("[", "]", whole))
        var = mrow(mi("V"), mo(APPLY_FUNCTION), fenced("(", ")", whole))
        top = mrow(self.emit(e.arg, ADD), mo(MINUS), mean)
        bottom = f"<msqrt>{mrow(var, mo('+'), number_mathml(e.eps))}</msqrt>"
        return mfrac(top, bottom)

    def _print_Hadamard(self, e: E.Expr) -> tuple[str, int]:
        if e.is_scalar:  # a product of scalars, y/p over its denominator as in derive.latex
            top, bottom = over(e.children)
            if bottom:
                num = [self.doprint(top[0])] if len(top) == 1 else [
                    self.emit(f, PRODUCT) for f in top] or [mn("1")]  # fmt: skip
                den = [self.doprint(bottom[0])] if len(bottom) == 1 else [
                    self.emit(f, PRODUCT) for f in bottom]  # fmt: skip
                times = mo(INVISIBLE_TIMES)
                return mfrac(mrow(*_between(num, times)), mrow(*_between(den, times))), ATOM
            factors = [self.emit(f, PRODUCT) for f in e.children]
            return mrow(*_between(factors, mo(INVISIBLE_TIMES))), PRODUCT
        factors = [self.emit(f, POSTFIX) for f in e.children]
        return mrow(*_between(factors, mo("\u2299"))), HADAMARD

    def _print_ScalarMul(self, e: E.Expr) -> tuple[str, int]:
        s, a = e.children
        return mrow(self.emit(s, PRODUCT), mo(INVISIBLE_TIMES), self.emit(a, PRODUCT + 1)), PRODUCT

    def _print_Div(self, e: E.Expr) -> tuple[str, int]:
        num, den = e.children
        return mfrac(self.doprint(num), self.doprint(den)), ATOM

    def _print_Power(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Power)
        (base,) = e.children
        if e.exponent.is_number and e.exponent < 0 and base.is_scalar:
            inner = self.emit(E.power(base, -e.exponent), POSTFIX)
            return mfrac(mn("1"), inner), ATOM
        p = number_mathml(e.exponent)
        # elementwise powers of matrices, and reciprocals of anything not scalar (never an
        # inverse), carry the Hadamard mark: X^{∘2}, u^{∘−1}
        elementwise = 1 not in base.shape or (e.exponent < 0 and not base.is_scalar)
        exponent = mrow(mo("\u2218"), p) if elementwise else p
        return msup(self.emit(base, ATOM), exponent), POSTFIX

    def _print_Transpose(self, e: E.Expr) -> tuple[str, int]:
        return msup(self.emit(e.children[0], ATOM), mi("T")), POSTFIX

    def _print_Apply(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Apply)
        arg = self.doprint(e.children[0])
        act = ACTIVATIONS[e.fn]
        if act.latex_call:
            return _call_form(act.latex_call, arg), ATOM
        name = name_mathml(act.latex)
        if e.param is not None and e.param != act.param_value():
            name = msub(name, number_mathml(e.param))
        return mrow(name, mo(APPLY_FUNCTION), fenced("(", ")", arg)), ATOM

    def _print_Indicator(self, e: E.Expr) -> tuple[str, int]:
        assert isinstance(e, E.Indicator)
        rel = mo(">" if e.relation == ">" else "\u2264")
        inner = mrow(self.doprint(e.children[0]), rel, mn("0"))
        return mrow(mi(styled("1", "DOUBLE-STRUCK")), fenced("[", "]", inner)), ATOM

    def _print_SumAll(self, e: E.Expr) -> tuple[str, int]:
        (arg,) = e.children
        if isinstance(arg, E.Power) and arg.exponent == 2 and 1 in arg.shape:
            norm = fenced("\u2016", "\u2016", self.doprint(arg.children[0]))
            return msup(norm, mn("2")), POSTFIX
        return self._operator("sum", arg), ATOM

    def _operator(self, name: str, arg: E.Expr) -> str:
        return mrow(mi(name), mo(APPLY_FUNCTION), fenced("(", ")", self.doprint(arg)))

    def _print_Mean(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("mean", e.children[0]), ATOM

    def _print_Diag(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("diag", e.children[0]), ATOM

    def _print_Trace(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("tr", e.children[0]), ATOM

    def _print_Identity(self, e: E.Expr) -> tuple[str, int]:
        return mi("I"), ATOM

    def _print_Softmax(self, e: E.Expr) -> tuple[str, int]:
        return self._operator("softmax", e.children[0]), ATOM

    def _print_LogSoftmax(self, e: E.Expr) -> tuple[str, int]:
        softmax = self._operator("softmax", e.children[0])
        return mrow(mi("log"), mo(APPLY_FUNCTION), softmax), ATOM


# how an activation row's `latex_call` (a LaTeX template over {a}) reads in MathML
_CALL_FORMS: dict[str, Callable[[str], str]] = {
    r"\sqrt{{{a}}}": lambda arg: f"<msqrt>{arg}</msqrt>",
}


def _call_form(template: str, arg: str) -> str:
    form = _CALL_FORMS.get(template)
    if form is None:
        raise NotImplementedError(
            f"no MathML form for the activation call {template!r}: add it to mathml._CALL_FORMS"
        )
    return form(arg)


# -- documents: the rows of derive.display_rows as MathML --------------------------------------


def equation(lhs: str, rhs: str) -> str:
    return mrow(lhs, mo("="), rhs)


def equations_mathml(spec: Spec) -> list[str]:
    """Each forward equation as a <math> block: ŷ = W⁽²⁾z + b⁽²⁾."""
    p = MathmlPrinter.for_spec(spec)
    return [math(equation(lhs, rhs)) for lhs, rhs in rows.forward_rows(p, spec)]


def step_rows(deriv: Derivation, name: str) -> list[str]:
    """The right-hand sides of ∂J/∂name = … = … (`derive.document.rows`), without repeats."""
    return [text for _, text in rows.step_rows(MathmlPrinter.for_spec(deriv.spec), deriv, name)]


def where_rows(deriv: Derivation, name: str) -> list[str]:
    """The local factors and upstream gradients the steps use, each an equation with its note."""
    p = MathmlPrinter.for_spec(deriv.spec)
    return [equation(r.lhs, r.rhs) for r in rows.where_rows(p, deriv, name)]
