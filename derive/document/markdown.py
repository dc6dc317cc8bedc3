"""A document as markdown with $…$ math (GitHub, Jupyter, pandoc): one method per part.

Text goes through `derive.document.escape` (escaped where markdown's grammar reads markup, invisible
characters shown as their code), what a student types is a code span, math is the LaTeX printer's,
and the network's picture is an image link to its SVG file beside the document.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

from derive.document import model as M
from derive.document.escape import md_code, md_text
from derive.document.latex import boxed, equation_rows, math_latex, symbol_latex


class MarkdownWriter:
    def write(self, doc: M.Document) -> str:
        out = [f"# {md_text(doc.title)}", ""]
        for line in doc.subtitle:
            out += [self.inline(line, block_start=True) + "  ", ""]
        for b in doc.blocks:
            out += [self.block(b, 2), ""]
        return "\n".join(out).rstrip("\n") + "\n"

    def inline(self, parts: tuple[M.Inline, ...], block_start: bool = False) -> str:
        """The parts in a row; `block_start` when they begin a paragraph or a list item."""
        return "".join(self._inline(p, block_start and i == 0) for i, p in enumerate(parts))

    def _inline(self, part: M.Inline, block_start: bool = False) -> str:
        if isinstance(part, M.Text):
            return md_text(part.text, block_start)
        if isinstance(part, M.Strong):
            return f"**{md_text(part.text)}**"
        if isinstance(part, M.Code):
            return md_code(part.text)
        if isinstance(part, M.Symbol):
            return f"${symbol_latex(part)}$"
        return f"${math_latex(part)}$"

    def block(self, block: M.Block, depth: int) -> str:
        method: Callable[[M.Block, int], str] = getattr(self, f"_block_{type(block).__name__}")
        return method(block, depth)

    def _block_Section(self, b: M.Section, depth: int) -> str:
        parts = [f"{'#' * min(b.level + 1, 6)} {self.inline(b.title)}"]
        parts += [self.block(x, depth) for x in b.blocks]
        return "\n\n".join(p for p in parts if p)

    def _block_Paragraph(self, b: M.Paragraph, depth: int) -> str:
        return self.inline(b.parts, block_start=True)

    def _block_BulletList(self, b: M.BulletList, depth: int) -> str:
        return "\n".join(f"- {self.inline(item, block_start=True)}" for item in b.items)

    def _block_Table(self, b: M.Table, depth: int) -> str:
        lines = ["| " + " | ".join(self.inline(c) for c in b.header) + " |"]
        lines.append("|" + "---|" * len(b.header))
        lines += ["| " + " | ".join(self.inline(c) for c in row) + " |" for row in b.rows]
        return "\n".join(lines)

    def _block_Box(self, b: M.Box, depth: int) -> str:
        inner = [f"**{md_text(b.title)}**", *(self.block(x, depth) for x in b.blocks)]
        text = "\n\n".join(inner)
        return "\n".join(("> " + line).rstrip() for line in text.splitlines())

    def _block_Equation(self, b: M.Equation, depth: int) -> str:
        intro, rows = equation_rows(b.content)
        if isinstance(b.content, M.Final):
            body = boxed(rows).splitlines()[1:-1]  # the box without the equation* around it
            return "\n".join(["$$", *body, "$$"])
        return (intro + "\n\n" if intro else "") + _display(rows) if rows else ""

    def _block_Figure(self, b: M.Figure, depth: int) -> str:
        if not b.file:  # no SVG written beside this file: nothing to link to
            return ""
        where = urllib.parse.quote(b.file, safe="/._-~")  # a URL: no space, ( ) or newline left
        return f"![{self.inline(b.caption)}]({where})"


def _display(rows: list[str]) -> str:
    return "\n".join(["$$", r"\begin{aligned}", " \\\\\n".join(rows), r"\end{aligned}", "$$"])


def write_markdown(doc: M.Document) -> str:
    return MarkdownWriter().write(doc)
