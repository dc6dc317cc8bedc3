"""MathML Core printer for matrix expressions: what the LaTeX printer prints, for a browser.

The layout is the LaTeX printer's (`derive.layout`: one `_print_<Class>` method per node, the
same binding strengths and parentheses) and this module gives MathML's tokens, so a page shows
(W⁽²⁾)ᵀ, ŷ, ⊙, fractions, 𝟏_B and σ′(…) as the LaTeX report does, rendered natively by the
browser (no script, no font download). Names arrive as the spec's LaTeX (`W^{(2)}`, `\\hat{y}`,
`\\mathcal{J}(W)`) and are translated by a small reader of the name grammar (`name_mathml`);
whatever it does not know is shown as text. Every character that comes from a spec or an answer
is escaped for XML, so the markup can go into HTML as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from html import escape as _escape

import sympy

from derive import display_rows as rows
from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.chain_rule import Derivation
from derive.greek import LETTERS
from derive.latex import number_latex, standardized_names
from derive.layout import Layout
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


class MathmlPrinter(Layout):
    """Prints expressions with the spec's names; `names` maps ascii names to LaTeX names. The
    layout is `derive.layout.Layout`'s, the LaTeX printer's; this class gives MathML's tokens."""

    WHAT = "MathML form"
    ONE, ZERO, ONES, ZEROS = mn("1"), mn("0"), mi(styled("1", "BOLD")), mi(styled("0", "BOLD"))
    T, IDENTITY, ODOT, NORM = mi("T"), mi("I"), "\u2299", "\u2016"
    INDICATOR, GREATER, AT_MOST = mi(styled("1", "DOUBLE-STRUCK")), ">", "\u2264"

    @classmethod
    def for_spec(cls, spec: Spec) -> MathmlPrinter:
        return cls(spec.latex_of, spec.loss, standardized_names(spec))

    def name(self, name: str) -> str:
        """A name of the spec (ascii), shown by its LaTeX name."""
        return name_mathml(self.names(name))

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

    # -- MathML's tokens and how they combine (derive.layout.Layout) ---------------------------

    def number(self, value: sympy.Expr) -> str:
        return number_mathml(value)

    def latex_name(self, latex: str) -> str:
        return name_mathml(latex)

    def dim(self, dim: E.Dim) -> str:
        return name_mathml(str(dim))

    def partial(self, name: str) -> str:
        return mrow(mi("\u2202"), self.name(name))

    def fence(self, left: str, right: str, inner: str) -> str:
        return fenced(left, right, inner)

    def frac(self, num: str, den: str) -> str:
        return mfrac(num, den)

    def sqrt(self, inner: str) -> str:
        return f"<msqrt>{inner}</msqrt>"

    def sup(self, base: str, script: str) -> str:
        return msup(base, script)

    def sub(self, base: str, script: str) -> str:
        return msub(base, script)

    def subsup(self, base: str, sub: str, sup: str) -> str:
        return msubsup(base, sub, sup)

    def juxtapose(self, parts: list[str]) -> str:
        return mrow(*_between(parts, mo(INVISIBLE_TIMES)))

    def infix(self, parts: list[str], op: str) -> str:
        return mrow(*_between(parts, mo(op)))

    def signed(self, terms: list[tuple[bool, str]]) -> str:
        parts: list[str] = []
        for i, (minus, body) in enumerate(terms):
            if minus:
                parts += [mo(MINUS), body]
            else:
                parts += ([mo("+")] if i else []) + [body]
        return mrow(*parts)

    def negate(self, inner: str) -> str:
        return mrow(mo(MINUS), inner)

    def elementwise(self, exponent: str) -> str:
        return mrow(mo("\u2218"), exponent)

    def operator(self, name: str) -> str:
        return mi(name)

    def apply(self, function: str, arg: str) -> str:
        return mrow(function, mo(APPLY_FUNCTION), fenced("(", ")", arg))

    def bracketed(self, head: str, left: str, right: str, inner: str) -> str:
        return mrow(head, fenced(left, right, inner))

    def log(self, inner: str) -> str:
        return mrow(mi("log"), mo(APPLY_FUNCTION), inner)

    def call(self, template: str, arg: str) -> str:
        return _call_form(template, arg)


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
