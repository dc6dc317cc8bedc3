"""Tokens of a LaTeX math answer: commands, words, numbers and single symbols, with positions.

Spacing and sizing commands (`\\,`, `\\quad`, `\\left`, `\\right`, `\\big`, ...) are dropped
here, so the parser sees `\\left( x \\right)` as `( x )`.
"""

from __future__ import annotations

from dataclasses import dataclass

from derive.errors import AnswerError

MAX_TOKENS = 20_000

SKIPPED = {
    ",", ";", ":", "!", " ", "quad", "qquad", "left", "right", "big", "Big", "bigg", "Bigg",
    "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "displaystyle",
    "textstyle", "limits", "nolimits", "middle",
}  # fmt: skip


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


def tokenize(text: str) -> list[Token]:
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
