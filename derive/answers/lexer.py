"""Tokens of a LaTeX math answer: commands, words, numbers and single symbols, with positions.

Spacing and sizing commands (`\\,`, `\\quad`, `\\left`, `\\right`, `\\big`, ...) are dropped
here, so the parser sees `\\left( x \\right)` as `( x )`. Unicode math (as typed on a phone or
copied from a PDF: `ŷ`, `Wᵀ`, `⊙`, `−`, `σ`, `x²`) is first rewritten to LaTeX by one table,
`UNICODE_LATEX`; positions in errors still point into the text as typed. The spellings that
stand for other tokens (x^Tx, W^T_2, W2, xy) are rewritten next, by `derive.answers.normalize`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from derive.errors import AnswerError
from derive.greek import FROM_UNICODE

MAX_TOKENS = 20_000

SKIPPED = {
    ",", ";", ":", "!", " ", "quad", "qquad", "left", "right", "big", "Big", "bigg", "Bigg",
    "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "displaystyle",
    "textstyle", "limits", "nolimits", "middle",
}  # fmt: skip


_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789", strict=True))

# Unicode math -> LaTeX, applied before compatibility normalisation (which would turn ᵀ into a
# plain T and ² into a plain 2). Greek letters come from their Unicode names.
UNICODE_LATEX: dict[str, str] = {
    "ᵀ": "^{T}", "⊤": "^{T}", "⊙": r"\odot ", "∘": r"\circ ", "⚬": r"\circ ",
    "−": "-", "–": "-", "·": r"\cdot ", "⋅": r"\cdot ", "×": r"\times ", "√": r"\sqrt ",
    "ℓ": r"\ell ", "∂": r"\partial ", "∇": r"\nabla ", "∑": r"\sum ", "′": "'", "″": "''",
    "𝟙": r"\mathbb{1}", "⊗": r"\otimes ", "ε": r"\epsilon ", "ϵ": r"\epsilon ", "ϕ": r"\phi ",
    "λ": r"\lambda ", "Λ": r"\Lambda ",
    **{c: f"^{{{d}}}" for c, d in _SUPERSCRIPTS.items()},
    **{c: f"_{{{d}}}" for c, d in _SUBSCRIPTS.items()},
    **{char: f"\\{name} " for char, name in FROM_UNICODE.items()},
}  # fmt: skip
# combining accents (ŷ is y + U+0302 once decomposed)
COMBINING_ACCENTS = {"\u0302": "hat", "\u0304": "bar", "\u0305": "bar", "\u0303": "tilde",
                     "\u0307": "dot", "\u20d7": "vec"}  # fmt: skip


def to_latex(text: str) -> tuple[str, list[int]]:
    """Unicode math rewritten to LaTeX, with each output character's position in the input."""
    if text.isascii():
        return text, list(range(len(text) + 1))
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(unicodedata.normalize("NFC", text)):
        pieces = UNICODE_LATEX.get(ch)
        if pieces is None:
            decomposed = unicodedata.normalize("NFKD", ch)
            base, marks = decomposed[:1], decomposed[1:]
            if marks and all(m in COMBINING_ACCENTS for m in marks):
                pieces = UNICODE_LATEX.get(base, base)
                for m in marks:
                    pieces = f"\\{COMBINING_ACCENTS[m]}{{{pieces}}}"
            elif ch in COMBINING_ACCENTS and out:
                # an accent typed after its letter: wrap the letter just written
                prev = out.pop()
                start = origin[-len(prev)]
                del origin[-len(prev) :]
                out.append(f"\\{COMBINING_ACCENTS[ch]}{{{prev}}}")
                origin += [start] * len(out[-1])
                continue
            else:
                pieces = "".join(UNICODE_LATEX.get(c, c) for c in unicodedata.normalize("NFKC", ch))
        out.append(pieces)
        origin += [i] * len(pieces)
    origin.append(len(text))
    return "".join(out), origin


@dataclass(frozen=True)
class Token:
    kind: str  # "cmd" (name without backslash), "word", "num", "sym", "end"
    text: str
    pos: int

    def is_sym(self, *texts: str) -> bool:
        return self.kind == "sym" and self.text in texts

    def is_cmd(self, *names: str) -> bool:
        return self.kind == "cmd" and self.text in names

    def show(self) -> str:
        if self.kind == "end":
            return "the end of the answer"
        return "\\" + self.text if self.kind == "cmd" else repr(self.text)


def tokenize(typed: str) -> list[Token]:
    text, origin = to_latex(typed)
    try:
        tokens = _tokens(text)
    except AnswerError as err:
        where = None if err.position is None else origin[min(err.position, len(text))]
        raise AnswerError(err.detail, where, err.hint) from None
    if text is typed:
        return tokens
    return [Token(t.kind, t.text, origin[min(t.pos, len(text))]) for t in tokens]


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or ch == "~" or ch == "&":
            i += 1
            continue
        if ch == "%":  # a LaTeX comment runs to the end of the line
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch == "\\":
            j = i + 1
            if j < n and text[j].isalpha():
                while j < n and text[j].isalpha():
                    j += 1
                name = text[i + 1 : j]
            elif j < n:
                name, j = text[j], j + 1
            else:
                raise AnswerError("a backslash ends the answer", i)
            if name in SKIPPED:
                if name in ("left", "right", "middle") and j < n and text[j] == ".":
                    j += 1  # \left. and \right. are empty delimiters
                i = j
                continue
            tokens.append(Token("cmd", name, i))
            i = j
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            tokens.append(Token("num", text[i:j], i))
            i = j
        elif ch.isalpha():
            j = i
            while j < n and text[j].isascii() and text[j].isalnum():
                j += 1
            if j == i:
                raise AnswerError(f"the character {ch!r} is not LaTeX math", i)
            tokens.append(Token("word", text[i:j], i))
            i = j
        elif ch in "+-*/=^_'(){}[]|,<>!":
            tokens.append(Token("sym", ch, i))
            i += 1
        elif ch in "$":
            i += 1  # math delimiters around the whole answer
        else:
            raise AnswerError(f"the character {ch!r} is not part of LaTeX math", i)
        if len(tokens) > MAX_TOKENS:
            raise AnswerError(f"the answer has more than {MAX_TOKENS} tokens", i)
    tokens.append(Token("end", "", n))
    return tokens
