"""Spec files: TOML in, a validated network out (dims, variables, forward equations as expressions).

Equations are read with Python's `ast` and a whitelist of node types, then interpreted into
`derive.expr` nodes with their shapes checked; user text never reaches eval, exec or sympify.
Every mistake raises `SpecError` with the file, the equation and what was expected.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.errors import GradproofError, SpecError, TooLargeError
from derive.greek import COMMANDS
from derive.limits import DEFAULT, Limits, read_bounded, toml_depth
from derive.losses import LOSSES

ROLES = ("input", "target", "param")
REDUCTIONS = ("sum", "mean")  # of all entries, or along one axis with axis=0|1
NORMALIZATIONS = ("standardize", "batchnorm")  # per row over the batch columns
DEFAULT_EPS = sympy.Rational(1, 10**5)  # added to the variance when the spec gives no eps


COLUMN_FUNCTIONS = ("softmax", "log_softmax")  # per column of a [k x B] batch


def functions() -> tuple[str, ...]:
    """What a spec may call: the activation table as it is now, the reductions, softmax and
    log-softmax, the classification losses and the normalizations."""
    return (*ACTIVATIONS, *REDUCTIONS, *COLUMN_FUNCTIONS, *LOSSES, *NORMALIZATIONS)


TOP_LEVEL_KEYS = {"title", "description", "dims", "vars", "forward", "aliases"}
# [aliases]: a name the notes use for a gradient, as `delta2 = "dL/da2"` (the loss over a name)
ALIAS_FORM = re.compile(r"d([A-Za-z_][A-Za-z0-9_]*)\s*/\s*d([A-Za-z_][A-Za-z0-9_]*)")
VAR_KEYS = {"shape", "role", "latex", "range", "values"}
# what a target's entries are: any real numbers, or columns that sum to 1
VALUES = ("real", "onehot", "probabilities")
MAX_EQUATION_CHARS = 2_000
MAX_NESTING = 64
MAX_DIM = 1_000_000
RANGE_MIN, RANGE_MAX = 1e-150, 1e150  # see range_problem

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
# The grammar of a `latex` name, by command: a symbol stands alone, an accent or a font takes one
# argument. Nothing else is accepted, so no TeX primitive (\input, \write18, \csname, \def, ^^
# character codes, catcode changes) can reach a document; every command here is in amsmath or
# amssymb, which the LaTeX document loads.
_LATEX_SYMBOLS = {
    *COMMANDS, "ell", "prime", "top", "intercal",
}  # fmt: skip
_LATEX_ACCENTS = {
    "hat", "widehat", "bar", "overline", "tilde", "widetilde", "vec", "dot", "ddot", "check",
}  # fmt: skip
_LATEX_FONTS = {
    "mathbf", "boldsymbol", "mathcal", "mathrm", "mathit", "mathsf", "mathbb", "operatorname",
}  # fmt: skip
_LATEX_COMMANDS = _LATEX_SYMBOLS | _LATEX_ACCENTS | _LATEX_FONTS
_LATEX_PUNCTUATION = set("()[],.+-*|'")
MAX_LATEX_CHARS = 80
_LATEX_EXPECTED = (
    "expected a math name: letters, digits, ( ) [ ] , . + - * | ', braces, ^ or _ followed by "
    "{...} or one letter, digit or command, and the commands: accents (\\hat, \\bar, \\tilde, "
    "\\vec, ...), fonts (\\mathbf, \\mathrm, \\mathcal, ...), Greek letters, \\ell, \\prime, \\top"
)
_ACCENTS = {"hat": r"\hat", "bar": r"\bar", "tilde": r"\tilde", "dot": r"\dot", "vec": r"\vec"}


@dataclass(frozen=True)
class Variable:
    """A declared variable: an input, a target or a parameter."""

    name: str
    shape: E.Shape
    role: str
    latex: str
    value_range: tuple[float, float] | None = None
    values: str = "real"  # "onehot" or "probabilities": each column sums to 1 (a target)


@dataclass(frozen=True)
class Equation:
    """One forward equation `name = expr` with its LaTeX name and its source text."""

    name: str
    expr: E.Expr
    latex: str
    source: str


@dataclass(frozen=True)
class Spec:
    """A validated network: the single input every command reads."""

    title: str
    description: str
    source: str
    dims: dict[str, int]
    variables: dict[str, Variable]
    equations: tuple[Equation, ...]
    warnings: tuple[str, ...] = field(default=())
    # alias -> the name whose gradient it stands for (delta2 -> a2, from `delta2 = "dJ/da2"`)
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def loss(self) -> str:
        return self.equations[-1].name

    @property
    def params(self) -> list[str]:
        return [v.name for v in self.variables.values() if v.role == "param"]

    @property
    def intermediates(self) -> list[str]:
        return [eq.name for eq in self.equations]

    def definitions(self) -> dict[str, E.Expr]:
        """Each intermediate in terms of the variables alone (earlier equations substituted)."""
        out: dict[str, E.Expr] = {}
        for eq in self.equations:
            out[eq.name] = E.substitute_vars(eq.expr, out)
        return out

    def names(self) -> list[str]:
        """Every name: variables in file order, then intermediates in order."""
        return [*self.variables, *self.intermediates]

    def shape_of(self, name: str) -> E.Shape:
        if name in self.variables:
            return self.variables[name].shape
        return self.equation(name).expr.shape

    def latex_of(self, name: str) -> str:
        if name in self.variables:
            return self.variables[name].latex
        return self.equation(name).latex

    def role_of(self, name: str) -> str:
        if name in self.variables:
            return self.variables[name].role
        return "loss" if name == self.loss else "intermediate"

    def equation(self, name: str) -> Equation:
        index: dict[str, Equation] | None = self.__dict__.get("_equation_index")
        if index is None:  # built once: the printers ask for every name's LaTeX many times
            index = {eq.name: eq for eq in self.equations}
            object.__setattr__(self, "_equation_index", index)
        return index[name]

    def var(self, name: str) -> E.Var:
        return E.Var(name, self.shape_of(name))

    def dim_values(self) -> dict[str, int]:
        return dict(self.dims)


def default_latex(name: str) -> str:
    """A textbook rendering of an ascii name: W1 -> W_{1}, yhat -> \\hat{y}, gamma -> \\gamma."""
    if name in COMMANDS:
        return "\\" + name
    for suffix, accent in _ACCENTS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return f"{accent}{{{default_latex(name[: -len(suffix)])}}}"
    m = re.fullmatch(r"([A-Za-z]+)_?([0-9]+)", name)
    if m:
        return f"{default_latex(m.group(1))}_{{{m.group(2)}}}"
    if "_" in name:
        base, _, sub = name.partition("_")
        sub = "_".join(part for part in sub.split("_") if part)  # x__ or a_b_: no empty script
        shown = default_latex(base)
        if not sub:
            return shown
        # a1_b: {a_{1}}_{b}, since a_{1}_{b} is TeX's "double subscript" error
        return f"{{{shown}}}_{{{sub}}}" if "_" in shown else f"{shown}_{{{sub}}}"
    if len(name) == 1:
        return name
    return rf"\mathrm{{{name}}}"


def range_problem(lo: float, hi: float) -> str | None:
    """Why [lo, hi] cannot be a variable's range of random values, or None if it can.

    Each end is 0 or has a magnitude in [RANGE_MIN, RANGE_MAX] = [1e-150, 1e150]: then the square,
    the product of two values and the reciprocal of any nonzero end stay within float64's normal
    numbers (about 2.2e-308 to 1.8e308), so a forward pass does not overflow or fall into
    subnormals just because of the range. lo == hi makes the variable a constant (a ones-vector).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "expected finite numbers"
    if lo > hi:
        return "expected low <= high (low == high for a constant)"
    for end in (lo, hi):
        if end != 0 and not RANGE_MIN <= abs(end) <= RANGE_MAX:
            return (
                f"each end must be 0 or between {RANGE_MIN:g} and {RANGE_MAX:g} in magnitude, "
                f"so that squares and reciprocals stay within float64; got {end:g}"
            )
    return None


def check_latex_name(text: str) -> str | None:
    """Why a spec's `latex` value is not a math name by the grammar above, or None if it is."""
    if not text.strip():
        return "it is empty"
    if len(text) > MAX_LATEX_CHARS:
        return f"it is {len(text)} characters long (at most {MAX_LATEX_CHARS})"
    try:
        _LatexNameReader(text).read()
    except _NotAName as exc:
        return f"at character {exc.position + 1}, {exc.reason}; {_LATEX_EXPECTED}"
    return None


class _NotAName(Exception):
    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


class _LatexNameReader:
    """Recursive descent over a `latex` name (at most 80 characters, so the depth is bounded).

    name   := item*                      item := nucleus | script
    nucleus:= letter | digit | punctuation | {name} | \\symbol | \\accent arg | \\font arg
    script := ^ arg | _ arg              (at most one of each after a nucleus)
    arg    := {name} | letter | digit | \\symbol
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def fail(self, reason: str, at: int | None = None) -> _NotAName:
        return _NotAName(self.i if at is None else at, reason)

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def read(self) -> None:
        self.sequence(closed_by=None)

    def sequence(self, closed_by: int | None) -> None:
        """Items up to the end of the text, or up to the } that closes the { at closed_by."""
        scripts: set[str] = set()
        while True:
            self.skip_spaces()
            ch = self.peek()
            if not ch:
                if closed_by is not None:
                    raise self.fail("this { is never closed: its braces do not balance", closed_by)
                return
            if ch == "}":
                if closed_by is None:
                    raise self.fail("this } closes nothing: its braces do not balance")
                self.i += 1
                return
            if ch in "^_":
                if ch in scripts:
                    what = "superscript" if ch == "^" else "subscript"
                    raise self.fail(f"a second {what} {ch} on the same symbol")
                scripts.add(ch)
                self.i += 1
                self.argument(after=ch)
                continue
            scripts = set()
            self.nucleus()

    def nucleus(self) -> None:
        ch = self.peek()
        if ch.isascii() and (ch.isalnum() or ch in _LATEX_PUNCTUATION):
            self.i += 1
        elif ch == "{":
            self.i += 1
            self.sequence(closed_by=self.i - 1)
        elif ch == "\\":
            start = self.i
            name = self.command()
            if name in _LATEX_ACCENTS or name in _LATEX_FONTS:
                self.argument(after="\\" + name, at=start)
        else:
            raise self.fail(self.describe(ch))

    def argument(self, after: str, at: int | None = None) -> None:
        """What ^, _, an accent or a font applies to: a braced group or one token."""
        self.skip_spaces()
        ch = self.peek()
        if ch == "{":
            self.i += 1
            self.sequence(closed_by=self.i - 1)
        elif ch.isascii() and ch.isalnum():
            self.i += 1
        elif ch == "\\":
            start = self.i
            name = self.command()
            if name not in _LATEX_SYMBOLS:
                raise self.fail(f"\\{name} cannot follow {after} without braces", start)
        elif ch == "^" and self.text[self.i - 1] == "^":
            raise self.fail("^^ is TeX's character-code escape", self.i - 1)
        else:
            got = "nothing" if not ch else repr(ch)
            raise self.fail(f"{after} is followed by {got}, not by {{...}} or one symbol", at)

    def command(self) -> str:
        """A backslash command's name (self.i at the backslash), checked against the whitelist."""
        start = self.i
        self.i += 1
        while self.peek().isascii() and self.peek().isalpha():
            self.i += 1
        name = self.text[start + 1 : self.i]
        if not name:
            following = self.peek()
            shown = repr("\\" + following) if following else "a lone backslash"
            raise self.fail(f"{shown} is not one of the math-name commands allowed", start)
        if name not in _LATEX_COMMANDS:
            raise self.fail(
                f"the command \\{name} is not one of the math-name commands allowed", start
            )
        return name

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.i += 1

    @staticmethod
    def describe(ch: str) -> str:
        if ch in "%#&~$":
            return f"{ch!r} is not allowed in a math name (TeX reads it as markup)"
        if not ch.isascii():
            words = unicodedata.name(ch, "").split(" ")
            command = words[-1].lower()
            command = command.capitalize() if "CAPITAL" in words else command
            hint = f" (write \\{command})" if command in _LATEX_SYMBOLS else ""
            return f"the non-ASCII character {ch!r} is not allowed in a math name{hint}"
        if not ch.isprintable():
            return f"the control character {ch!r} is not allowed in a math name"
        return f"{ch!r} is not allowed in a math name"


def load_spec(path: str | Path, limits: Limits = DEFAULT) -> Spec:
    """Read and validate a spec file (its size checked before it is read)."""
    source = str(path)
    try:
        raw = read_bounded(path, limits.file_bytes, "the spec file", limits, "file_bytes")
    except TooLargeError:
        raise
    except GradproofError as exc:
        if "is a directory" in exc.message:
            raise SpecError(source, "is a directory, expected a .toml spec file") from None
        raise SpecError(source, exc.message.removeprefix(f"{source}: ")) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(source, f"is not UTF-8 text (byte {exc.start})") from None
    return parse_spec(text, source, limits)


def parse_spec(text: str, source: str = "<spec>", limits: Limits = DEFAULT) -> Spec:
    """Validate a spec given as TOML text."""
    if len(text) > limits.file_bytes:
        raise limits.too_large(
            "file_bytes", f"the spec {source} is {len(text)} characters", len(text)
        )
    depth = toml_depth(text, limits.toml_depth)
    if depth > limits.toml_depth:
        raise limits.too_large(
            "toml_depth", f"the spec {source} nests brackets {depth}+ deep", depth
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(source, f"is not valid TOML: {exc}") from None
    return spec_from_dict(data, source, limits)


def spec_from_dict(
    data: Mapping[str, Any], source: str = "<spec>", limits: Limits = DEFAULT
) -> Spec:
    """Validate a spec given as the dictionary its TOML loads to (to build networks in code)."""
    return _SpecReader(source, limits).read(data)


class _SpecReader:
    def __init__(self, source: str, limits: Limits = DEFAULT) -> None:
        self.source = source
        self.limits = limits
        self.warnings: list[str] = []

    def fail(self, message: str, where: str | None = None) -> SpecError:
        return SpecError(self.source, message, where)

    def read(self, data: Mapping[str, Any]) -> Spec:
        if not isinstance(data, Mapping):
            raise self.fail("expected a table at the top level")
        unknown = sorted(set(data) - TOP_LEVEL_KEYS)
        if unknown:
            raise self.fail(
                f"unknown top-level key {unknown[0]!r}; expected only "
                + ", ".join(sorted(TOP_LEVEL_KEYS))
            )
        title = self._text(data.get("title", ""), "title")
        description = self._text(data.get("description", ""), "description")
        dims = self._dims(data.get("dims", {}))
        variables = self._vars(data.get("vars"), dims)
        equations = self._forward(data.get("forward"), dims, variables)
        self._check_usage(variables, equations)
        aliases = self._aliases(data.get("aliases", {}), variables, equations)
        return Spec(
            title=title or Path(self.source).stem,
            description=description,
            source=self.source,
            dims=dims,
            variables=variables,
            equations=tuple(equations),
            warnings=tuple(self.warnings),
            aliases=aliases,
        )

    def _aliases(
        self, table: Any, variables: Mapping[str, Any], equations: list[Equation]
    ) -> dict[str, str]:
        if not isinstance(table, Mapping):
            raise self.fail(f"[aliases] must be a table, got {type(table).__name__}")
        loss = equations[-1].name
        names = set(variables) | {eq.name for eq in equations}
        out: dict[str, str] = {}
        for alias, target in table.items():
            where = f"aliases.{alias}"
            self._name(alias, "an alias")
            if alias in names:
                raise self.fail(f"the alias {alias!r} is already a name of the spec", where)
            m = ALIAS_FORM.fullmatch(target.strip()) if isinstance(target, str) else None
            if m is None:
                raise self.fail(
                    f"expected a gradient as \"d{loss}/dNAME\", got {target!r}", where
                )
            if m.group(1) != loss:
                got = m.group(1)
                raise self.fail(f"the gradient must be of the loss {loss!r}, got {got!r}", where)
            if m.group(2) not in names or m.group(2) == loss:
                raise self.fail(f"unknown name {m.group(2)!r} in the alias", where)
            out[alias] = m.group(2)
        return out

    def _text(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a string, got {type(value).__name__}")
        if len(value) > 2_000:
            raise self.fail(f"{key} is {len(value)} characters long (at most 2000)")
        # control characters (NUL, escape sequences for a terminal, ...) have no place in a
        # title; a description may run over several lines. Printers escape the rest.
        allowed = "\t\n\r" if key == "description" else ""
        for i, ch in enumerate(value):
            if ch not in allowed and unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
                raise self.fail(
                    f"{key} has the control character {ch!r} at character {i + 1}; expected "
                    + ("text (tabs and newlines allowed)" if allowed else "one line of text")
                )
        return value

    def _name(self, name: str, what: str) -> None:
        if not _IDENT.fullmatch(name):  # not match: its $ also matches before a final newline
            raise self.fail(
                f"{what} name {name[:40]!r} is not a plain identifier "
                "(a letter, then letters, digits or _; at most 40 characters)"
            )
        if keyword.iskeyword(name) or name in functions() or name == "T":
            raise self.fail(f"{what} name {name!r} is reserved (a Python keyword, a function or T)")

    def _section(
        self, raw: Any, section: str, limit: str, refusal: str, empty: bool = False
    ) -> Mapping[str, Any]:
        """A top-level table of the spec ([dims], [vars], [forward]): refused with `refusal`
        when it is not a table (or is empty, unless `empty`), and bounded by the limit `limit`
        on its number of entries."""
        if not isinstance(raw, Mapping) or not (raw or empty):
            raise self.fail(refusal)
        if len(raw) > getattr(self.limits, limit):
            what = f"{section} of {self.source} has {len(raw)}"
            raise self.limits.too_large(limit, what, len(raw))
        return raw

    def _dims(self, raw: Any) -> dict[str, int]:
        raw = self._section(
            raw, "[dims]", "dims", "[dims] must be a table of name = positive integer", empty=True
        )
        dims: dict[str, int] = {}
        for name, value in raw.items():
            self._name(name, "dim")
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIM:
                raise self.fail(
                    f"dim {name} = {value!r}; expected a positive integer up to {MAX_DIM}", "[dims]"
                )
            dims[name] = value
        return dims

    def _vars(self, raw: Any, dims: dict[str, int]) -> dict[str, Variable]:
        raw = self._section(
            raw, "[vars]", "variables", "[vars] is missing or empty; declare at least one variable"
        )
        out: dict[str, Variable] = {}
        for name, body in raw.items():
            self._name(name, "variable")
            where = f"[vars] {name}"
            if name in dims:
                raise self.fail(f"variable {name!r} has the same name as a dim", where)
            if not isinstance(body, Mapping):
                raise self.fail('expected a table like { shape = ["n", 1], role = "input" }', where)
            extra = sorted(set(body) - VAR_KEYS)
            if extra:
                raise self.fail(
                    f"unknown key {extra[0]!r}; expected shape, role, latex, range, values", where
                )
            if "shape" not in body:
                raise self.fail('no shape; expected shape = "scalar" or [rows, cols]', where)
            shape = self._shape(body["shape"], dims, where)
            role = body.get("role")
            if role not in ROLES:
                raise self.fail(f"role is {role!r}; expected one of {', '.join(ROLES)}", where)
            latex = self._latex(body.get("latex"), name, where)
            value_range = self._range(body.get("range"), where)
            values = self._values(body.get("values", "real"), role, value_range, where)
            out[name] = Variable(name, shape, role, latex, value_range, values)
        return out

    def _values(
        self, raw: Any, role: str, value_range: tuple[float, float] | None, where: str
    ) -> str:
        if raw not in VALUES:
            raise self.fail(f"values is {raw!r}; expected one of {', '.join(VALUES)}", where)
        if raw != "real" and role != "target":
            article = "an" if role == "input" else "a"
            raise self.fail(f'values = "{raw}" is for a target, not {article} {role}', where)
        if raw != "real" and value_range is not None:
            raise self.fail(f'values = "{raw}" fixes the range; drop range', where)
        return str(raw)

    def _shape(self, raw: Any, dims: dict[str, int], where: str) -> E.Shape:
        if raw == "scalar":
            return E.SCALAR
        if not isinstance(raw, list) or len(raw) != 2:
            raise self.fail(
                f'shape is {raw!r}; expected "scalar" or [rows, cols] of dim names and 1', where
            )
        out: list[E.Dim] = []
        for d in raw:
            if d == 1 and not isinstance(d, bool):
                out.append(1)
            elif isinstance(d, str) and d in dims:
                out.append(d)
            else:
                known = ", ".join(dims) or "none declared"
                raise self.fail(f"shape entry {d!r} is neither 1 nor a dim (dims: {known})", where)
        return (out[0], out[1])

    def _latex(self, raw: Any, name: str, where: str) -> str:
        if raw is None:
            return default_latex(name)
        if not isinstance(raw, str):
            raise self.fail(f"latex must be a string, got {type(raw).__name__}", where)
        why = check_latex_name(raw)
        if why:
            raise self.fail(f"latex {raw[:40]!r} is not accepted: {why}", where)
        return raw

    def _range(self, raw: Any, where: str) -> tuple[float, float] | None:
        if raw is None:
            return None
        numbers = (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
        )
        if not numbers:
            raise self.fail(f"range is {raw!r}; expected [low, high], two numbers", where)
        lo, hi = float(raw[0]), float(raw[1])
        why = range_problem(lo, hi)
        if why:
            raise self.fail(f"range is {raw!r}; {why}", where)
        return (lo, hi)

    def _forward(
        self, raw: Any, dims: dict[str, int], variables: dict[str, Variable]
    ) -> list[Equation]:
        raw = self._section(
            raw,
            "[forward]",
            "equations",
            "[forward] is missing or empty; the last equation is the loss",
        )
        shapes: dict[str, E.Shape] = {n: v.shape for n, v in variables.items()}
        equations: list[Equation] = []
        for name, body in raw.items():
            self._name(name, "equation")
            where = f"equation {name!r}"
            if name in dims:
                raise self.fail(f"{name!r} is already a dim", where)
            if name in shapes:
                what = "variable" if name in variables else "equation"
                raise self.fail(f"{name!r} is already defined as a {what}", where)
            text: Any
            latex_raw: Any
            if isinstance(body, str):
                text, latex_raw = body, None
            elif isinstance(body, Mapping):
                extra = sorted(set(body) - {"expr", "latex"})
                if extra:
                    raise self.fail(f"unknown key {extra[0]!r}; expected expr and latex", where)
                text, latex_raw = body.get("expr"), body.get("latex")
                if not isinstance(text, str):
                    raise self.fail('expected expr = "..." (a string)', where)
            else:
                raise self.fail('expected a string or { expr = "...", latex = "..." }', where)
            node = _EquationReader(self, where, text, shapes, dims).read()
            shapes[name] = node.shape
            latex = self._latex(latex_raw, name, where)
            equations.append(Equation(name, node, latex, text))
        loss = equations[-1]
        if not loss.expr.is_scalar:
            raise self.fail(
                f"the last equation is the loss and must be a scalar (1x1); it has shape "
                f"{fmt_shape(loss.expr.shape)}",
                f"equation {loss.name!r}",
            )
        return equations

    def _check_usage(self, variables: dict[str, Variable], equations: list[Equation]) -> None:
        used: set[str] = set()
        for eq in equations:
            used |= E.names_in(eq.expr)
        for name, v in variables.items():
            if name not in used:
                self.warnings.append(f"{v.role} {name!r} is declared but never used")
        for eq in equations[:-1]:
            # a softmax beside the loss is the prediction ŷ: it names softmax(z) in gradients
            if eq.name not in used and not isinstance(eq.expr, E.Softmax):
                self.warnings.append(f"intermediate {eq.name!r} is computed but never used")


def fmt_shape(shape: E.Shape) -> str:
    return f"[{shape[0]} x {shape[1]}]"


_BINOPS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.MatMult: "@",
}


class _EquationReader:
    """Interprets one equation's Python-syntax text into an expression, checking every shape."""

    def __init__(
        self,
        spec: _SpecReader,
        where: str,
        text: str,
        shapes: dict[str, E.Shape],
        dims: dict[str, int],
    ) -> None:
        self.spec = spec
        self.where = where
        self.text = text
        self.shapes = shapes
        self.dims = dims

    def fail(self, message: str, node: ast.AST | None = None) -> SpecError:
        col = getattr(node, "col_offset", None)
        at = f" (at column {col + 1} of {self.text!r})" if col is not None else ""
        return self.spec.fail(message + at, self.where)

    def read(self) -> E.Expr:
        if len(self.text) > MAX_EQUATION_CHARS:
            raise self.fail(f"is {len(self.text)} characters long (at most {MAX_EQUATION_CHARS})")
        depth = 0
        for ch in self.text:
            depth += ch in "(["
            depth -= ch in ")]"
            if depth > MAX_NESTING:
                raise self.fail(f"nests brackets more than {MAX_NESTING} deep")
        if not self.text.strip():
            raise self.fail("is empty")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            col = f" at column {exc.offset}" if exc.offset else ""
            raise self.spec.fail(
                f"is not a valid expression{col}: {exc.msg} in {self.text!r}", self.where
            ) from None
        except (RecursionError, MemoryError):
            raise self.fail("is nested too deeply") from None
        try:
            return self.visit(tree.body, 0)
        except RecursionError:
            raise self.fail("is nested too deeply") from None

    def visit(self, node: ast.AST, depth: int) -> E.Expr:
        if depth > 4 * MAX_NESTING:
            raise self.fail("is nested too deeply", node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self.binop(node, depth)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.visit(node.operand, depth + 1)
            return E.neg(inner) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Name):
            if node.id in self.shapes:
                return E.Var(node.id, self.shapes[node.id])
            if node.id in self.dims:  # a dim is its size, kept as the symbol: sum(E**2) / B
                return E.Const(E.dim_symbol(node.id))
            raise self.fail(self.unknown(node.id), node)
        if isinstance(node, ast.Constant):
            return E.Const(self.number(node))
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.fail(
                    f"unknown attribute .{node.attr}; only .T (transpose) is allowed", node
                )
            return E.transpose(self.visit(node.value, depth + 1))
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise self.fail(f"{type(node).__name__} is not part of the expression language", node)

    def unknown(self, name: str) -> str:
        if name in functions():
            return f"{name!r} is a function; call it as {name}(...)"
        import difflib

        close = difflib.get_close_matches(name, list(self.shapes), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown name {name!r} (not a variable or an earlier equation){hint}"

    def number(self, node: ast.Constant) -> sympy.Expr:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(f"constant {v!r} is not a number", node)
        if isinstance(v, int):
            if abs(v) > 10**12:
                raise self.fail(f"constant {v} is too large (at most 1e12)", node)
            return sympy.Integer(v)
        if not math.isfinite(v) or abs(v) > 1e12:
            raise self.fail(f"constant {v!r} is not a finite number up to 1e12", node)
        if v.is_integer():
            return sympy.Integer(int(v))
        # exactly the decimal the spec wrote (0.5 is 1/2, 0.01 is 1/100), so that constants
        # cancel exactly (2 · 0.5 = 1) and print as a person wrote them; repr() is the shortest
        # decimal that reads back as the same float
        return sympy.Rational(repr(v))

    def binop(self, node: ast.BinOp, depth: int) -> E.Expr:
        op = _BINOPS[type(node.op)]
        if op == "**":
            base = self.visit(node.left, depth + 1)
            exponent = self.constant_exponent(node.right)
            if isinstance(base, E.Const | E.Zero):
                return self.constant(self.fold_power(base, exponent, node), node)
            if isinstance(base, E.Scale):
                self.check_power_size(base.coef, exponent, node)
            return self.constant(E.power(base, exponent), node)
        a = self.visit(node.left, depth + 1)
        b = self.visit(node.right, depth + 1)
        sa, sb = fmt_shape(a.shape), fmt_shape(b.shape)
        if op == "@":
            if a.shape[1] != b.shape[0]:
                raise self.fail(
                    f"cannot multiply {self.show(node.left)} {sa} @ {self.show(node.right)} {sb}: "
                    f"inner dims {a.shape[1]} and {b.shape[0]} differ",
                    node,
                )
            return E.matmul(a, b)
        if op in "+-":
            shape = E.broadcast_shape(a.shape, b.shape)
            if shape is None:
                raise self.fail(
                    f"cannot {'add' if op == '+' else 'subtract'} {self.show(node.left)} {sa} and "
                    f"{self.show(node.right)} {sb}: shapes must match, or one must be a scalar, "
                    "a column [r x 1] beside [r x c], or a row [1 x c] beside [r x c]",
                    node,
                )
            return E.add(a, b if op == "+" else E.neg(b), shape=shape)
        shape = E.broadcast_shape(a.shape, b.shape)
        if shape is None:
            what = "multiply elementwise" if op == "*" else "divide"
            raise self.fail(
                f"cannot {what} {self.show(node.left)} {sa} {op} {self.show(node.right)} {sb}: "
                f"{op} needs equal shapes, a scalar, a column [r x 1] beside [r x c], or a row "
                "[1 x c] beside [r x c]" + (" (use @ for a matrix product)" if op == "*" else ""),
                node,
            )
        if op == "*":
            if a.is_scalar:
                return self.constant(E.smul(a, b), node)
            if b.is_scalar:
                return self.constant(E.smul(b, a), node)
            return E.hadamard(a, b)
        if isinstance(b, E.Zero) or (isinstance(b, E.Const) and b.value == 0):
            raise self.fail("division by zero", node)
        if b.is_scalar:
            return self.constant(E.div(a, b), node)
        # elementwise by a matrix, a column or a row: a ⊙ b^{∘−1}, as the answers read a/b
        return E.hadamard(a, E.power(b, -1))

    def fold_power(self, base: E.Expr, p: sympy.Expr, node: ast.AST) -> E.Expr:
        """A constant to a constant power, refused before it is computed if it is absurd."""
        value = base.value if isinstance(base, E.Const) else sympy.Integer(0)
        if value == 0 and p < 0:
            raise self.fail("0 to a negative power (division by zero)", node)
        self.check_power_size(value, p, node)
        return E.power(E.Const(value), p)

    def check_power_size(self, value: sympy.Expr, p: sympy.Expr, node: ast.AST) -> None:
        """Refuse c**p when it would lie outside [1e-12, 1e12] in magnitude (c a number)."""
        if value == 0 or not value.is_number or abs(value) == 1:
            return
        magnitude = float((abs(p) * sympy.log(abs(value), 10)).evalf(15))
        if abs(magnitude) > 12:
            raise self.fail(
                f"the constant ({value})**{p} is beyond 1e12 (or below 1e-12) in magnitude", node
            )

    def constant(self, e: E.Expr, node: ast.AST) -> E.Expr:
        """e itself, unless it carries a constant that is not a finite number in [1e-12, 1e12]."""
        v = e.value if isinstance(e, E.Const) else e.coef if isinstance(e, E.Scale) else None
        if v is None or not v.is_number or v == 0:
            return e
        if not v.is_finite or not 1e-12 <= abs(v) <= 1e12:
            raise self.fail(f"the constant {v} is not a finite number in [1e-12, 1e12]", node)
        return e

    def constant_exponent(self, node: ast.AST) -> sympy.Expr:
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            sign, node = -1, node.operand
        if isinstance(node, ast.Constant):
            value = self.number(node)
            if abs(value) > 64:
                raise self.fail(f"exponent {sign * value} is too large (at most 64)", node)
            return sign * value
        raise self.fail("the exponent of ** must be a number", node)

    def call(self, node: ast.Call, depth: int) -> E.Expr:
        if not isinstance(node.func, ast.Name):
            called = ast.get_source_segment(self.text.strip(), node.func) or "an expression"
            raise self.fail(
                f"unknown function {called[:60]!r}: only the functions "
                f"{', '.join(functions())} can be called, by name",
                node,
            )
        if node.func.id not in functions():
            raise self.fail(
                f"unknown function {node.func.id!r}; expected one of {', '.join(functions())}", node
            )
        fn = node.func.id
        axis = self.axis_keyword(fn, node)
        if fn in NORMALIZATIONS:
            return self.normalization(fn, node, depth)
        nargs = len(node.args)
        if fn in LOSSES:
            return self.loss_call(fn, node, depth)
        act = ACTIVATIONS.get(fn)
        if act is not None and act.param_range is not None and nargs == 2:
            param = node.args[1]
            if not isinstance(param, ast.Constant):
                raise self.fail(
                    f"{fn}'s parameter must be a number, as in {fn}(a, {act.default_param})", node
                )
            value = self.number(param)
            low, high = act.param_range
            if not low <= value < high:
                raise self.fail(f"{fn}'s parameter {value} must be in [{low:g}, {high:g})", node)
            arg = self.visit(node.args[0], depth + 1)
            return E.Apply(fn, arg, value)
        if nargs != 1:
            two = act is not None and act.param_range is not None
            takes = "one or two arguments" if two else "one argument"
            raise self.fail(f"{fn}() takes {takes}, got {nargs}", node)
        arg = self.visit(node.args[0], depth + 1)
        if fn == "softmax":
            return E.Softmax(arg)
        if fn == "log_softmax":
            return E.LogSoftmax(arg)
        if fn == "sum":
            return E.sum_all(arg) if axis is None else E.axis_sum(arg, axis)
        if fn == "mean":
            return E.mean(arg) if axis is None else E.axis_mean(arg, axis)
        assert act is not None
        if act.default_param is not None:
            return E.Apply(fn, arg, act.param_value())
        return E.Apply(fn, arg)

    def axis_keyword(self, fn: str, node: ast.Call) -> int | None:
        """The axis= of sum and mean: 0 down each column (gives a row), 1 along each row (a
        column)."""
        if not node.keywords:
            return None
        if fn not in REDUCTIONS:
            raise self.fail(f"{fn}() takes no keyword arguments", node)
        if len(node.keywords) != 1 or node.keywords[0].arg != "axis":
            given = ", ".join(f"{k.arg}=" if k.arg else "**" for k in node.keywords)
            raise self.fail(f"{fn}() takes one keyword, axis=0 or axis=1; got {given}", node)
        value = node.keywords[0].value
        axis = value.value if isinstance(value, ast.Constant) else None
        if isinstance(axis, bool) or axis not in (0, 1):
            raise self.fail(f"{fn}(..., axis=) must be 0 or 1, got {self.show(value)!r}", node)
        assert isinstance(axis, int)
        return axis

    def normalization(self, fn: str, node: ast.Call, depth: int) -> E.Expr:
        """standardize(Z, eps): each row of Z standardized over its columns; batchnorm(Z, gamma,
        beta, eps) = gamma ⊙ standardize(Z, eps) + beta, gamma and beta columns [rows of Z x 1]
        (or scalars). eps, a positive number, defaults to 1e-5."""
        tensors = 1 if fn == "standardize" else 3
        usage = "standardize(Z, eps)" if fn == "standardize" else "batchnorm(Z, gamma, beta, eps)"
        nargs = len(node.args)
        if not tensors <= nargs <= tensors + 1:
            raise self.fail(
                f"{fn}() takes {tensors} or {tensors + 1} arguments, got {nargs}: {usage}", node
            )
        eps = DEFAULT_EPS
        if nargs == tensors + 1:
            raw = node.args[tensors]
            if not isinstance(raw, ast.Constant):
                raise self.fail(f"{fn}'s eps must be a number, as in {usage}", node)
            eps = self.number(raw)
            if not eps > 0:
                raise self.fail(f"{fn}'s eps must be positive, got {eps}", node)
        z = self.visit(node.args[0], depth + 1)
        hat = E.Standardize(z, eps)
        if fn == "standardize":
            return hat
        gamma = self.visit(node.args[1], depth + 1)
        beta = self.visit(node.args[2], depth + 1)
        rows = z.shape[0]
        for what, value, raw_arg in (("gamma", gamma, node.args[1]), ("beta", beta, node.args[2])):
            if value.shape not in ((rows, 1), E.SCALAR):
                raise self.fail(
                    f"batchnorm's {what} {self.show(raw_arg)} has shape {fmt_shape(value.shape)}; "
                    f"expected [{rows} x 1] (one per row of {self.show(node.args[0])}) or a scalar",
                    node,
                )
        scaled = E.smul(gamma, hat) if gamma.is_scalar else E.hadamard(gamma, hat)
        return E.add(scaled, beta, shape=z.shape)

    def loss_call(self, fn: str, node: ast.Call, depth: int) -> E.Expr:
        first = LOSSES[fn].first
        if len(node.args) != 2:
            raise self.fail(f"{fn}() takes two arguments ({first}, target), got "
                            f"{len(node.args)}", node)  # fmt: skip
        a = self.visit(node.args[0], depth + 1)
        y = self.visit(node.args[1], depth + 1)
        if a.shape != y.shape:
            raise self.fail(
                f"{fn}({self.show(node.args[0])}, {self.show(node.args[1])}): the {first} "
                f"{fmt_shape(a.shape)} and the target {fmt_shape(y.shape)} must have one shape",
                node,
            )
        return LOSSES[fn].build(a, y)

    def show(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text.strip(), node) or type(node).__name__
