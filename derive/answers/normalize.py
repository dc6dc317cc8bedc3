"""Token normalisation: the rewrites of an answer's tokens that LaTeX notation asks for, made once
between lexing and parsing, so the parser only parses.

A student types `x^Tx`, `\\frac{d J}{d W}`, `W^{(2)T}`, `W^T_2`, `xy` or `W2` and means `x^T x`,
`\\frac{\\partial J}{\\partial W}`, `W^{(2)}^T`, `W_2^T`, `x y` and `W_2`. Each rule below turns one
such spelling into the tokens of the other. `normalize_tokens` runs them in this order over one
side of an answer (a rule sees what the rules before it made):

1. `one_letter_arguments`         x^Tx -> x^T x;  \\hat yz -> \\hat y z;  \\frac ab -> \\frac a b
2. `derivative_d_as_partial`      \\frac{d J}{d W} -> \\frac{\\partial J}{\\partial W}
3. `layer_index_apart`            W^{(2)T} -> W^{(2)}^{T}
4. `subscripts_before_transpose`  W^T_2 -> W_{2}^{T}
5. `words_as_letters`             xy -> x y, unless the spec names the word as a whole (yhat)
6. `digits_as_subscript`          W2 -> W_{2}, unless W2 is a spec name standing alone

Rules 3 to 6 need the spec's names (`KnownNames`); rules 5 and 6 also where a word stands
(`Place`): a word is split into letters only in an expression, never where a name is read whole
(the argument of \\hat or \\mathbf, the variable of a derivative). Tokens keep the positions of
the text as typed, so errors still point into the answer. Nothing here raises: a malformed answer
is left for the parser to refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal, Protocol

from derive.answers.lexer import Token
from derive.answers.names import ACCENTS, GREEK, TRANSPOSE_MARKS, WRAPPERS, key_of_ascii

FRACTIONS = {"frac", "dfrac", "tfrac"}  # two arguments, read as expressions (or a derivative)
# one argument, read as a name: \hat{y}, \mathbf{W}, \operatorname{diag}, \mathbb{1}
NAME_COMMANDS = set(ACCENTS) | WRAPPERS | {"mathbb"}
# inside an argument these take their own argument along: ^\mathsf T is one superscript
NESTED_ARGUMENT = {"mathsf", "mathrm"}
ONES = {"1", "I"}  # \mathbf{1}, \mathbb{1}, \mathbf{I}: a vector of ones, not a name
SPELLS_ONES = {"mathbb", "mathbf", "boldsymbol", "bm", "vec"}
# Greek letters that are a function or a constant unless the spec names them: \sigma(z), \pi
FUNCTION_LETTERS = {"sigma", "pi"}

# where a token stands: in an expression (the default); in the variable of a derivative
# (\partial W, \nabla_{W}, the W of dJ/dW), where a spec name is read whole; or in the argument
# of an accent or a font (\hat{..}, \mathbf{..}), or the loss after \nabla_{W}, read as a symbol
Place = Literal["expression", "variable", "argument"]


class KnownNames(Protocol):
    """What the rules need to know of the spec (`derive.answers.names.NameTable` has it)."""

    def knows_word(self, word: str) -> bool:
        """Whether the word names something as a whole (yhat, W2, gamma, a dim)."""
        ...

    def is_name(self, word: str) -> bool:
        """Whether the word is a spec name exactly as typed (W2, yhat)."""
        ...


class NoNames:
    """No name known: for a spec's own `latex` names, read before the names are."""

    def knows_word(self, word: str) -> bool:
        return False

    def is_name(self, word: str) -> bool:
        return False


def normalize_tokens(
    tokens: list[Token], names: KnownNames, place: Place = "expression"
) -> list[Token]:
    """The tokens of one side of an answer (or of a name alone, by `place`), rewritten by the
    rules above, in order."""
    tokens = one_letter_arguments(tokens)
    tokens = derivative_d_as_partial(tokens)
    tokens = layer_index_apart(tokens, names)
    tokens = subscripts_before_transpose(tokens, names)
    tokens = words_as_letters(tokens, names, place)
    return digits_as_subscript(tokens, names, place)


# -- the rules ----------------------------------------------------------------------------------


def one_letter_arguments(tokens: list[Token]) -> list[Token]:
    """x^Tx is x^T x, \\hat yz is \\hat y z, \\frac ab is \\frac a b: as in TeX, a script or a
    command's argument written without braces takes one character of a word; the rest of the word
    follows as a word of its own (even if it is digits: ^T2 gives T then the word 2)."""
    partner = _brace_partners(tokens)
    letters: dict[int, int] = {}  # index of a word -> how many arguments start in it
    for i, t in enumerate(tokens):
        slots = _argument_count(t)
        j = i + 1
        while slots and j < len(tokens):
            while j < len(tokens) and tokens[j].is_cmd(*NESTED_ARGUMENT):
                j += 1  # ^\mathsf Tx: the script ends where \mathsf's own argument does
            if j < len(tokens) and tokens[j].kind == "word" and len(tokens[j].text) > 1:
                letters[j] = max(letters.get(j, 0), slots)  # each argument left: one letter
                break
            end = _argument_end(tokens, j, partner)
            if end is None:
                break
            j, slots = end, slots - 1
    if not letters:
        return tokens
    out: list[Token] = []
    for j, t in enumerate(tokens):
        if j not in letters:
            out.append(t)
            continue
        k = min(letters[j], len(t.text))
        out += [Token("word", t.text[n], t.pos + n) for n in range(k)]
        if t.text[k:]:
            out.append(Token("word", t.text[k:], t.pos + k))
    return out


def derivative_d_as_partial(tokens: list[Token]) -> list[Token]:
    """\\frac{d J}{d W} is \\frac{\\partial J}{\\partial W}: a fraction whose numerator starts with
    the letter d alone is a derivative, and a d alone starting its denominator is \\partial too.
    (\\frac{dJ}{dW} is no derivative: its numerator starts with the word dJ, read as d times J.)"""
    partner = _brace_partners(tokens)
    partial: list[int] = []  # indices of the d's to read as \partial
    for i, t in enumerate(tokens):
        if not (t.kind == "cmd" and t.text in FRACTIONS):
            continue
        num_end = _argument_end(tokens, i + 1, partner)
        if num_end is None:
            continue
        first = _first_of_argument(tokens, i + 1, num_end)
        if first is None or not (tokens[first].kind == "word" and tokens[first].text == "d"):
            continue
        partial.append(first)
        den = _first_of_argument(tokens, num_end, _argument_end(tokens, num_end, partner))
        if den is not None and tokens[den].text == "d":  # a word d (or \d)
            partial.append(den)
    if not partial:
        return tokens
    out = list(tokens)
    for k in partial:
        out[k] = Token("cmd", "partial", tokens[k].pos)
    return out


def layer_index_apart(tokens: list[Token], names: KnownNames) -> list[Token]:
    """W^{(2)T} (or W^{(2)^T}, W^{[2]^{T}}) is W^{(2)}^{T}: on a name, a superscript that starts
    with a layer index keeps the index alone; what follows it becomes a superscript of its own."""
    partner = _brace_partners(tokens)
    on_name = _symbol_ends(tokens, names)
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        end = partner.get(i + 1) if t.is_sym("^") and i + 1 < len(tokens) else None
        inner = tokens[i + 2 : end] if end is not None else []
        if (
            len(inner) < 4
            or not inner[0].is_sym("(", "[")
            or not inner[2].is_sym(")", "]")
            or not on_name(i)
        ):
            out.append(t)
            i += 1
            continue
        rest = inner[3:]
        if rest[0].is_sym("^"):  # W^{(2)^T}: the transpose written as a superscript of (2)
            rest = rest[1:]
            if len(rest) > 2 and rest[0].is_sym("{") and rest[-1].is_sym("}"):
                rest = rest[1:-1]
        brace, close = tokens[i + 1], tokens[i + 2 + len(inner)]
        out += [t, brace, *inner[:3], close]
        if rest:  # W^{(2)^}: nothing left to read
            out += [Token("sym", "^", t.pos), Token("sym", "{", t.pos), *rest]
            out.append(Token("sym", "}", t.pos))
        i = i + 3 + len(inner)
    return out


def subscripts_before_transpose(tokens: list[Token], names: KnownNames) -> list[Token]:
    """W^T_2 (or W^{\\top}_{2}) is W_2^T: on a name, a subscript written after the transpose mark
    moves ahead of it, braced (W^T_2_3 gives W_{2}_{3}^{T}, the last subscript counting)."""
    partner = _brace_partners(tokens)
    on_name = _symbol_ends(tokens, names)
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        sup_end = _argument_end(tokens, i + 1, partner) if t.is_sym("^") else None
        subs: list[Token] = []
        j = i
        if (
            sup_end is not None
            and _argument_text(tokens, i + 1, sup_end) in TRANSPOSE_MARKS
            and on_name(i)
        ):
            j = sup_end
            while j < len(tokens) and tokens[j].is_sym("_"):
                sub_end = _argument_end(tokens, j + 1, partner)
                if sub_end is None:
                    break
                under = tokens[j]
                inner = _argument_tokens(tokens, j + 1, sub_end)
                inner = subscripts_before_transpose(inner, names)
                subs += [under, Token("sym", "{", under.pos), *inner, Token("sym", "}", under.pos)]
                j = sub_end
        if sup_end is None or not subs:
            out.append(t)
            i += 1
            continue
        sup = _argument_tokens(tokens, i + 1, sup_end)
        out += [*subs, t, Token("sym", "{", t.pos), *sup, Token("sym", "}", t.pos)]
        i = j
    return out


def words_as_letters(tokens: list[Token], names: KnownNames, place: Place) -> list[Token]:
    """xy is x y, as LaTeX reads it: in an expression, a word of several letters that the spec
    does not name as a whole becomes one word per letter, digits staying with the letter before
    them (xW2 gives x and W2). Where a name is read (see `Place`), a word is kept."""
    out: list[Token] = []
    for t, where in _places(tokens, place):
        if t.kind != "word" or len(t.text) < 2 or where != "expression" or names.knows_word(t.text):
            out.append(t)
            continue
        pieces: list[Token] = []
        for k, ch in enumerate(t.text):
            if ch.isdigit() and pieces:
                last = pieces[-1]
                pieces[-1] = Token("word", last.text + ch, last.pos)
            else:
                pieces.append(Token("word", ch, t.pos + k))
        out += pieces
    return out


def digits_as_subscript(tokens: list[Token], names: KnownNames, place: Place) -> list[Token]:
    """W2 is W_2 (a12 is a_{12}): a word of letters then digits, whose ascii reading has those
    letters for its base (not yhat2), becomes the letters with the digits as a braced subscript.
    A spec name typed as is (W2) stays whole when nothing is attached to it (no _ or ^ after it)
    and it is not the argument of an accent or a font: the parser reads it as the name."""
    out: list[Token] = []
    placed = list(_places(tokens, place))
    for k, (t, where) in enumerate(placed):
        stem = t.text.rstrip("0123456789")
        split = t.kind == "word" and stem != t.text and stem.isalpha()
        if split and where != "argument" and names.is_name(t.text):
            split = k + 1 < len(placed) and placed[k + 1][0].is_sym("_", "^")
        if not split or key_of_ascii(t.text).base != stem:
            out.append(t)
            continue
        out += [
            Token("word", stem, t.pos),
            Token("sym", "_", t.pos),
            Token("sym", "{", t.pos),
            Token("num", t.text[len(stem) :], t.pos + len(stem)),
            Token("sym", "}", t.pos),
        ]
    return out


# -- the structure the rules need: braces, arguments, names, places ----------------------------


def _brace_partners(tokens: list[Token]) -> dict[int, int]:
    """Index of each { -> index of the } that closes it (an unclosed { has none)."""
    partner: dict[int, int] = {}
    open_: list[int] = []
    for i, t in enumerate(tokens):
        if t.is_sym("{"):
            open_.append(i)
        elif t.is_sym("}") and open_:
            partner[open_.pop()] = i
    return partner


def _argument_count(t: Token) -> int:
    """How many arguments start right after t: one after ^ and _, two after \\frac."""
    if t.is_sym("^", "_"):
        return 1
    if t.kind == "cmd" and t.text in FRACTIONS:
        return 2
    return 1 if t.kind == "cmd" and t.text in NAME_COMMANDS else 0


def _argument_end(tokens: list[Token], j: int, partner: dict[int, int]) -> int | None:
    """Where the argument starting at j ends (exclusive), as the parser takes one: a {group}, or
    \\mathsf / \\mathrm with their own argument, or one token; None if there is none."""
    while j < len(tokens) and tokens[j].is_cmd(*NESTED_ARGUMENT):
        j += 1
    if j >= len(tokens) or tokens[j].kind == "end":
        return None
    if tokens[j].is_sym("{"):
        close = partner.get(j)
        return None if close is None else close + 1
    return j + 1


def _argument_tokens(tokens: list[Token], start: int, end: int) -> list[Token]:
    """The argument tokens[start:end] as the parser takes it: a group's inside, or \\mathsf T as
    \\mathsf{T}."""
    if tokens[start].is_sym("{"):
        return tokens[start + 1 : end - 1]
    if tokens[start].is_cmd(*NESTED_ARGUMENT):
        t = tokens[start]
        inner = _argument_tokens(tokens, start + 1, end)
        return [t, Token("sym", "{", t.pos), *inner, Token("sym", "}", t.pos)]
    return tokens[start:end]


def _first_of_argument(tokens: list[Token], start: int, end: int | None) -> int | None:
    """The index of the first token the parser takes in the argument tokens[start:end], if any."""
    if end is None:
        return None
    first = start + 1 if tokens[start].is_sym("{") else start
    return first if first < end - (first > start) else None


def _argument_text(tokens: list[Token], start: int, end: int) -> str:
    return "".join(t.text for t in _argument_tokens(tokens, start, end))


def _symbol_ends(tokens: list[Token], names: KnownNames) -> Callable[[int], bool]:
    """ends(i): whether tokens[:i] end with a symbol (W, \\delta, \\hat{y}, \\mathbf{W}) and what
    belongs to its name (_2, ^{(2)}, ^{\\prime}, a prime), so that a ^ at i is on a name, not on
    (...), a number or \\mathbf{1}. Each index is looked at once, however many ^ there are."""
    partner = _brace_partners(tokens)
    opener = {close: open_ for open_, close in partner.items()}
    known: dict[int, bool] = {}  # j -> whether tokens[: j + 1] end so

    def ends(i: int) -> bool:
        walked: list[int] = []
        j = i - 1
        while True:
            if j < 0 or j in known:
                found = j >= 0 and known[j]
                break
            walked.append(j)
            step = _symbol_step(tokens, j, opener, names)
            if isinstance(step, bool):
                found = step
                break
            j = step
        for k in walked:
            known[k] = found
        return found

    return ends


def _symbol_step(
    tokens: list[Token], j: int, opener: dict[int, int], names: KnownNames
) -> int | bool:
    """One step back from tokens[j] in `_symbol_ends`: the index before a decoration of a name
    (to look on from), or whether tokens[j] ends a name's base."""
    t = tokens[j]
    if t.is_sym("'"):
        return j - 1
    start = opener.get(j, -1) if t.is_sym("}") else j
    before = tokens[start - 1] if start > 0 else None
    if before is not None and before.is_sym("_"):
        return start - 2  # W_{2}: a subscript belongs to the name
    if before is not None and before.is_sym("^"):
        inner = tokens[start + 1 : j] if t.is_sym("}") else []
        layer = len(inner) == 3 and inner[0].is_sym("(", "[") and inner[2].is_sym(")", "]")
        if layer or (inner and inner[0].is_cmd("prime")):
            return start - 2  # W^{(2)}, W^{\\prime}
        return False  # W^2, W^T: a power or a transpose ends the name
    if before is not None and before.kind == "cmd" and before.text in NAME_COMMANDS:
        text = "".join(u.text for u in tokens[start + 1 : j]) if t.is_sym("}") else t.text
        return not (text in ONES and before.text in SPELLS_ONES) and before.text != "mathbb"
    if t.is_sym("}"):
        return False  # {x}, \\sqrt{x}, \\frac{a}{b}
    if t.kind == "cmd" and t.text in FUNCTION_LETTERS:
        # a name only where the spec has one and it is not applied: \\sigma'(z), \\sigma^{2}(z)
        after = tokens[j + 1 : j + 3]
        applied = bool(after) and (
            after[0].is_sym("'") or (after[0].is_sym("^") and after[-1].is_sym("{"))
        )
        return names.knows_word(t.text) and not applied
    return t.kind == "word" or (t.kind == "cmd" and t.text in GREEK)


def _places(tokens: list[Token], place: Place) -> Iterator[tuple[Token, Place]]:
    """Each token with where it stands (see `Place`); the tokens themselves stand at `place`."""
    partner = _brace_partners(tokens)
    regions: list[tuple[int, Place]] = []  # (index of a region's last token, its place), nested
    loss_at = -1  # the loss's name after \nabla_{W}
    for i, t in enumerate(tokens):
        while regions and regions[-1][0] < i:
            regions.pop()
        here = regions[-1][1] if regions else place
        yield t, "argument" if i == loss_at and t.kind == "word" else here
        region = _name_region(tokens, i, partner)
        if region is not None:
            regions.append(region)
            if t.is_cmd("nabla"):
                loss_at = region[0] + 1


def _name_region(tokens: list[Token], i: int, partner: dict[int, int]) -> tuple[int, Place] | None:
    """If a name's argument follows tokens[i], its last index and place: the {group} of \\hat or
    \\mathbf, the denominator of \\frac{\\partial J}{\\partial W}, the subscript of \\nabla_W."""
    t, nxt = tokens[i], i + 1
    if t.kind != "cmd" or nxt >= len(tokens):
        return None
    if t.text in NAME_COMMANDS:
        close = partner.get(nxt) if tokens[nxt].is_sym("{") else nxt
        return None if close is None else (close, "argument")
    if t.text == "nabla" and tokens[nxt].is_sym("_"):
        end = _argument_end(tokens, nxt + 1, partner)
        return None if end is None else (end - 1, "variable")
    if t.text not in FRACTIONS:
        return None
    num_end = _argument_end(tokens, nxt, partner)
    if num_end is None or num_end >= len(tokens) or not tokens[num_end].is_sym("{"):
        return None
    num = _argument_tokens(tokens, nxt, num_end)
    if not num or not num[0].is_cmd("partial"):  # a d is \partial already (rule 2)
        return None
    close = partner.get(num_end)
    return None if close is None else (close, "variable")
