"""Long equations broken into rows that fit the page, as a textbook sets them.

A row of an `align*` that is wider than the text is broken before a top-level `+`, `−` or `⊙`, or
between the factors of a product, preferring the break least deep inside brackets; the continued
row is indented (`&\\qquad + …`). A `\\left( … \\right)` pair that a break splits is set as
`\\bigl( … \\bigr)`, since TeX cannot size a delimiter across rows. Widths are estimated from the
LaTeX itself in em (a letter about half an em, a fraction as wide as its wider part, scripts
smaller), which is accurate to a few ems: the page width used leaves that much to spare.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

# 11pt article with 2cm margins: 483pt of text on A4 (500pt on letter), 44 em; the estimate is
# within 0.9-1.16x of what TeX sets (measured on every report), so rows are planned at 37 em
ROW_WIDTH_EM = 37.0

_BINARY_COMMANDS = {"odot", "cdot", "oslash", "times", "le", "leq", "ge", "geq", "otimes"}
_ZERO_WIDTH = {
    "mathbf", "mathrm", "mathcal", "mathbb",
    "boldsymbol", "mathsf", "mathit", "hat", "bar", "tilde", "vec", "dot", "widehat",
    "widetilde", "overline", "displaystyle", "textstyle",
}  # fmt: skip
_GROUP_KINDS = {"frac": "num", "dfrac": "num", "tfrac": "num", "sqrt": "sqrt", "text": "text",
                "operatorname": "text"}  # fmt: skip


@dataclass
class _Frame:
    kind: str  # plain, num, den, script, sqrt, text
    width: float = 0.0
    numerator: float = 0.0


def latex_width(latex: str) -> float:
    """The printed width of a LaTeX math string, in em (an estimate)."""
    stack = [_Frame("plain")]
    pending = "plain"  # the kind of the next {group}
    script_next = False  # a ^ or _ whose argument is a single token
    numerator = 0.0
    i, n = 0, len(latex)
    while i < n:
        ch = latex[i]
        width = 0.0
        if ch == "\\":
            j = i + 1
            while j < n and latex[j].isalpha():
                j += 1
            name = latex[i + 1 : j] if j > i + 1 else latex[i + 1 : i + 2]
            i = j if j > i + 1 else i + 2
            if name in _GROUP_KINDS:
                pending = _GROUP_KINDS[name]
                continue
            if name in ("left", "right", "bigl", "bigr", "Bigl", "Bigr"):
                width = 0.17  # the thin space TeX puts around an inner (bracketed) atom
            elif name in _ZERO_WIDTH:
                continue
            else:
                width = {"quad": 1.0, "qquad": 2.0, ",": 0.17, ";": 0.28, "!": -0.17, "|": 0.5,
                         "cdot": 0.72, "partial": 0.57}.get(
                    name, 1.2 if name in _BINARY_COMMANDS else 0.65
                )  # fmt: skip
        elif ch == "{":
            stack.append(_Frame(pending, numerator=numerator))
            pending = "plain"
            i += 1
            continue
        elif ch == "}":
            i += 1
            if len(stack) == 1:
                continue
            frame = stack.pop()
            if frame.kind == "num":
                numerator, pending = frame.width, "den"
                continue
            if frame.kind == "den":
                width = max(frame.numerator, frame.width) + 0.2
            elif frame.kind == "script":
                width = 0.7 * frame.width
            elif frame.kind == "sqrt":
                width = frame.width + 1.0
            else:
                width = frame.width
        elif ch in "^_":
            i += 1
            if i < n and latex[i] == "{":
                pending = "script"
            else:
                script_next = True
            continue
        elif ch == " ":
            i += 1
            continue
        else:
            i += 1
            if ch in "+-":
                width = 1.2
            elif ch in "=<>":
                width = 1.33
            elif ch in "()[]|":
                width = 0.39
            elif ch in ",.;":
                width = 0.3
            elif ch.isdigit():
                width = 0.5
            elif ch.isupper():
                width = 0.8
            else:
                width = 0.52
        if script_next:
            width *= 0.7
            script_next = False
        stack[-1].width += width
    while len(stack) > 1:  # unbalanced: count what there is
        frame = stack.pop()
        stack[-1].width += frame.width
    return stack[0].width


@dataclass(frozen=True)
class _Break:
    at: int  # index in the string where the continued row starts
    depth: int  # \left-nesting at that point: 0 is top level
    operator: bool  # before + − ⊙ (True) or between product factors (False)


def _breaks_and_pairs(latex: str) -> tuple[list[_Break], list[tuple[int, int]]]:
    """Where a row may break (outside every {group}), and the \\left ... \\right pairs."""
    breaks: list[_Break] = []
    pairs: list[tuple[int, int]] = []
    lefts: list[int] = []
    braces = 0
    brackets = 0  # open ( and [ outside groups, sized or not: how deep a break would be
    i, n = 0, len(latex)
    while i < n:
        ch = latex[i]
        if ch == "\\":
            j = i + 1
            while j < n and latex[j].isalpha():
                j += 1
            name = latex[i + 1 : j]
            if name == "left":
                lefts.append(i)
            elif name == "right" and lefts:
                pairs.append((lefts.pop(), i))
            if braces == 0 and name in ("odot", "oslash", "cdot") and latex[i - 1 : i] == " ":
                breaks.append(_Break(i - 1, brackets, True))
            i = j if j > i + 1 else i + 2
            continue
        if ch == "{":
            braces += 1
        elif ch == "}":
            braces -= 1
        elif braces == 0 and ch in "([":
            brackets += 1
        elif braces == 0 and ch in ")]":
            brackets -= 1
        elif braces == 0 and ch == " " and i + 2 < n:
            before, after = latex[i - 1 : i], latex[i + 1 : i + 3]
            if after in ("+ ", "- ") and before not in ("(", "["):
                breaks.append(_Break(i, brackets, True))
            elif (
                before in (")", "}")
                and (after[0] in "\\(" or after[0].isalpha())
                and not latex.startswith(("\\right", "\\quad", "\\odot", "\\cdot"), i + 1)
            ):
                breaks.append(_Break(i, brackets, False))  # between the factors of a product
        i += 1
    return breaks, pairs


def break_latex(latex: str, first_width: float, width: float = ROW_WIDTH_EM) -> list[str]:
    """`latex` cut into pieces: the first fits in `first_width` em, the others in `width` em.

    Linear in the length: every break candidate lies outside all {groups}, so the width of a row
    is the sum of the widths of the stretches between candidates, each measured once.
    """
    total = latex_width(latex)
    if total <= first_width:
        return [latex]
    breaks, pairs = _breaks_and_pairs(latex)
    if not breaks:
        return [latex]
    # offset[k]: the width from the start to breaks[k]; the row from breaks[j] to breaks[k]
    # is offset[k] - offset[j]
    offset: list[float] = []
    at, run = 0, 0.0
    for b in breaks:
        run += latex_width(latex[at : b.at])
        offset.append(run)
        at = b.at
    chosen: list[int] = []
    start_width, limit = 0.0, first_width
    k = 0  # the first candidate after the row's start
    while total - start_width > limit and k < len(breaks):
        fitting: list[int] = []
        j = k
        while j < len(breaks) and offset[j] - start_width <= limit:
            fitting.append(j)
            j += 1
        if not fitting:  # nothing fits: break at the first place there is
            fitting = [k]
        # among the breaks in the row's second half, the one least deep in brackets, an
        # operator rather than a product, the latest of those
        half = [i for i in fitting if offset[i] - start_width >= limit / 2] or fitting
        best = max(half, key=lambda i: (-breaks[i].depth, breaks[i].operator, i))
        chosen.append(breaks[best].at)
        start_width, limit = offset[best], width
        k = best + 1
    return _split(latex, chosen, pairs) if chosen else [latex]


def _split(latex: str, cuts: list[int], pairs: list[tuple[int, int]]) -> list[str]:
    """Cut at `cuts`, sizing every \\left/\\right pair that a cut separates by hand."""
    replace: dict[int, str] = {}
    for left, right in pairs:
        first_after = bisect.bisect_right(cuts, left)  # cuts are in increasing order
        if first_after < len(cuts) and cuts[first_after] < right:
            # \\left is printed only around something tall (a fraction): Big is its size
            replace[left] = "\\Bigl"
            replace[right] = "\\Bigr"
    out: list[str] = []
    pieces: list[str] = []
    i = 0
    bounds = [*cuts, len(latex)]
    for cut in bounds:
        piece: list[str] = []
        while i < cut:
            word = (
                "\\left"
                if latex.startswith("\\left", i)
                else ("\\right" if latex.startswith("\\right", i) else None)
            )
            if word is not None and i in replace:
                piece.append(replace[i])
                i += len(word)
            else:
                piece.append(latex[i])
                i += 1
        pieces.append("".join(piece).strip())
        i = cut + 1 if cut < len(latex) else cut
    out.extend(p for p in pieces if p)
    return out


def aligned_rows(lhs: str, rhs: list[str], width: float = ROW_WIDTH_EM) -> list[str]:
    """Rows of an align: `lhs &= rhs[0]`, `&= rhs[1]`, …, each long one broken across rows."""
    rows: list[str] = []
    lead = latex_width(lhs) + 1.5
    for k, side in enumerate(rhs):
        # every row of an align shares the left column's width; a continued row is indented 2 em
        first, *rest = break_latex(side, width - lead, width - lead - 2.0)
        rows.append((f"{lhs} &= " if k == 0 else "&= ") + first)
        rows.extend(rf"&\qquad {piece}" for piece in rest)
    return rows
