"""A LaTeX reader that keeps matrix meaning: a precedence-climbing parser over the spec's shapes.

Grammar, loosest binding first (juxtaposition and \\cdot are the matrix product, order kept):

    answer    := [lhs '='] ... '=' sum              (only the first and last parts are read)
    sum       := ['+'|'-'] hadamard (('+'|'-') hadamard)*
    hadamard  := product (('\\odot'|'\\circ') product)*
    product   := unary (['\\cdot'|'\\times'|'*'] unary)*
    unary     := '-' unary | postfix
    postfix   := atom ('^' group)*                  (T, \\top, (2)T, a number)
    atom      := number | symbol | ( sum ) | [ sum ] | \\{ sum \\} | { sum } | \\frac{..}{..}
               | function [prime] ( sum ) | \\max(0, x) | \\mathbb{1}[x > 0] | \\|v\\|^2 | ...

The parser reads tokens as `derive.answers.normalize` leaves them (W^T_2 already W_{2}^{T}, xy
already x y), and never rewrites them. Every node is built with its shape checked against the spec,
so a product whose shapes do not conform is refused with both shapes and the place in the answer.
Nothing here evaluates user text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS, derivative_expr
from derive.answers.lexer import Token, tokenize
from derive.answers.names import ACCENTS, GREEK, WRAPPERS, Key, NameTable, key_of_ascii
from derive.answers.names import TRANSPOSE_MARKS as TRANSPOSE_MARKS  # the typing help shows them
from derive.answers.normalize import NoNames, normalize_tokens
from derive.chain_rule import Derivation
from derive.errors import AnswerError
from derive.latex import standardized_names
from derive.spec import fmt_shape

MAX_CHARS = 20_000
MAX_DEPTH = 150
MAX_EXPONENT = 64
SOFTMAX = ("softmax", "Softmax", "SoftMax")  # \operatorname{softmax}(z), per column
# hyperbolic functions that are no activation, read through exp: (e^u + e^-u) / 2, ...
HYPERBOLIC = {"cosh": (1, 1, False), "sinh": (1, -1, False), "sech": (1, 1, True)}
# the spellings of each function: from the activation table, plus the hyperbolic ones
def function_commands() -> dict[str, str]:
    """LaTeX command -> function, from the activation table as it is now."""
    return {c: a.name for a in ACTIVATIONS.values() for c in a.commands} | {
        h: h for h in HYPERBOLIC
    }


def operator_names() -> dict[str, str]:
    """\\operatorname{...} or bare word -> function, from the activation table as it is now."""
    return {w: a.name for a in ACTIVATIONS.values() for w in a.words} | {h: h for h in HYPERBOLIC}


@dataclass(frozen=True)
class _Identity:
    """I, sized by the product it stands in."""

    pos: int


@dataclass(frozen=True)
class _OnesVector:
    """\\mathbf{1} (or its transpose), sized by its neighbour in a product; 1 in a sum."""

    pos: int
    transposed: bool = False
    size: E.Dim | None = None  # \mathbf{1}_{B}: a length written out

    def sized(self, size: E.Dim) -> E.Ones:
        return E.Ones((1, size) if self.transposed else (size, 1))


@dataclass(frozen=True)
class _Derivative:
    """∂J/∂X or ∇_X J: the gradient of the loss with respect to a name."""

    wrt: str
    pos: int


Item = E.Expr | _Identity | _OnesVector | _Derivative


@dataclass
class Reading:
    """What the reader understood: the right-hand side, the name on the left, warnings."""

    expr: E.Expr
    lhs_wrt: str | None
    warnings: list[str] = field(default_factory=list)


class Reader:
    """Reads answers against one derivation (its spec's names and shapes, its gradients)."""

    def __init__(self, deriv: Derivation, lenient: bool = False) -> None:
        self.deriv = deriv
        self.spec = deriv.spec
        self.names = NameTable(self.spec)
        self.lenient = lenient
        # broadcasting a column over a matrix is read only where the spec itself does it
        self.broadcasts = any(
            isinstance(n, E.Standardize)
            or (
                isinstance(n, E.Add | E.Hadamard)
                and any(t.shape != n.shape and not t.is_scalar for t in n.children)
            )
            for eq in self.spec.equations
            for n in E.walk_nodes(eq.expr)
        )
        # \hat{Z} for the standardized Z of a batch norm, as the printers show it
        self.standardized: dict[Key, E.Expr] = {}
        for node, hat in standardized_names(self.spec).items():
            try:
                hat_key = _LatexKey(hat).key()
            except AnswerError:
                continue
            if hat_key is not None:
                self.standardized[hat_key] = node
        for name in self.spec.names():
            try:
                key = _LatexKey(self.spec.latex_of(name)).key()
            except AnswerError:
                continue
            if key is not None:
                self.names.add_latex_key(key, name)

    def read(self, text: str, zero_shape: E.Shape | None = None) -> Reading:
        """The answer's right-hand side as an expression; `0` or `\\mathbf{0}` alone is the zero
        matrix of `zero_shape` (the gradient's shape) when it is given."""
        if len(text) > MAX_CHARS:
            raise AnswerError(f"the answer is {len(text)} characters long (at most {MAX_CHARS})")
        depth = 0
        for i, ch in enumerate(text):
            depth += ch in "({["
            depth -= ch in ")}]"
            if depth > MAX_DEPTH:
                raise AnswerError(f"brackets nest more than {MAX_DEPTH} deep", i)
        tokens = tokenize(text)
        if len(tokens) == 1:
            raise AnswerError("the answer is empty")
        parts = _split_top_level(tokens, "=")
        warnings: list[str] = []
        lhs_wrt = None
        slash = _slash_derivative(parts[0]) if len(parts) > 1 else None
        if slash is not None:  # \partial J/\partial W = ... or dJ/dW = ...
            lhs_wrt = _Parser(self, parts[0], warnings).name_in(
                normalize_tokens(slash, self.names, "variable"), parts[0][0]
            )
        elif len(parts) > 1:
            lhs = _Parser(self, self.normalized(parts[0]), warnings).whole()
            if not isinstance(lhs, _Derivative):
                raise AnswerError(
                    "the left-hand side should be the gradient, as in "
                    r"\frac{\partial J}{\partial W} or \nabla_{W} J",
                    parts[0][0].pos,
                )
            lhs_wrt = lhs.wrt
        if zero_shape is not None and _is_zero(parts[-1]):
            return Reading(E.Zero(zero_shape), lhs_wrt, warnings)
        item = _Parser(self, self.normalized(parts[-1]), warnings).whole()
        expr = _resolve_alone(item, self)
        return Reading(expr, lhs_wrt, warnings)

    def normalized(self, tokens: list[Token]) -> list[Token]:
        """One side of the answer as the parser reads it: a word the spec names is kept whole."""
        return normalize_tokens(tokens, self.names)


def _is_zero(tokens: list[Token]) -> bool:
    """Whether the tokens are exactly 0, \\mathbf{0}, \\boldsymbol{0}, \\bm{0} or \\vec{0}."""
    body = [t for t in tokens if t.kind != "end"]
    if len(body) == 1:
        return body[0].kind == "num" and body[0].text == "0"
    return (
        len(body) == 4
        and body[0].is_cmd("mathbf", "boldsymbol", "bm", "vec")
        and body[1].is_sym("{")
        and body[2].kind == "num"
        and body[2].text == "0"
        and body[3].is_sym("}")
    )


def _split_top_level(tokens: list[Token], sym: str) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens[:-1]:
        if t.is_sym("(", "[", "{") or t.is_cmd("{"):
            depth += 1
        elif t.is_sym(")", "]", "}") or t.is_cmd("}"):
            depth -= 1
        if depth == 0 and t.is_sym(sym):
            parts.append([])
        else:
            parts[-1].append(t)
    end = tokens[-1]
    for p in parts:
        if not p:
            raise AnswerError(f"an empty side of '{sym}'", end.pos)
        p.append(Token("end", "", p[-1].pos + len(p[-1].text)))
    return parts


def _slash_derivative(lhs: list[Token]) -> list[Token] | None:
    """The variable's tokens in an inline derivative (\\partial J/\\partial W, dJ/dW), or None."""
    body = lhs[:-1]
    slashes = [k for k, t in enumerate(body) if t.is_sym("/")]
    if len(slashes) != 1:
        return None
    num, den = body[: slashes[0]], body[slashes[0] + 1 :]
    if not num or not den:
        return None
    if num[0].is_cmd("partial") and den[0].is_cmd("partial") and len(den) > 1:
        return den[1:]
    d_word = num[0].kind == "word" and num[0].text.startswith("d") and len(num[0].text) > 1
    if d_word and den[0].kind == "word" and den[0].text.startswith("d"):
        if len(den[0].text) > 1:
            return [Token("word", den[0].text[1:], den[0].pos + 1), *den[1:]]
        return den[1:] or None
    return None


def _resolve_alone(item: Item, reader: Reader) -> E.Expr:
    if isinstance(item, _Derivative):
        return reader.deriv[item.wrt].final
    if isinstance(item, _OnesVector):
        if item.size is not None:
            return item.sized(item.size)
        raise AnswerError(
            r"cannot tell the size of \mathbf{1} here",
            item.pos,
            r"write its length, as \mathbf{1}_{B}",
        )
    if isinstance(item, _Identity):
        raise AnswerError("cannot tell the size of I here", item.pos)
    return item


class _LatexKey:
    """Reads a spec's own `latex` name (W^{(2)}, \\hat{y}) into a key, with the answer's rules."""

    def __init__(self, latex: str) -> None:
        self.tokens = normalize_tokens(tokenize(latex), NoNames(), "argument")

    def key(self) -> Key | None:
        parser = _Parser(None, self.tokens, [])
        try:
            key, _, _ = parser.symbol_key()
            if parser.peek().is_sym("^"):  # a superscript that belongs to the name: \sigma^{2}
                parser.next()
                sup = _joined(parser.group_tokens())
                if sup not in TRANSPOSE_MARKS:
                    key = Key(key.base, key.index, key.accent, sup)
        except AnswerError:
            return None
        return key if parser.peek().kind == "end" else None


class _Parser:
    def __init__(self, reader: Reader | None, tokens: Sequence[Token], warnings: list[str]) -> None:
        self.reader = reader
        self.tokens = tuple(tokens)  # read, never rewritten: see derive.answers.normalize
        self.i = 0
        self.depth = 0
        self.warnings = warnings
        self.open_norms = 0  # norms being read, whose closing bar ends a product

    # -- token helpers ------------------------------------------------------------------------

    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def next(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def expect_sym(self, *texts: str) -> Token:
        t = self.next()
        if not t.is_sym(*texts):
            raise AnswerError(f"expected {' or '.join(texts)}, found {t.show()}", t.pos)
        return t

    def fail(self, message: str, t: Token | None = None, hint: str | None = None) -> AnswerError:
        return AnswerError(message, (t or self.peek()).pos, hint)

    def derivative(self, wrt: str, t: Token) -> _Derivative:
        """∂J/∂wrt, an upstream gradient; of the loss with respect to itself there is none."""
        if wrt == self.r.spec.loss:
            loss = self.r.spec.latex_of(wrt)
            raise self.fail(
                f"\\frac{{\\partial {loss}}}{{\\partial {loss}}} is the loss's derivative "
                "with respect to itself (1), not a gradient: name an intermediate or a parameter",
                t,
            )
        return _Derivative(wrt, t.pos)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the answer nests more than {MAX_DEPTH} levels deep")

    @property
    def r(self) -> Reader:
        assert self.reader is not None
        return self.reader

    def whole(self) -> Item:
        item = self.sum()
        t = self.peek()
        if t.kind != "end":
            raise self.fail(f"unexpected {t.show()}", t)
        return item

    # -- grammar ------------------------------------------------------------------------------

    def sum(self) -> Item:
        self.enter()
        sign = 1
        if self.peek().is_sym("-", "+"):
            sign = -1 if self.next().text == "-" else 1
        first = self.hadamard()
        terms: list[tuple[int, Item, Token]] = [(sign, first, self.tokens[self.i - 1])]
        while self.peek().is_sym("+", "-"):
            op = self.next()
            terms.append((-1 if op.text == "-" else 1, self.hadamard(), op))
        self.depth -= 1
        if len(terms) == 1 and sign == 1:
            return first
        exprs: list[E.Expr] = []
        shape: E.Shape | None = None
        square = next(
            (i.shape for _, i, _ in terms if isinstance(i, E.Expr) and i.shape[0] == i.shape[1]),
            None,
        )
        for s, item, tok in terms:
            if isinstance(item, _Identity):
                if square is None or square == E.SCALAR:
                    raise self.fail("cannot tell the size of I here", tok)
                item = E.Identity(square[0])
            e = self.as_expr(item, in_sum=True)
            if shape is not None:
                joined = E.broadcast_shape(shape, e.shape)
                broadcast = shape != e.shape and not (E.is_scalar(shape) or e.is_scalar)
                if joined is None or (broadcast and not self.r.broadcasts):
                    raise self.fail(f"cannot add {fmt_shape(shape)} and {fmt_shape(e.shape)}", tok)
                shape = joined
            else:
                shape = e.shape
            exprs.append(e if s > 0 else E.neg(e))
        return E.add(*exprs, shape=shape)

    def hadamard(self) -> Item:
        first = self.product()
        if self.peek().is_cmd("otimes"):
            raise self.fail(
                r"\otimes (an outer or Kronecker product) is not understood",
                hint=r"write \odot for the elementwise product, or x y^T for an outer product",
            )
        if not self.peek().is_cmd("odot", "circ"):
            return first
        factors = [self.as_expr(first)]
        while self.peek().is_cmd("odot", "circ"):
            op = self.next()
            right = self.as_expr(self.product())
            left = factors[-1]
            broadcast = self.r.broadcasts and E.broadcast_shape(left.shape, right.shape)
            if right.shape != left.shape and not (left.is_scalar or right.is_scalar or broadcast):
                raise self.fail(
                    f"the elementwise product needs equal shapes, got {fmt_shape(left.shape)} "
                    f"and {fmt_shape(right.shape)}",
                    op,
                )
            factors.append(right)
        out = factors[0]
        for f in factors[1:]:
            out = _times(out, f)
        return out

    def starts_factor(self, t: Token) -> bool:
        if t.kind in ("num", "word"):
            return True
        if t.kind == "sym":
            return t.text in "([{|"
        if t.kind == "cmd":
            return t.text not in {
                "odot", "circ", "otimes", "cdot", "times", "}", "le", "leq", "ge", "geq", "lt",
                "gt", "neq", "rVert", "rvert", "right", "end",
            }  # fmt: skip
        return False

    def product(self) -> Item:
        items: list[tuple[Item, Token]] = []
        start = self.peek()
        items.append((self.unary(), start))
        while True:
            t = self.peek()
            if t.is_sym("*"):
                return self.star_product(items, self.next())
            if t.is_sym("/"):  # (ŷ − y)/B: what is left of the slash over the next factor
                self.next()
                left = items[0][0] if len(items) == 1 else self.build_product(items)
                right = self.as_expr(self.unary())
                items = [(self.divide(self.as_expr(left), right, t), start)]
                continue
            if t.is_cmd("cdot", "times"):
                self.next()
                t = self.peek()
            elif not self.starts_factor(t):
                break
            if (t.is_sym("|") or t.is_cmd("|", "rVert", "Vert")) and self.open_norms > 0:
                break
            items.append((self.unary(), t))
        if len(items) == 1:
            return items[0][0]
        return self.build_product(items)

    def column_sum(self) -> E.Expr:
        """\\sum_i M or \\sum_{i=1}^{B} M over a matrix's columns: the row sum M 1_B."""
        t = self.next()
        if self.peek().is_sym("_"):
            self.next()
            self.group_tokens()
        if self.peek().is_sym("^"):
            self.next()
            self.group_tokens()
        body = self.as_expr(self.product())
        if body.is_scalar:
            raise self.fail(r"a sum of scalars over an index is not understood", t)
        cols = body.shape[1]
        if cols == 1:
            raise self.fail(
                r"\sum over a column's entries is ambiguous here", t, r"write \mathbf{1}^T v"
            )
        self.warnings.append(
            f"read \\sum over the columns of a {fmt_shape(body.shape)} array as its row sum "
            f"(times \\mathbf{{1}}_{{{cols}}})"
        )
        return E.matmul(body, E.Ones((cols, 1)))

    def star_product(self, items: list[tuple[Item, Token]], star: Token) -> Item:
        """a * b: elementwise (⊙) when both sides have one non-scalar shape, else a product."""
        left = items[0][0] if len(items) == 1 else self.build_product(items)
        right = self.product()
        if (
            isinstance(left, E.Expr)
            and isinstance(right, E.Expr)
            and not left.is_scalar
            and left.shape == right.shape
        ):
            note = f"read * between two {fmt_shape(left.shape)} arrays as the elementwise product ⊙"
            if note not in self.warnings:
                self.warnings.append(note)
            return E.hadamard(left, right)
        left_array = isinstance(left, E.Expr) and not left.is_scalar
        if left_array and isinstance(right, E.Expr) and not right.is_scalar:
            note = "read * between arrays of different shapes as the matrix product"
            if note not in self.warnings:
                self.warnings.append(note)
        return self.build_product([(left, items[0][1]), (right, star)])

    def unary(self) -> Item:
        if self.peek().is_sym("-"):
            self.next()
            return E.neg(self.as_expr(self.unary()))
        if self.peek().is_sym("+"):
            self.next()
        return self.postfix()

    def postfix(self) -> Item:
        self.enter()
        item = self.atom()
        while self.peek().is_sym("^"):
            hat = self.next()
            sup = self.group_tokens()
            item = self.apply_superscript(item, sup, hat)
        while self.peek().is_sym("'"):
            if not isinstance(item, E.Expr) or item.is_scalar:
                raise self.fail("a prime here does not follow a function")
            self.next()
            note = (
                "read a prime on a matrix or vector as its transpose (on a function, a derivative)"
            )
            if note not in self.warnings:
                self.warnings.append(note)
            item = E.transpose(item)
        self.depth -= 1
        return item

    def apply_superscript(self, item: Item, sup: list[Token], at: Token) -> Item:
        text = _joined(sup)
        if text in TRANSPOSE_MARKS:
            return (
                E.transpose(self.as_expr(item))
                if not isinstance(item, _OnesVector)
                else (_OnesVector(item.pos, not item.transposed, item.size))
            )
        e = self.as_expr(item)
        power = _exponent(sup)
        if power is None:
            raise self.fail(f"cannot read the superscript {text!r}", at, "expected T or a number")
        if text.startswith("circ"):
            return E.power(e, power)
        if not e.is_scalar and 1 not in e.shape and power != 1:
            raise self.fail(
                f"a power of the matrix {fmt_shape(e.shape)} is ambiguous",
                at,
                r"write ^{\circ 2} for an elementwise power",
            )
        if isinstance(e, E.Const):
            if e.value == 0 and power < 0:
                raise self.fail("0 to a negative power (a division by zero)", at)
            return E.Const(e.value**power)
        return E.power(e, power)

    def group_tokens(self) -> list[Token]:
        """The tokens of a {group} or of a single token (as in ^T or _2)."""
        t = self.next()
        if t.is_sym("{"):
            depth = 1
            out: list[Token] = []
            while True:
                u = self.next()
                if u.kind == "end":
                    raise self.fail("a { is never closed", t)
                if u.is_sym("{"):
                    depth += 1
                elif u.is_sym("}"):
                    depth -= 1
                    if depth == 0:
                        return out
                out.append(u)
        if t.kind == "cmd" and t.text in ("mathsf", "mathrm"):
            inner = self.group_tokens()
            return [Token("cmd", t.text, t.pos), Token("sym", "{", t.pos), *inner,
                    Token("sym", "}", t.pos)]  # fmt: skip
        if t.kind == "end":
            raise self.fail("a script (^ or _) with nothing after it", t)
        return [t]

    # -- atoms --------------------------------------------------------------------------------

    def atom(self) -> Item:
        t = self.peek()
        if t.kind == "num":
            self.next()
            return self.number(t)
        if t.is_sym("(", "["):
            self.next()
            inner = self.sum()
            self.expect_sym(")" if t.text == "(" else "]")
            return inner
        if t.is_sym("{"):
            self.next()
            inner = self.sum()
            self.expect_sym("}")
            return inner
        if t.is_cmd("{"):
            self.next()
            inner = self.sum()
            close = self.next()
            if not close.is_cmd("}"):
                raise self.fail(r"expected \}", close)
            return inner
        if t.is_sym("|") or t.is_cmd("|", "lVert", "Vert"):
            return self.norm()
        if t.kind == "word":
            return self.word()
        if t.kind == "cmd":
            return self.command()
        raise self.fail(f"unexpected {t.show()}", t)

    def number(self, t: Token) -> E.Expr:
        if t.text.count(".") > 1 or len(t.text) > 15:
            raise self.fail(f"cannot read the number {t.text[:20]!r}", t)
        value = _decimal(t.text)
        if abs(value) > 10**12:
            raise self.fail(f"the number {t.text} is too large (at most 1e12)", t)
        return E.Const(value)

    def word(self) -> Item:
        t = self.peek()
        reader = self.r
        # a whole ascii name typed as is (yhat, W2)
        if t.text in reader.names.ascii and not self.peek(1).is_sym("_", "^"):
            self.next()
            return reader.spec.var(t.text)
        key, start, prime = self.symbol_key()
        if prime:
            var = reader.names.lookup(key)
            if var is not None and not reader.spec.var(var).is_scalar:
                # a prime on a matrix or vector of the spec is its transpose (MATLAB's A')
                shown = reader.spec.latex_of(var)
                self.warnings.append(
                    f"read {shown}' as the transpose {shown}^T (a prime on a matrix or vector); "
                    "a prime on a function is its derivative"
                )
                return E.transpose(reader.spec.var(var))
            return self.function_call("prime-of-" + key.base, start, prime=True)
        name = reader.names.lookup(key)
        if name is not None:
            return reader.spec.var(name)
        delta = self.error_term(key, start)
        if delta is not None:
            return delta
        if not key.index and not key.accent:
            special = self.special_letter(key.base, start)
            if special is not None:
                return special
        if key.base in reader.names.dims and not key.index and not key.accent:
            return E.Const(E.dim_symbol(key.base))
        if len(key.base) > 1 and not key.index and not key.accent and key.base.isalpha():
            # LaTeX reads xy as x times y
            return self.letters(key.base, start)
        if key.index and set(key.index) <= set("ijklpqrst,"):
            whole = reader.names.lookup(Key(key.base, "", key.accent, key.sup))
            if whole is not None:
                shown = reader.spec.latex_of(whole)
                raise self.fail(
                    f"index notation ({shown}_{{{key.index}}}, one entry) is not read",
                    start,
                    "write the matrix form: \\operatorname{sum}(" + shown + "^{\\circ 2}) or "
                    "\\|" + shown + "\\|_F^2 for a sum of squared entries, "
                    "\\mathbf{1}^T v for a sum of entries",
                )
        closest = reader.names.closest(key)
        hint = f"did you mean {closest}?" if closest else f"names: {reader.names.suggestions()}"
        raise self.fail(f"unknown name {key.show()}", start, hint)

    def letters(self, word: str, start: Token) -> Item:
        items: list[tuple[Item, Token]] = []
        for k, ch in enumerate(word):
            pos = Token("word", ch, start.pos + k)
            name = self.r.names.lookup(Key(ch))
            if name is not None:
                items.append((self.r.spec.var(name), pos))
            elif ch in self.r.names.dims:
                items.append((E.Const(E.dim_symbol(ch)), pos))
            else:
                raise self.fail(
                    f"unknown name {word!r}", start, f"names: {self.r.names.suggestions()}"
                )
        return self.build_product(items)

    def special_letter(self, base: str, start: Token) -> Item | None:
        nxt = self.peek()
        if base == "I":
            return _Identity(start.pos)
        if base == "H" and nxt.is_sym("("):
            arg = self.call_argument()
            return E.Indicator(arg, ">")
        if base == "e" and self.tokens[self.i - 1].is_sym("^") is False and nxt.is_sym("^"):
            self.next()
            sup = self.group_tokens()
            inner = _Parser(self.reader, [*sup, Token("end", "", start.pos)], self.warnings)
            return E.Apply("exp", self.as_expr(inner.whole()))
        if base in ("f", "g") and nxt.is_sym("("):
            raise self.fail(
                f"{base}(...) is not a known function", start, r"write \sigma, \tanh or ReLU"
            )
        return None

    def symbol_key(self) -> tuple[Key, Token, bool]:
        """A symbol with its decorations: base, accent, subscript index, (k) superscript."""
        start = self.peek()
        base, accent = self.symbol_base()
        index = ""
        prime = False
        while True:
            t = self.peek()
            if t.is_sym("_"):
                self.next()
                index = _index_text(self.group_tokens()) or index
            elif t.is_sym("^"):
                sup = self.peek(1)
                # only (k), [k] and primes belong to the name; T and powers are postfix
                if (sup.is_sym("{") and self.peek(2).is_sym("(", "[")) or sup.is_sym("(", "["):
                    self.next()
                    toks = self.group_tokens()
                    idx = _layer_index(toks)
                    if idx is None:
                        raise self.fail(f"cannot read the superscript {_joined(toks)!r}", t)
                    index = idx
                elif sup.is_sym("{") and self.peek(2).is_cmd("prime"):
                    self.i += 4
                    prime = True
                elif self.named_superscript(Key(base, index, accent)) is not None:
                    self.next()
                    named = Key(base, index, accent, _joined(self.group_tokens()))
                    return named, start, prime
                else:
                    break
            elif t.is_sym("'"):
                self.next()
                prime = True
            else:
                break
        return Key(base, index, accent), start, prime

    def named_superscript(self, key: Key) -> str | None:
        """The spec name whose own latex carries the superscript ahead (\\sigma^{2}), if any."""
        if self.reader is None:
            return None
        save = self.i
        try:
            self.next()
            sup = _joined(self.group_tokens())
        except AnswerError:
            return None
        finally:
            self.i = save
        return self.r.names.by_key.get(Key(key.base, key.index, key.accent, sup))

    def symbol_base(self) -> tuple[str, str]:
        t = self.next()
        if t.kind == "word":
            return t.text, ""
        if t.kind == "cmd" and t.text in GREEK:
            return t.text, ""
        if t.kind == "cmd" and t.text in ACCENTS:
            inner = self.group_tokens()
            sub = _Parser(self.reader, [*inner, Token("end", "", t.pos)], self.warnings)
            base, accent = sub.symbol_base()
            return base, ACCENTS[t.text] or accent
        if t.kind == "cmd" and t.text in WRAPPERS:
            inner = self.group_tokens()
            sub = _Parser(self.reader, [*inner, Token("end", "", t.pos)], self.warnings)
            base, accent = sub.symbol_base()
            if sub.peek().kind != "end":
                raise self.fail(f"cannot read \\{t.text}{{{_joined(inner)}}} as a name", t)
            return base, accent
        raise self.fail(f"expected a name, found {t.show()}", t)

    def command(self) -> Item:
        t = self.peek()
        name = t.text
        if name in ("frac", "dfrac", "tfrac"):
            return self.fraction()
        if name == "nabla":
            self.next()
            if not self.peek().is_sym("_"):
                raise self.fail(r"\nabla needs a subscript: \nabla_{W} J", t)
            self.next()
            wrt = self.name_in(self.group_tokens(), t)
            if self.peek().kind in ("word", "cmd") and not self.peek().is_cmd("cdot", "odot"):
                self.symbol_key()  # the loss's name: J, L, \mathcal{J}
            return self.derivative(wrt, t)
        if name == "pi" and self.r.names.lookup(Key("pi")) is None:
            self.next()  # the constant π, unless the spec names something \\pi
            return E.Const(sympy.pi)
        if name == "sqrt":
            self.next()
            arg = self.group_or_parenthesised()
            return E.Apply("sqrt", arg)
        commands = function_commands()
        if name in commands and not (name == "sigma" and self.sigma_is_a_name()):
            self.next()
            return self.function_call(commands[name], t)
        if name == "max":
            return self.maximum()
        if name == "sum":
            return self.column_sum()
        if name in ("operatorname", "mathrm", "text", "mathsf", "operatorname*"):
            word = _joined(self.peek_group(1))
            words = ("diag", "tr", "trace", "sum", "step", "V", "E", *SOFTMAX)
            if word in operator_names() or word in words:
                self.next()
                self.group_tokens()
                if word in SOFTMAX:  # per column, as the spec's softmax(z)
                    return E.Softmax(self.call_argument())
                if word == "diag":
                    arg = self.call_argument()
                    if arg.shape[1] != 1:
                        raise self.fail(
                            f"diag needs a column vector, got {fmt_shape(arg.shape)}", t
                        )
                    return E.Diag(arg)
                if word in ("tr", "trace"):
                    arg = self.call_argument()
                    if arg.shape[0] != arg.shape[1]:
                        raise self.fail(
                            f"the trace needs a square matrix, got {fmt_shape(arg.shape)}", t
                        )
                    return E.Trace(arg)
                if word == "sum":
                    return E.sum_all(self.call_argument())
                if word == "step":
                    return E.Indicator(self.call_argument(), ">")
                if word == "V":  # the notes' V(z): each row's variance over the batch
                    return E.Variance(self.call_argument())
                if word == "E":  # E[z]: each row's mean over the batch, a column
                    return E.axis_mean(self.call_argument(), 1)
                return self.function_call(operator_names()[word], t)
        ones_cmd = name in ("mathbb", "mathbf", "boldsymbol", "bm", "vec")
        if ones_cmd and _joined(self.peek_group(1)) in (
            "1",
            "I",
        ):
            return self.ones_or_indicator()
        if name in ("partial",):
            raise self.fail(r"write a derivative as \frac{\partial J}{\partial X}", t)
        if name in GREEK or name in ACCENTS or name in WRAPPERS:
            return self.word_like()
        raise self.fail(f"the command \\{name} is not understood here", t)

    def sigma_is_a_name(self) -> bool:
        """\\sigma is the sigmoid when applied; a name when the spec calls something sigma."""
        nxt = self.peek(1)
        if nxt.is_sym("^"):
            self.i += 1
            try:
                if self.named_superscript(Key("sigma")) is not None:
                    return True  # the spec's own name σ² (a variance), not σ applied
            finally:
                self.i -= 1
        applied = nxt.is_sym("(", "'") or (nxt.is_sym("^") and self.peek(2).is_sym("{"))
        return not applied and self.r.names.lookup(Key("sigma")) is not None

    def error_term(self, key: Key, start: Token) -> _Derivative | None:
        """A gradient's alias from the spec's [aliases], or the textbook's δ^{(l)} (δ_l):
        ∂J/∂ the named pre-activation of layer l; None if neither."""
        spec = self.r.spec
        for alias, target in spec.aliases.items():
            if key_of_ascii(alias) == key or (alias == key.base and not key.index):
                return self.gradient_read_as(key, target, start)
        if key.base != "delta" or key.accent or key.sup:
            return None
        inputs = {
            child.name
            for eq in spec.equations
            for node in E.walk_nodes(eq.expr)
            if isinstance(node, E.Apply)
            for child in node.children
            if isinstance(child, E.Var)
        }
        layers = {
            name
            for k, name in self.r.names.by_key.items()
            if name in inputs and k.index == key.index and not k.accent
        }
        if len(layers) != 1:
            return None
        (name,) = layers
        return self.gradient_read_as(key, name, start)

    def gradient_read_as(self, key: Key, name: str, start: Token) -> _Derivative:
        spec = self.r.spec
        loss, var = spec.latex_of(spec.loss), spec.latex_of(name)
        note = f"read {key.show()} as the gradient \\frac{{\\partial {loss}}}{{\\partial {var}}}"
        if note not in self.warnings:
            self.warnings.append(note)
        return _Derivative(name, start.pos)

    def word_like(self) -> Item:
        key, start, prime = self.symbol_key()
        if prime:
            raise self.fail(f"{key.show()}' is not a function", start)
        name = self.r.names.lookup(key)
        delta = self.error_term(key, start) if name is None else None
        if delta is not None:
            return delta
        standardized = self.standardized_value(key) if name is None else None
        if standardized is not None:
            return standardized
        if name is None:
            closest = self.r.names.closest(key)
            hint = f"did you mean {closest}?" if closest else f"names: {self.r.names.suggestions()}"
            raise self.fail(f"unknown name {key.show()}", start, hint)
        return self.r.spec.var(name)

    def standardized_value(self, key: Key) -> E.Expr | None:
        """\\hat{Z}: standardize(Z) inside a batch norm, which no equation names."""
        return self.r.standardized.get(key)

    def peek_group(self, k: int) -> list[Token]:
        """The tokens of the {group} starting k tokens ahead, without consuming them."""
        if not self.peek(k).is_sym("{"):
            return [self.peek(k)]
        out, depth, j = [], 1, k + 1
        while self.peek(j).kind != "end":
            u = self.peek(j)
            if u.is_sym("{"):
                depth += 1
            elif u.is_sym("}"):
                depth -= 1
                if depth == 0:
                    break
            out.append(u)
            j += 1
        return out

    def group_or_parenthesised(self) -> E.Expr:
        if self.peek().is_sym("{"):
            toks = self.group_tokens()
            inner = _Parser(self.reader, [*toks, Token("end", "", self.peek().pos)], self.warnings)
            return self.as_expr(inner.whole())
        return self.call_argument()

    def call_argument(self) -> E.Expr:
        t = self.peek()
        if t.is_sym("(", "["):
            self.next()
            inner = self.sum()
            self.expect_sym(")" if t.text == "(" else "]")
            return self.as_expr(inner)
        if t.is_sym("{"):
            self.next()
            inner = self.sum()
            self.expect_sym("}")
            return self.as_expr(inner)
        # \sigma z: a function applied to the next factor
        return self.as_expr(self.postfix())

    def function_call(self, fn: str, at: Token, prime: bool = False) -> Item:
        if self.peek().is_sym("'"):
            self.next()
            prime = True
        elif self.peek().is_sym("^") and _joined(self.peek_group(1)) in ("prime", "'"):
            self.next()
            self.group_tokens()
            prime = True
        power = None
        if not prime and self.peek().is_sym("^"):
            power = _exponent(self.peek_group(1))
            if power is not None:  # \tanh^2(z) is tanh(z) squared, as on the page
                self.next()
                self.group_tokens()
        arg = self.call_argument()
        if power is not None:
            value = self.as_expr(self.function_value(fn, arg, at, prime))
            note = f"read {fn}^{power}(u) as the power of the value, ({fn}(u))^{power}"
            if note not in self.warnings:
                self.warnings.append(note)
            return E.power(value, power)
        return self.function_value(fn, arg, at, prime)

    def function_value(self, fn: str, arg: E.Expr, at: Token, prime: bool) -> Item:
        if fn in HYPERBOLIC and not prime:
            a, b, inverse = HYPERBOLIC[fn]
            both = E.add(E.Apply("exp", arg), E.scale(b, E.Apply("exp", E.neg(arg))))
            half = E.scale(sympy.Rational(a, 2), both)
            return E.power(half, -1) if inverse else half
        if fn.startswith("prime-of-"):
            fn = self.activation_of(arg, at)
        if fn not in ACTIVATIONS:
            raise self.fail(f"unknown function {fn}", at)
        param = ACTIVATIONS[fn].param_value() if ACTIVATIONS[fn].default_param is not None else None
        if not prime:
            return E.Apply(fn, arg, param)
        # f′(u) written in terms of u only: σ′(u) = σ(u) ⊙ (1 − σ(u))
        return derivative_expr(fn, arg, E.Apply(fn, arg, param), param)

    def activation_of(self, arg: E.Expr, at: Token) -> str:
        """f in f′(a): the activation the spec applies to a."""
        definitions = self.r.spec.definitions()
        target = E.substitute_vars(arg, definitions)
        found = {
            n.fn
            for eq in self.r.spec.equations
            for n in E.walk_nodes(eq.expr)
            if isinstance(n, E.Apply) and E.substitute_vars(n.children[0], definitions) == target
        }
        if len(found) != 1:
            raise self.fail(
                "cannot tell which activation f′ means here", at, r"write \sigma', \tanh' or ReLU'"
            )
        return found.pop()

    def maximum(self) -> E.Expr:
        t = self.next()
        open_ = self.next()
        if not (open_.is_sym("(") or open_.is_cmd("{")):
            raise self.fail(r"expected \max(0, x)", open_)
        a = self.as_expr(self.sum())
        self.expect_sym(",")
        b = self.as_expr(self.sum())
        close = self.next()
        if not (close.is_sym(")") or close.is_cmd("}")):
            raise self.fail(r"expected ) closing \max", close)
        for zero, other in ((a, b), (b, a)):
            if isinstance(zero, E.Const) and zero.value == 0:
                return E.Apply("relu", other)
        for scaled, other in ((a, b), (b, a)):
            if isinstance(scaled, E.Scale) and scaled.arg == other and 0 < scaled.coef < 1:
                return E.Apply("leaky_relu", other, scaled.coef)
        raise self.fail(r"only \max(0, x) and \max(\alpha x, x) are understood", t)

    def ones_or_indicator(self) -> Item:
        t = self.next()
        self.group_tokens()
        nxt = self.peek()
        if nxt.is_sym("_"):
            size = self.ones_length()
            if size is not None:
                return _OnesVector(t.pos, size=size)
        if nxt.is_sym("[", "(") or nxt.is_cmd("{") or nxt.is_sym("_"):
            return self.indicator(t)
        if t.text == "mathbb":
            note = r"read \mathbb{1} without a condition as a vector of ones"
            if note not in self.warnings:
                self.warnings.append(note)
        return _OnesVector(t.pos)

    def ones_length(self) -> E.Dim | None:
        """The dim in \\mathbf{1}_{B} (consumed), or None for an indicator 𝟙_{z > 0}."""
        group = self.peek_group(1) if self.peek(1).is_sym("{") else [self.peek(1)]
        if len(group) != 1:
            return None
        tok = group[0]
        if not (tok.kind == "word" and tok.text in self.r.names.dims):
            return None
        size: E.Dim = tok.text
        self.next()
        self.group_tokens()
        return size

    def indicator(self, at: Token) -> E.Expr:
        t = self.next()
        if t.is_sym("_"):
            toks = self.group_tokens()
            inner = _Parser(self.reader, [*toks, Token("end", "", t.pos)], self.warnings)
            return inner.condition()
        close = {"[": "]", "(": ")"}.get(t.text)
        cond = self.condition()
        end = self.next()
        if (close and not end.is_sym(close)) or (not close and not end.is_cmd("}")):
            raise self.fail("the indicator's condition is not closed", end)
        return cond

    def condition(self) -> E.Expr:
        left = self.as_expr(self.sum())
        op = self.next()
        if op.is_sym(">") or op.is_cmd("gt", "geq", "ge"):
            rel = ">"
        elif op.is_sym("<") or op.is_cmd("lt", "leq", "le"):
            rel = "<="
        else:
            raise self.fail("expected a comparison with 0, as in z > 0", op)
        right = self.as_expr(self.sum())
        if isinstance(right, E.Const) and right.value == 0:
            return E.Indicator(left, rel)
        if isinstance(left, E.Const) and left.value == 0:
            return E.Indicator(right, "<=" if rel == ">" else ">")
        raise self.fail("an indicator compares with 0, as in \\mathbb{1}[z > 0]", op)

    def norm(self) -> E.Expr:
        t = self.next()
        closing = {"|": "|", "lVert": "rVert", "Vert": "Vert"}[t.text]
        double = t.is_cmd("|", "lVert", "Vert")
        self.open_norms += 1
        try:
            inner = self.as_expr(self.sum())
        finally:
            self.open_norms -= 1
        end = self.next()
        ok = end.is_cmd(closing) if double else end.is_sym("|")
        if not ok:
            raise self.fail("the norm is not closed", end)
        if self.peek().is_sym("_"):
            self.next()
            self.group_tokens()  # \|v\|_2
        if self.peek().is_sym("^") and _exponent(self.peek_group(1)) == 2:
            self.next()
            self.group_tokens()
            return E.sum_all(E.power(inner, 2))
        if not double and inner.is_scalar:
            raise self.fail("absolute values are not understood", t)
        return E.Apply("sqrt", E.sum_all(E.power(inner, 2)))

    def fraction(self) -> Item:
        t = self.next()
        num = self.group_tokens()
        den = self.group_tokens()
        if num and num[0].is_cmd("partial"):  # \frac{d J}{d W} too: its d's are \partial
            if not den or not den[0].is_cmd("partial"):
                raise self.fail("a derivative needs \\partial below too", t)
            wrt = self.name_in(den[1:], t)
            return self.derivative(wrt, t)
        top = self.as_expr(
            _Parser(self.reader, [*num, Token("end", "", t.pos)], self.warnings).whole()
        )
        bottom = self.as_expr(
            _Parser(self.reader, [*den, Token("end", "", t.pos)], self.warnings).whole()
        )
        return self.divide(top, bottom, t)

    def divide(self, top: E.Expr, bottom: E.Expr, t: Token) -> E.Expr:
        """top over bottom (\\frac or /): by a scalar, or elementwise, said so."""
        if not bottom.is_scalar and top.is_scalar:
            note = f"read a scalar over a {fmt_shape(bottom.shape)} array as elementwise inverses"
            if note not in self.warnings:
                self.warnings.append(note)
            return E.smul(top, E.power(bottom, -1))
        if (
            not bottom.is_scalar
            and bottom.shape != top.shape
            and self.r.broadcasts
            and E.broadcast_shape(top.shape, bottom.shape) is not None
        ):
            note = (f"read {fmt_shape(top.shape)} over {fmt_shape(bottom.shape)} as elementwise, "
                    "broadcast (numerator ⊙ denominator^{∘−1})")  # fmt: skip
            if note not in self.warnings:
                self.warnings.append(note)
            return E.hadamard(top, E.power(bottom, -1))
        if not bottom.is_scalar and bottom.shape == top.shape:
            note = (f"read the division of two {fmt_shape(top.shape)} arrays as elementwise "
                    "(numerator ⊙ denominator^{∘−1})")  # fmt: skip
            if note not in self.warnings:
                self.warnings.append(note)
            return E.hadamard(top, E.power(bottom, -1))
        if not bottom.is_scalar:
            raise self.fail(
                f"the denominator has shape {fmt_shape(bottom.shape)}; only scalars divide", t
            )
        if isinstance(bottom, E.Const) and bottom.value == 0:
            raise self.fail("division by zero", t)
        return E.div(top, bottom)

    def name_in(self, toks: list[Token], at: Token) -> str:
        inner = _Parser(self.reader, [*toks, Token("end", "", at.pos)], self.warnings)
        if inner.peek().kind == "word" and inner.peek().text in self.r.names.ascii:
            word = inner.next().text
            if inner.peek().kind == "end":
                return word
            inner.i -= 1
        key, start, _ = inner.symbol_key()
        name = self.r.names.lookup(key)
        if name is None or inner.peek().kind != "end":
            raise self.fail(
                f"the derivative is taken with respect to an unknown name {key.show()}",
                start,
                f"names: {self.r.names.suggestions()}",
            )
        return name

    # -- building -----------------------------------------------------------------------------

    def as_expr(self, item: Item, in_sum: bool = False) -> E.Expr:
        if isinstance(item, _OnesVector) and in_sum:
            return E.const(1)  # 1 − h: a scalar 1 broadcasts like the ones vector
        if isinstance(item, _OnesVector | _Identity | _Derivative):
            return _resolve_alone(item, self.r)
        return item

    def build_product(self, items: list[tuple[Item, Token]]) -> E.Expr:
        scalars: list[E.Expr] = []
        matrices: list[tuple[Item, Token]] = []
        for item, tok in items:
            if isinstance(item, _Derivative):
                item = self.r.deriv[item.wrt].final
            if isinstance(item, E.Expr) and item.is_scalar:
                scalars.append(item)
            else:
                matrices.append((item, tok))
        resolved: list[tuple[E.Expr, Token]] = []
        skip_to = 0
        for k, (item, tok) in enumerate(matrices):
            if k < skip_to:
                continue  # inside a 1x1 run already taken as a scalar
            if isinstance(item, _Identity):
                continue  # I A = A I = A
            if isinstance(item, _OnesVector) and item.size is not None:
                item = item.sized(item.size)
            elif isinstance(item, _OnesVector):
                neighbour = self.neighbour(matrices, k)
                if neighbour is None:
                    raise self.fail(r"cannot tell the size of \mathbf{1} here", tok)
                if item.transposed:
                    item = E.Ones((1, neighbour.shape[0]))
                else:
                    item = E.Ones((neighbour.shape[1], 1))
            assert isinstance(item, E.Expr)
            if resolved:
                left, _ = resolved[-1]
                run = [e for e, _ in resolved]
                if left.shape[1] != item.shape[0] and run[0].shape[0] == 1 and left.shape[1] == 1:
                    # 2 x^T v W^T: the 1x1 product x^T v so far is a scalar, as a human reads it
                    one_by_one = E.matmul(*run) if len(run) > 1 else run[0]
                    scalars.append(one_by_one)
                    note = f"read the 1x1 product before character {tok.pos + 1} as a scalar"
                    self.warnings.append(note)
                    resolved = [(item, tok)]
                    continue
                run_end = self.one_by_one_run(matrices, k, left)
                if left.shape[1] != item.shape[0] and run_end is not None:
                    # A x^T v u: the 1x1 product x^T v in the middle is a scalar, as read by eye
                    inner = [e for e, _ in matrices[k:run_end]]
                    scalars.append(E.matmul(*inner))  # type: ignore[arg-type]
                    self.warnings.append(
                        f"read the 1x1 product at character {tok.pos + 1} as a scalar"
                    )
                    skip_to = run_end
                    continue
                if left.shape[1] != item.shape[0]:
                    resolved[-1] = (self.mismatch(left, item, tok), tok)
                    continue
            resolved.append((item, tok))
        body: E.Expr
        if resolved:
            body = E.matmul(*[e for e, _ in resolved]) if len(resolved) > 1 else resolved[0][0]
        else:
            body = E.const(1)
        for s in reversed(scalars):
            body = _times(s, body)
        return body

    def one_by_one_run(
        self, matrices: list[tuple[Item, Token]], k: int, left: E.Expr
    ) -> int | None:
        """The end of the shortest run of factors from k whose product conforms and is 1x1, when
        the factor after it (if any) conforms with `left`: that run is a scalar in the chain."""
        first = matrices[k][0]
        if not isinstance(first, E.Expr) or first.shape[0] != 1:
            return None
        cols = first.shape[1]
        for j in range(k + 1, len(matrices)):
            nxt = matrices[j][0]
            if not isinstance(nxt, E.Expr) or nxt.shape[0] != cols:
                return None
            cols = nxt.shape[1]
            if cols == 1:
                after = matrices[j + 1][0] if j + 1 < len(matrices) else None
                if after is None or (isinstance(after, E.Expr) and after.shape[0] == left.shape[1]):
                    return j + 1
                return None
        return None

    def neighbour(self, matrices: list[tuple[Item, Token]], k: int) -> E.Expr | None:
        for j in (k - 1, k + 1):
            if 0 <= j < len(matrices) and isinstance(matrices[j][0], E.Expr):
                e = matrices[j][0]
                assert isinstance(e, E.Expr)
                return e
        return None

    def mismatch(self, left: E.Expr, right: E.Expr, at: Token) -> E.Expr:
        sl, sr = fmt_shape(left.shape), fmt_shape(right.shape)
        if left.shape == right.shape and 1 in left.shape:
            if self.r.lenient:
                self.warnings.append(
                    f"read two {sl} vectors side by side (character {at.pos + 1}) as ⊙"
                )
                return E.hadamard(left, right)
            raise self.fail(
                f"two {sl} vectors side by side do not multiply as matrices",
                at,
                r"write \odot for the elementwise product (or use --lenient)",
            )
        hint = None
        if left.shape[0] == right.shape[0]:
            flipped = fmt_shape(E.transpose_shape(left.shape))
            hint = f"did you forget a transpose? the left factor transposed is {flipped}"
        elif left.shape[1] == right.shape[1]:
            flipped = fmt_shape(E.transpose_shape(right.shape))
            hint = f"did you forget a transpose? the right factor transposed is {flipped}"
        raise self.fail(
            f"cannot multiply {sl} by {sr}: inner dims {left.shape[1]} and {right.shape[0]} differ",
            at,
            hint,
        )


def _times(a: E.Expr, b: E.Expr) -> E.Expr:
    if a.is_scalar:
        return E.smul(a, b)
    if b.is_scalar:
        return E.smul(b, a)
    return E.hadamard(a, b)


def _joined(tokens: list[Token]) -> str:
    return "".join(t.text for t in tokens)


def _index_text(tokens: list[Token]) -> str:
    text = "".join(t.text for t in tokens if not t.is_sym("(", ")", "[", "]", "{", "}"))
    return text


def _layer_index(tokens: list[Token]) -> str | None:
    """k in a superscript (k) or [k] (a transpose after it is already apart: W^{(2)}^{T})."""
    if len(tokens) == 3 and tokens[0].is_sym("(", "[") and tokens[2].is_sym(")", "]"):
        return tokens[1].text
    return None


def _exponent(tokens: list[Token]) -> sympy.Expr | None:
    toks = [t for t in tokens if not t.is_cmd("circ")]
    sign = 1
    if toks and toks[0].is_sym("-"):
        sign, toks = -1, toks[1:]
    value: sympy.Expr | None = None
    if len(toks) == 1 and toks[0].kind == "num" and len(toks[0].text) < 6:
        value = _decimal(toks[0].text)
    elif (
        len(toks) == 3
        and toks[1].is_sym("/")
        and all(_small_natural(t) for t in (toks[0], toks[2]))
    ):  # 3/2
        value = _fraction(toks[0].text, toks[2].text)
    elif (
        len(toks) == 7
        and toks[0].is_cmd("frac", "tfrac", "dfrac")
        and [t.text for t in (toks[1], toks[3], toks[4], toks[6])] == ["{", "}", "{", "}"]
        and all(_small_natural(t) for t in (toks[2], toks[5]))
    ):  # \frac{3}{2}
        value = _fraction(toks[2].text, toks[5].text)
    if value is None or abs(value) > MAX_EXPONENT:
        return None
    return sign * value


def _small_natural(t: Token) -> bool:
    return t.kind == "num" and t.text.isdigit() and len(t.text) < 4


def _fraction(num: str, den: str) -> sympy.Expr | None:
    return sympy.Rational(int(num), int(den)) if int(den) else None


def _decimal(text: str) -> sympy.Rational:
    """A decimal numeral (digits, at most one point) as an exact rational; no parsing library."""
    whole, _, frac = text.partition(".")
    digits = int(whole or "0") * 10 ** len(frac) + int(frac or "0")
    return sympy.Rational(digits, 10 ** len(frac))
