"""A document as a LaTeX file (article, amsmath): one `_block_<Class>` method per part.

Text is escaped character by character (`tex_text`): TeX's special characters become commands
that print them, accented letters become accent commands, a few math symbols become math, and
anything else a `?`, so no text can start a command, a group or math. Math comes from the LaTeX
printer (`derive.latex`) and long rows are broken by `derive.linebreak`. The network's picture
is drawn with LaTeX's own `picture` environment from the layout of `derive.graph_svg`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from derive import display_rows as rows
from derive.chain_rule import Derivation
from derive.document import model as M
from derive.graph_svg import BOX_H, BOX_W, COLORS, LEGEND, box_caption, layout
from derive.greek import COMMANDS, FROM_UNICODE, LETTERS
from derive.latex import printer_for
from derive.linebreak import aligned_rows
from derive.spec import Spec
from derive.steps import Step

PREAMBLE = (
    r"\documentclass[11pt]{article}",
    r"\usepackage[margin=2cm]{geometry}",
    r"\usepackage{amsmath,amssymb}",
    r"\usepackage{graphicx,xcolor}",
    r"\allowdisplaybreaks",
    r"\setlength{\parindent}{0pt}",
    r"\setlength{\parskip}{0.5em}",
    r"\setlength{\emergencystretch}{2em}",
)
PICTURE_WIDTH_PT = 470.0  # the text is 483pt wide on A4 with 2cm margins
PICTURE_HEIGHT_PT = 560.0
PX_PT = 0.75  # the layout is in CSS pixels

_SPECIAL = {
    "\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
    "_": r"\_", "{": r"\{", "}": r"\}", '"': "''", "`": r"\`{}", "'": "'",
}  # fmt: skip
_ACCENT_COMMANDS = {
    "\u0301": "'", "\u0300": "`", "\u0302": "^", "\u0308": '"', "\u0303": "~", "\u0304": "=",
    "\u0327": "c", "\u030c": "v", "\u0306": "u", "\u030a": "r",
}  # fmt: skip
_SYMBOLS = {
    "⊙": r"$\odot$", "−": "-", "–": "--", "—": "---", "·": r"$\cdot$", "…": r"\dots{}",
    "∂": r"$\partial$", "′": "'", "ᵀ": r"\textsuperscript{T}", "≈": r"$\approx$",
    "≤": r"$\le$", "≥": r"$\ge$", "×": r"$\times$", "→": r"$\to$", "←": r"$\leftarrow$",
    "∞": r"$\infty$", "‖": r"$\|$", "ℓ": r"$\ell$", "∇": r"$\nabla$", "∑": r"$\sum$",
    "√": r"$\surd$", "“": "``", "”": "''", "‘": "`", "’": "'", "\u00a0": "~", "∘": r"$\circ$",
}  # fmt: skip
_BREAK_AFTER = set("/\\{}_|<>&=")  # a long "word" of markup may break after these
_CODE_BREAK_AFTER = set("})]/=,")
_SUPERSCRIPT = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻", "0123456789()+-", strict=True))
_SUBSCRIPT = dict(zip("₀₁₂₃₄₅₆₇₈₉₍₎₊₋", "0123456789()+-", strict=True))


def tex_text(text: str) -> str:
    """Plain text for TeX's text mode: every character either printed as itself (letters,
    digits, harmless punctuation) or replaced by a command that prints it; white space and
    control characters become one space, so a title or a prompt stays one paragraph."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        out.append(_tex_char(ch) + (r"\allowbreak{}" if ch in _BREAK_AFTER else ""))
    return "".join(out)


def _tex_char(ch: str) -> str:
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    if ch.isspace() or unicodedata.category(ch)[0] == "C":
        return " "
    if ch.isascii():
        return ch
    if ch in _SYMBOLS:
        return _SYMBOLS[ch]
    if ch in _SUPERSCRIPT:
        return rf"\textsuperscript{{{_SUPERSCRIPT[ch]}}}"
    if ch in _SUBSCRIPT:
        return rf"\textsubscript{{{_SUBSCRIPT[ch]}}}"
    greek = _greek(ch)
    if greek:
        return greek
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if base.isascii() and base.isalpha() and marks and all(m in _ACCENT_COMMANDS for m in marks):
        word = base if base not in "ij" else "\\" + base  # dotless i and j under an accent
        for m in marks:
            word = rf"\{_ACCENT_COMMANDS[m]}{{{word}}}"
        return word
    return "?"


_GREEK_COMMAND = {char: command for command, char in LETTERS.items()}  # ε: varepsilon, ϵ: epsilon


def _greek(ch: str) -> str | None:
    """A Greek letter as TeX's command, in math (derive.greek: TeX has no \\Alpha, no \\omicron)."""
    name = _GREEK_COMMAND.get(ch) or FROM_UNICODE.get(ch)
    return rf"$\{name}$" if name in COMMANDS else None


def tex_code(text: str) -> str:
    """Text shown as typed in a fixed-width font (LaTeX the student types); a line may break
    at a space or after a closing bracket, / or = (TeX does not hyphenate \\texttt)."""
    pieces = [
        _tex_char(ch) + (r"\allowbreak{}" if ch in _CODE_BREAK_AFTER else "")
        for ch in unicodedata.normalize("NFC", text)
    ]
    return r"\texttt{" + "".join(pieces) + "}"


def symbol_latex(part: M.Symbol) -> str:
    """A name, or ∂A/∂B, each part valid by the spec's name grammar (see `Symbol`)."""
    if part.upper is None:
        return part.name
    return rf"\frac{{\partial {part.upper}}}{{\partial {part.name}}}"


def math_latex(part: M.Math) -> str:
    return printer_for(part.spec).doprint(part.expr)


# -- a derivation's rows in LaTeX (derive.display_rows with the LaTeX printer) ----------------


def final_latex(deriv: Derivation, name: str) -> str:
    """The final form of ∂J/∂name, as LaTeX."""
    return printer_for(deriv.spec).doprint(deriv[name].final)


def rendered_steps(deriv: Derivation, name: str) -> list[tuple[Step, str]]:
    """Each step with its LaTeX right-hand side, a repeated one left out."""
    return rows.step_rows(printer_for(deriv.spec), deriv, name)


def step_lines(deriv: Derivation, name: str) -> list[str]:
    """The right-hand sides of ∂J/∂name = ... = ..., each a LaTeX string, without repeats."""
    return [text for _, text in rendered_steps(deriv, name)]


def rendered_where(deriv: Derivation, name: str) -> list[rows.WhereRow]:
    return rows.where_rows(printer_for(deriv.spec), deriv, name)


def where_lines(deriv: Derivation, name: str) -> list[str]:
    """The local factors and upstream gradients the steps use, each a LaTeX equation with its
    note, then the definition of each standardized value the steps show by its hat."""
    return [f"{r.lhs} = {r.rhs}" for r in rendered_where(deriv, name)]


def aligned_steps(deriv: Derivation, name: str) -> list[str]:
    """The steps as rows of an align environment: ∂J/∂name &= ..., &= ..., long ones broken."""
    return aligned_rows(printer_for(deriv.spec).grad(name), step_lines(deriv, name))


def aligned_where(deriv: Derivation, name: str) -> list[str]:
    """The where-lines as rows of an align environment, aligned at their first =."""
    out: list[str] = []
    for r in rendered_where(deriv, name):
        out.extend(aligned_rows(r.lhs, [r.rhs]))
    return out


def equations_latex(spec: Spec) -> list[str]:
    """The forward equations as rows of an align environment, long ones broken."""
    out: list[str] = []
    for lhs, rhs in rows.forward_rows(printer_for(spec), spec):
        out.extend(aligned_rows(lhs, [rhs]))
    return out


class LatexWriter:
    """Writes a Document; one method per block and inline class."""

    def write(self, doc: M.Document) -> str:
        out = [*PREAMBLE, r"\begin{document}"]
        out.append(r"\begin{center}")
        out.append(r"{\Large\bfseries " + tex_text(doc.title) + r"}\\[0.5em]")
        for line in doc.subtitle:
            out.append(self.inline(line) + r"\\")
        out.append(r"\end{center}")
        out.extend(self.block(b) for b in doc.blocks)
        out.append(r"\end{document}")
        return "\n".join(out) + "\n"

    def inline(self, parts: tuple[M.Inline, ...]) -> str:
        return "".join(self._inline(p) for p in parts)

    def _inline(self, part: M.Inline) -> str:
        if isinstance(part, M.Text):
            return tex_text(part.text)
        if isinstance(part, M.Strong):
            return r"\textbf{" + tex_text(part.text) + "}"
        if isinstance(part, M.Code):
            return tex_code(part.text)
        if isinstance(part, M.Symbol):
            return "$" + symbol_latex(part) + "$"
        return "$" + math_latex(part) + "$"

    def block(self, block: M.Block) -> str:
        method: Callable[[M.Block], str] = getattr(self, f"_block_{type(block).__name__}")
        return method(block)

    def _block_Section(self, b: M.Section) -> str:
        command = {1: "section", 2: "subsection"}.get(b.level, "subsubsection")
        head = rf"\{command}*{{{self.inline(b.title)}}}"
        return "\n".join([head, *(self.block(x) for x in b.blocks)])

    def _block_Paragraph(self, b: M.Paragraph) -> str:
        return self.inline(b.parts) + "\n"

    def _block_BulletList(self, b: M.BulletList) -> str:
        items = [r"\item " + self.inline(item) for item in b.items]
        return "\n".join([r"\begin{itemize}", *items, r"\end{itemize}"])

    def _block_Table(self, b: M.Table) -> str:
        cols = "l" * len(b.header)
        lines = [r"\begin{center}", rf"\begin{{tabular}}{{{cols}}}", r"\hline"]
        lines.append(" & ".join(r"\textbf{" + self.inline(c) + "}" for c in b.header) + r" \\")
        lines.append(r"\hline")
        for row in b.rows:
            lines.append(" & ".join(self.inline(c) for c in row) + r" \\")
        lines += [r"\hline", r"\end{tabular}", r"\end{center}"]
        return "\n".join(lines)

    def _block_Box(self, b: M.Box) -> str:
        inner = "\n".join(self.block(x) for x in b.blocks)
        return "\n".join(
            [
                r"\par\noindent\fbox{\begin{minipage}{\dimexpr\linewidth-2\fboxsep-2\fboxrule}",
                r"\textbf{" + tex_text(b.title) + r"}\par",
                inner,
                r"\end{minipage}}\par",
            ]
        )

    def _block_Equation(self, b: M.Equation) -> str:
        intro, rows = equation_rows(b.content)
        if isinstance(b.content, M.Final):
            return boxed(rows)
        return (intro + "\n" if intro else "") + _align(rows) if rows else ""

    def _block_Figure(self, b: M.Figure) -> str:
        return "\n".join(
            [
                r"\begin{center}",
                network_picture(b.spec),
                r"\par\smallskip{\small " + self.inline(b.caption) + "}",
                r"\end{center}",
            ]
        )


def _align(rows: list[str]) -> str:
    return "\n".join([r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"])


def equation_rows(c: M.EquationContent) -> tuple[str, list[str]]:
    """The rows of an equation's align environment, long ones broken, and the word set before
    them ("where" for the where-lines)."""
    if isinstance(c, M.Forward):
        return "", equations_latex(c.spec)
    if isinstance(c, M.Steps):
        return "", aligned_steps(c.deriv, c.name)
    if isinstance(c, M.Where):
        return "where", aligned_where(c.deriv, c.name)
    p = printer_for(c.deriv.spec)
    return "", aligned_rows(p.grad(c.name), [final_latex(c.deriv, c.name)])


def boxed(rows: list[str]) -> str:
    """Rows in a box (the final answer), broken as every other equation is."""
    return "\n".join(
        [
            r"\begin{equation*}",
            r"\boxed{\begin{aligned}",
            " \\\\\n".join(rows),
            r"\end{aligned}}",
            r"\end{equation*}",
        ]
    )


def network_picture(spec: Spec) -> str:
    """The computational graph in a `picture` (y upwards), scaled to fit the text width."""
    lay = layout(spec)
    scale = min(
        1.0, PICTURE_WIDTH_PT / (lay.width * PX_PT), PICTURE_HEIGHT_PT / (lay.height * PX_PT)
    )
    h = lay.height
    out = [
        rf"\scalebox{{{scale:.3f}}}{{\setlength{{\unitlength}}{{{PX_PT}pt}}%",
        rf"\begin{{picture}}({lay.width},{h})",
    ]
    for name, (x, y) in lay.pos.items():
        bottom = h - y - BOX_H
        color = COLORS[spec.role_of(name)].lstrip("#").upper()
        out.append(
            rf"\put({x},{bottom}){{\textcolor[HTML]{{{color}}}{{\rule{{{BOX_W}\unitlength}}"
            rf"{{{BOX_H}\unitlength}}}}}}"
        )
        frame = r"\dashbox{4}" if name in lay.fanout else r"\framebox"
        out.append(rf"\put({x},{bottom}){{{frame}({BOX_W},{BOX_H}){{}}}}")
        out.append(
            rf"\put({x + BOX_W // 2},{bottom + 25}){{\makebox(0,0){{${spec.latex_of(name)}$}}}}"
        )
        out.append(
            rf"\put({x + BOX_W // 2},{bottom + 9}){{\makebox(0,0){{\scriptsize "
            rf"{tex_text(box_caption(spec, name))}}}}}"
        )
    for a, b, k in lay.edges():
        (x1, y1), (x2, y2) = lay.pos[a], lay.pos[b]
        sx, sy = x1 + BOX_W, h - y1 - BOX_H // 2
        ex, ey = x2, h - y2 - BOX_H // 2
        mx, my = (sx + ex) // 2, (sy + ey) // 2 - 18 * k
        out.append(rf"\qbezier({sx},{sy})({mx},{sy - 18 * k})({mx},{my})")
        out.append(rf"\qbezier({mx},{my})({mx},{ey - 18 * k})({ex - 6},{ey})")
        out.append(rf"\put({ex - 6},{ey}){{\vector(1,0){{6}}}}")
    out.append(rf"\put(20,6){{\makebox(0,0)[l]{{\scriptsize {tex_text(LEGEND)}}}}}")
    out.append(r"\end{picture}}")
    return "\n".join(out)


def write_latex(doc: M.Document) -> str:
    return LatexWriter().write(doc)
