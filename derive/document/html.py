"""A document as one HTML file: math as MathML (`derive.mathml`), the network's SVG inline.

Works offline in every current browser: no script, no CDN, no web font; the style is in the
file. The markup is well-formed XML (XHTML syntax: every element closed, only the five XML
entities), so a test can parse it. Text goes through `derive.document.escape.html_text`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from derive import display_rows as rows
from derive.document import model as M
from derive.document.escape import html_code, html_text
from derive.graph_svg import network_svg
from derive.mathml import (
    MathmlPrinter,
    equation,
    math,
    mfrac,
    mi,
    mo,
    mrow,
    name_mathml,
)

# a picture keeps its own size: a wide graph scrolls inside its figure, not the page
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       color: #1f2328; line-height: 1.5; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
.subtitle { color: #57606a; margin: 0.1rem 0; }
section.question { border-top: 1px solid #d0d7de; margin-top: 2rem; }
math[display="block"] { margin: 0.4rem 0; overflow-x: auto; overflow-y: hidden; font-size: 1.15em; }
mtable { math-style: normal; }
mtd.lhs { text-align: right; padding: 0.15em 0; }
mtd.rhs { text-align: left; padding: 0.15em 0; }
.final { border: 2px solid #1f2328; padding: 0.2rem 1rem; display: inline-block; max-width: 100%;
         overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.2rem 0.7rem; text-align: left; }
aside.box { border: 2px solid #57606a; border-radius: 6px; padding: 0.3rem 1rem; margin: 1rem 0;
            background: #f6f8fa; }
figure { margin: 1rem 0; overflow-x: auto; }
figure svg { display: block; }
figcaption { color: #57606a; font-size: 0.9rem; }
code { background: #f6f8fa; padding: 0 0.2rem; border-radius: 3px; }
"""


class HtmlWriter:
    def write(self, doc: M.Document) -> str:
        return "\n".join(
            [
                "<!DOCTYPE html>",
                '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">',
                "<head>",
                '<meta charset="utf-8"/>',
                '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
                f"<title>{html_text(doc.title)}</title>",
                f"<style>{STYLE}</style>",
                "</head>",
                "<body>",
                self.fragment(doc),
                "</body>",
                "</html>",
                "",
            ]
        )

    def fragment(self, doc: M.Document) -> str:
        out = [f"<h1>{html_text(doc.title)}</h1>"]
        out += [f'<p class="subtitle">{self.inline(line)}</p>' for line in doc.subtitle]
        out += [self.block(b) for b in doc.blocks]
        return "\n".join(out)

    def inline(self, parts: tuple[M.Inline, ...]) -> str:
        return "".join(self._inline(p) for p in parts)

    def _inline(self, part: M.Inline) -> str:
        if isinstance(part, M.Text):
            return html_text(part.text)
        if isinstance(part, M.Strong):
            return f"<strong>{html_text(part.text)}</strong>"
        if isinstance(part, M.Code):
            return html_code(part.text)
        if isinstance(part, M.Symbol):
            name = name_mathml(part.name)
            if part.upper is None:
                return math(name, "inline")
            upper = mrow(mi("\u2202"), name_mathml(part.upper))
            return math(mfrac(upper, mrow(mi("\u2202"), name)), "inline")
        assert isinstance(part, M.Math)
        return math(MathmlPrinter.for_spec(part.spec).doprint(part.expr), "inline")

    def block(self, block: M.Block) -> str:
        method: Callable[[M.Block], str] = getattr(self, f"_block_{type(block).__name__}")
        return method(block)

    def _block_Section(self, b: M.Section) -> str:
        tag = f"h{min(b.level + 1, 6)}"
        cls = ' class="question"' if b.level == 1 else ""
        inner = "\n".join(self.block(x) for x in b.blocks)
        return f"<section{cls}>\n<{tag}>{self.inline(b.title)}</{tag}>\n{inner}\n</section>"

    def _block_Paragraph(self, b: M.Paragraph) -> str:
        return f"<p>{self.inline(b.parts)}</p>"

    def _block_BulletList(self, b: M.BulletList) -> str:
        items = "".join(f"<li>{self.inline(item)}</li>" for item in b.items)
        return f"<ul>{items}</ul>"

    def _block_Table(self, b: M.Table) -> str:
        head = "".join(f"<th>{self.inline(c)}</th>" for c in b.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{self.inline(c)}</td>" for c in row) + "</tr>" for row in b.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def _block_Box(self, b: M.Box) -> str:
        inner = "\n".join(self.block(x) for x in b.blocks)
        return f'<aside class="box">\n<h3>{html_text(b.title)}</h3>\n{inner}\n</aside>'

    def _block_Equation(self, b: M.Equation) -> str:
        c = b.content
        if isinstance(c, M.Forward):
            return _aligned(rows.forward_rows(MathmlPrinter.for_spec(c.spec), c.spec))
        if isinstance(c, M.Steps):
            p = MathmlPrinter.for_spec(c.deriv.spec)
            steps = [text for _, text in rows.step_rows(p, c.deriv, c.name)]
            return _aligned([(p.grad(c.name) if i == 0 else "", s) for i, s in enumerate(steps)])
        if isinstance(c, M.Where):
            p = MathmlPrinter.for_spec(c.deriv.spec)
            where = [(r.lhs, r.rhs) for r in rows.where_rows(p, c.deriv, c.name)]
            return "<p>where</p>\n" + _aligned(where) if where else ""
        assert isinstance(c, M.Final)
        p = MathmlPrinter.for_spec(c.deriv.spec)
        final = p.doprint(c.deriv[c.name].final)
        return f'<div class="final">{math(equation(p.grad(c.name), final))}</div>'

    def _block_Figure(self, b: M.Figure) -> str:
        svg = network_svg(b.spec)
        return f"<figure>\n{svg}<figcaption>{self.inline(b.caption)}</figcaption>\n</figure>"


def _aligned(rows: list[tuple[str, str]]) -> str:
    """Rows lhs = rhs aligned at their = signs (a two-column table, as LaTeX's align)."""
    cells = "".join(
        f'<mtr><mtd class="lhs">{lhs or "<mrow></mrow>"}</mtd>'
        f'<mtd class="rhs">{mrow(mo("="), rhs)}</mtd></mtr>'
        for lhs, rhs in rows
    )
    return math(f"<mtable>{cells}</mtable>")


def write_html(doc: M.Document) -> str:
    return HtmlWriter().write(doc)


def scoped_style(scope: str) -> str:
    """STYLE with every rule limited to the elements inside `scope` (body becomes the scope),
    so a document shown in a notebook does not restyle the notebook."""

    def rule(m: re.Match[str]) -> str:
        selectors = [s.strip() for s in m.group(1).split(",")]
        scoped = [scope if s == "body" else f"{scope} {s}" for s in selectors]
        return ", ".join(scoped) + " {" + m.group(2) + "}"

    return re.sub(r"([^{}]+)\{([^}]*)\}", rule, STYLE)


def html_fragment(doc: M.Document) -> str:
    """The body alone, with its style scoped to it: what Jupyter shows for a document."""
    style = scoped_style(".gradproof-document")
    body = HtmlWriter().fragment(doc)
    return f'<div class="gradproof-document"><style>{style}</style>\n{body}\n</div>'
