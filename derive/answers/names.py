"""How an answer's symbols map to spec names: W^{(2)}, W^{[2]}, W_2, \\mathbf{W}_2, W2 are one.

A symbol is reduced to a key (base letter or Greek name, layer index, accent); each spec name gets
the keys of its ascii name and of its `latex` field, so whatever notation the notes use, the
student may use the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from derive.greek import COMMANDS
from derive.spec import Spec

ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
           "widetilde": "tilde", "dot": "dot", "vec": ""}  # fmt: skip
WRAPPERS = {"mathbf", "boldsymbol", "bm", "mathit", "mathrm", "mathsf", "mathcal", "mathscr",
            "operatorname", "textbf", "text"}  # fmt: skip
GREEK = COMMANDS  # TeX's Greek letter commands (derive.greek)
# what a superscript holds for a transpose (W^T, W^{\top}, W^\mathsf{T}, W^{\mathsf T}), joined
TRANSPOSE_MARKS = {"T", "top", "intercal", "mathsf{T}", "mathrm{T}", "mathsfT", "mathrmT", "t",
                   "tr", "mathsf{t}", "mathrm{t}", "mathsft", "mathrmt"}  # fmt: skip


@dataclass(frozen=True)
class Key:
    base: str
    index: str = ""
    accent: str = ""
    # a superscript that is part of a spec's own name, as in \sigma^{2} for a variance
    sup: str = ""

    def show(self) -> str:
        text = self.base if self.base not in GREEK else "\\" + self.base
        if self.accent:
            text = f"\\{self.accent}{{{text}}}"
        if self.index:
            text = f"{text}^{{({self.index})}}"
        return f"{text}^{{{self.sup}}}" if self.sup else text


def key_of_ascii(name: str) -> Key:
    """W2 -> (W, 2); yhat -> (y, hat); a1 -> (a, 1); gamma -> (gamma)."""
    m = re.fullmatch(r"([A-Za-z]+?)(hat|bar|tilde)?_?(\d*)", name)
    if m and m.group(1):
        return Key(m.group(1), m.group(3), m.group(2) or "")
    return Key(name)


class NameTable:
    """Spec names by key, plus the dims (which read as scalars)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.by_key: dict[Key, str] = {}
        self.ascii: dict[str, str] = {n: n for n in spec.names()}
        for name in spec.names():
            self.by_key.setdefault(key_of_ascii(name), name)
        self.dims = set(spec.dims)

    def knows_word(self, word: str) -> bool:
        """Whether a word of several letters names something as a whole (yhat, W2, gamma, a dim),
        so that it is not read letter by letter."""
        if word in self.ascii or word in self.dims:
            return True
        return self.lookup(key_of_ascii(word)) is not None

    def is_name(self, word: str) -> bool:
        """Whether the word is a spec name exactly as typed (W2, yhat)."""
        return word in self.ascii

    def add_latex_key(self, key: Key, name: str) -> None:
        self.by_key.setdefault(key, name)

    def lookup(self, key: Key) -> str | None:
        hit = self.by_key.get(key)
        if hit is None and not key.index and not key.accent:
            hit = self.ascii.get(key.base)
        return hit

    def suggestions(self) -> str:
        shown = [self.spec.latex_of(n) for n in self.spec.names() if n != self.spec.loss]
        return ", ".join(shown)

    def closest(self, key: Key) -> str | None:
        import difflib

        labels = {k.show(): n for k, n in self.by_key.items()}
        close = difflib.get_close_matches(key.show(), list(labels), n=1, cutoff=0.5)
        return self.spec.latex_of(labels[close[0]]) if close else None
