"""A picture of the network: its computational graph as SVG, each edge a use of a name.

Variables sit in the first column, each equation one column right of its latest input; an edge
is a use of a name in an equation. A name with several outgoing edges (a fan-out) is drawn with a
dashed border: its gradient is the sum over those edges. Pure SVG text, no drawing library.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html import escape as _escape_markup

from derive import expr as E
from derive.greek import LETTERS
from derive.spec import Spec

COLORS = {
    "input": "#dbeafe",
    "target": "#e5e7eb",
    "param": "#fde68a",
    "intermediate": "#d1fae5",
    "loss": "#fecaca",
}
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 120, 40, 70, 24, 20

_SUPERSCRIPTS = str.maketrans("0123456789()T", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾ᵀ")
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_ACCENT = {"hat": "\u0302", "widehat": "\u0302", "bar": "\u0304", "tilde": "\u0303"}


def plain(latex: str) -> str:
    """A LaTeX name as Unicode text: \\hat{y} -> ŷ, W^{(2)} -> W⁽²⁾, \\mathcal{J}(W) -> J(W)."""
    text = latex
    for name, mark in _ACCENT.items():
        text = re.sub(rf"\\{name}\{{(\w)\}}", rf"\g<1>{mark}", text)
    wrappers = "mathcal|mathbf|boldsymbol|mathrm|operatorname|bm"
    text = re.sub(rf"\\({wrappers})\{{([^{{}}]*)\}}", r"\2", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: LETTERS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"\^\{([^{}]*)\}", lambda m: m.group(1).translate(_SUPERSCRIPTS), text)
    text = re.sub(r"_\{([^{}]*)\}", lambda m: m.group(1).translate(_SUBSCRIPTS), text)
    text = re.sub(r"\^(\w)", lambda m: m.group(1).translate(_SUPERSCRIPTS), text)
    text = re.sub(r"_(\w)", lambda m: m.group(1).translate(_SUBSCRIPTS), text)
    return unicodedata.normalize("NFC", text.replace("{", "").replace("}", ""))


def escape(text: str) -> str:
    """Text for an SVG element or attribute: & < > " ' escaped, and every character XML 1.0 does
    not allow (NUL and the other C0 controls but tab and newline, lone surrogates, U+FFFE/FFFF)
    replaced by U+FFFD, so a spec cannot add markup or make the file unreadable."""
    kept = _XML_INVALID.sub("\ufffd", text)
    return _escape_markup(kept, quote=True)


_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Layout:
    """Where each box of the graph sits (its top-left corner, y downwards) and the uses between
    them, in pixels: what the SVG and LaTeX pictures both draw."""

    width: int
    height: int
    pos: dict[str, tuple[int, int]]
    uses: list[tuple[str, str]]  # (name, the equation using it), once per use
    fanout: set[str]  # names used more than once

    def edges(self) -> list[tuple[str, str, int]]:
        """Each use with its number among the uses of the same pair (0, 1, ...): its bend."""
        seen: dict[tuple[str, str], int] = {}
        out = []
        for a, b in self.uses:
            k = seen.get((a, b), 0)
            seen[(a, b)] = k + 1
            out.append((a, b, k))
        return out


def layout(spec: Spec) -> Layout:
    """Variables in the first column, each equation one column right of its latest input."""
    column: dict[str, int] = {name: 0 for name in spec.variables}
    uses: list[tuple[str, str]] = []
    for eq in spec.equations:
        inputs = [n.name for n in E.walk_nodes(eq.expr) if isinstance(n, E.Var)]
        for name in dict.fromkeys(inputs):  # each use is an edge: x.T @ A @ x uses x twice
            uses.extend([(name, eq.name)] * inputs.count(name))
        column[eq.name] = 1 + max((column[n] for n in inputs), default=0)
    # each variable sits just left of the first equation that uses it, as in a textbook figure
    for name in spec.variables:
        consumers = [column[b] for a, b in uses if a == name]
        column[name] = max(min(consumers) - 1, 0) if consumers else 0
    rows: dict[int, list[str]] = {}
    for name in [*spec.intermediates, *spec.variables]:
        rows.setdefault(column[name], []).append(name)
    pos: dict[str, tuple[int, int]] = {}
    for col, names in rows.items():
        for row, name in enumerate(names):
            pos[name] = (MARGIN + col * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y))
    width = max(MARGIN * 2 + (max(rows) + 1) * (BOX_W + GAP_X) - GAP_X, 480)
    height = MARGIN * 2 + max(len(v) for v in rows.values()) * (BOX_H + GAP_Y) - GAP_Y + 30
    fanout = {n for n in spec.names() if sum(1 for a, _ in uses if a == n) > 1}
    return Layout(width, height, pos, uses, fanout)


def box_caption(spec: Spec, name: str) -> str:
    """The second line of a box: its role and size (h×n, scalar)."""
    shape = spec.shape_of(name)
    size = "scalar" if shape == E.SCALAR else f"{shape[0]}×{shape[1]}"
    return f"{spec.role_of(name)}, {size}"


LEGEND = "dashed border: used more than once; its gradient sums the edges"


def network_svg(spec: Spec) -> str:
    """The spec's computational graph as an SVG document."""
    lay = layout(spec)
    width, height, pos, fanout = lay.width, lay.height, lay.pos, lay.fanout
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="14">',
        f"<title>{escape(spec.title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for a, b, k in lay.edges():
        (x1, y1), (x2, y2) = pos[a], pos[b]
        bend = 18 * k
        sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        mx = (sx + ex) / 2
        out.append(
            f'<path d="M{sx},{sy} C{mx},{sy + bend} {mx},{ey + bend} {ex},{ey}" fill="none" '
            'stroke="#555" stroke-width="1.4" marker-end="url(#arrow)"/>'
        )
    for name in spec.names():
        x, y = pos[name]
        role = spec.role_of(name)
        label = plain(spec.latex_of(name))
        border = (
            'stroke-width="3" stroke-dasharray="6 2"' if name in fanout else 'stroke-width="1.2"'
        )
        out.append(
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
            f'fill="{COLORS[role]}" stroke="#333" {border}/>'
        )
        out.append(
            f'<text x="{x + BOX_W / 2}" y="{y + 17}" text-anchor="middle">{escape(label)}</text>'
        )
        out.append(
            f'<text x="{x + BOX_W / 2}" y="{y + 33}" text-anchor="middle" font-size="11" '
            f'fill="#444">{escape(box_caption(spec, name))}</text>'
        )
    out.append(f'<text x="{MARGIN}" y="{height - 10}" font-size="11" fill="#444">{LEGEND}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
