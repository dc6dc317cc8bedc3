"""The parts of a document (a key, a sheet): text as text, math as trees or recorded steps.

No part holds LaTeX or markup: text is plain (each writer escapes it), math is an expression tree
of `derive.expr` or a step of a derivation, printed by the LaTeX or the MathML printer, and a
picture is a network, drawn by each writer its own way. So one document reads the same in every
format, and nothing typed in an assignment can become markup in any of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from derive import expr as E
from derive.chain_rule import Derivation
from derive.spec import Spec

# -- inline parts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    text: str


class Text(_Run):
    """Plain text, shown as written."""


class Strong(_Run):
    """Plain text, in bold."""


class Code(_Run):
    """Text shown as typed, in a fixed-width font (LaTeX to type, a file name)."""


@dataclass(frozen=True)
class Math:
    """An expression tree of a network, printed as math (a name: `E.Var`; ∂J/∂x: `E.GradRef`)."""

    spec: Spec
    expr: E.Expr


@dataclass(frozen=True)
class Symbol:
    """Math typed in an assignment that reads as a name by the spec's name grammar
    (`derive.spec.check_latex_name`: W^{(2)}, \\hat{y}), or as ∂A/∂B of two such names; built
    only by `symbol_of`, so a printer can set it as math. Any other math is shown as `Code`."""

    upper: str | None  # ∂upper/∂name; None: the name alone
    name: str


def symbol_of(latex: str) -> Symbol | None:
    """A prompt's $…$ span as a Symbol, or None when it is not one (then shown as typed)."""
    from derive.spec import check_latex_name

    text = latex.strip()
    m = _PARTIAL.fullmatch(text)
    if m:
        upper, lower = m.group(1).strip(), m.group(2).strip()
        if check_latex_name(upper) is None and check_latex_name(lower) is None:
            return Symbol(upper, lower)
        return None
    return Symbol(None, text) if check_latex_name(text) is None else None


_PARTIAL = re.compile(r"\\frac\{\\partial\s*([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}\{\\partial\s*"
                      r"([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")  # fmt: skip

Inline = Text | Strong | Code | Math | Symbol


# -- display math: what a derivation recorded ---------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """The network's forward equations, one row each."""

    spec: Spec


@dataclass(frozen=True)
class _OfGradient:
    deriv: Derivation
    name: str


class Steps(_OfGradient):
    """∂J/∂name = the chain = … = the final form (the rows of `derive.display_rows`)."""


class Where(_OfGradient):
    """The local factors and upstream gradients the steps of `name` use."""


class Final(_OfGradient):
    """The final answer ∂J/∂name = …, boxed."""


EquationContent = Forward | Steps | Where | Final


# -- blocks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Equation:
    """Display math: one recorded step of a derivation, or the forward equations."""

    content: EquationContent


@dataclass(frozen=True)
class Table:
    """A table of cells, each a run of inline parts; the first row is the header."""

    header: tuple[tuple[Inline, ...], ...]
    rows: tuple[tuple[tuple[Inline, ...], ...], ...]


@dataclass(frozen=True)
class Figure:
    """The picture of a network's computational graph; `file` is its SVG beside the document
    (for the formats that link to it rather than draw it)."""

    spec: Spec
    file: str
    caption: tuple[Inline, ...]


@dataclass(frozen=True)
class BulletList:
    items: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True)
class Box:
    """A framed block with a title (the boxed "how to type your answer" note)."""

    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Section:
    """A heading (level 1 a section, 2 a subsection) and what comes under it."""

    title: tuple[Inline, ...]
    blocks: tuple[Block, ...]
    level: int = 1


Block = Paragraph | Equation | Table | Figure | BulletList | Box | Section


@dataclass(frozen=True)
class Document:
    """A whole document: a title, lines under it (course, due date), then blocks."""

    title: str
    subtitle: tuple[tuple[Inline, ...], ...]
    blocks: tuple[Block, ...]
    kind: str = "document"  # "answer-key", "sheet": the stem of the files written

    def walk(self) -> list[Block]:
        """Every block, those inside sections and boxes included, in reading order."""
        out: list[Block] = []

        def visit(blocks: tuple[Block, ...]) -> None:
            for b in blocks:
                out.append(b)
                if isinstance(b, (Section, Box)):
                    visit(b.blocks)

        visit(self.blocks)
        return out

    def figures(self) -> list[Figure]:
        return [b for b in self.walk() if isinstance(b, Figure)]

    def _repr_html_(self) -> str:
        from derive.document.html import html_fragment

        return html_fragment(self)

    def _repr_markdown_(self) -> str:
        from derive.document.markdown import write_markdown

        return write_markdown(self)
