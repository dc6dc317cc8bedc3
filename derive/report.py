"""Derivations as documents: step-by-step LaTeX, markdown and JSON, built from the recorded steps.

The steps follow the course notes: the chain of partial derivatives, the same chain regrouped on
the nearest named upstream gradient (∂J/∂z · ∂z/∂W⁽¹⁾), the matrix form with that gradient kept
as a name, the final form, then each local factor and upstream gradient listed under it.
"""

from __future__ import annotations

import json
import re
import unicodedata
import urllib.parse
from collections.abc import Sequence
from typing import Any

from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.chain_rule import (
    COMPOSITE,
    DIRECT,
    ELEMENTWISE,
    IDENTITY,
    LEFT,
    RIGHT,
    SCALAR,
    Derivation,
    Gradient,
)
from derive.latex import LatexPrinter, delimit, standardized_names
from derive.linebreak import aligned_rows
from derive.spec import Spec, fmt_shape
from derive.sympy_form import ascii_form

SIDES = {
    LEFT: "multiplies from the left",
    RIGHT: "multiplies from the right",
    ELEMENTWISE: "elementwise product",
    SCALAR: "a scalar factor",
    IDENTITY: "passes the gradient through",
}


def printer_for(spec: Spec) -> LatexPrinter:
    """The spec's printer, one per spec: its memo of printed subtrees is shared by every
    gradient (a deep network's gradients share most of their trees)."""
    printer = spec.__dict__.get("_printer")
    if printer is None:
        printer = LatexPrinter(spec.latex_of, spec.loss, standardized_names(spec))
        object.__setattr__(spec, "_printer", printer)
    assert isinstance(printer, LatexPrinter)
    return printer


def final_latex(deriv: Derivation, name: str) -> str:
    return printer_for(deriv.spec).doprint(deriv[name].final)


def step_lines(deriv: Derivation, name: str) -> list[str]:
    """The right-hand sides of ∂J/∂name = ... = ..., each a LaTeX string, without repeats."""
    p = printer_for(deriv.spec)
    g = deriv[name]
    lines: list[str] = []
    if g.chain and len(g.chain) > 3:
        links = [p.local(a, b) for a, b in zip(g.chain[1:], g.chain[2:], strict=False)]
        lines.append(r" \cdot ".join([p.grad(g.chain[1]), *links]))
    edge_terms = [
        rf"{p.grad(e.consumer)} \cdot {p.local(e.consumer, name)}"
        for e in g.edges
        if e.kind != DIRECT
    ]
    distinct = len(set(edge_terms)) == len(edge_terms)
    if edge_terms and len(g.edges) == len(edge_terms) and distinct:
        lines.append(" + ".join(edge_terms))
    local = p.doprint(g.local)
    final = p.doprint(g.final)
    if local not in lines:
        lines.append(local)
    if final not in lines:
        lines.append(final)
    return lines


def aligned_steps(deriv: Derivation, name: str) -> list[str]:
    """The steps as rows of an align environment: ∂J/∂name &= ..., &= ..., long ones broken."""
    p = printer_for(deriv.spec)
    return aligned_rows(p.grad(name), step_lines(deriv, name))


def aligned_where(deriv: Derivation, name: str) -> list[str]:
    """The where-lines as rows of an align environment, aligned at their first =."""
    rows: list[str] = []
    for line in where_lines(deriv, name):
        lhs, _, rhs = line.partition(" = ")
        rows.extend(aligned_rows(lhs, [rhs]))
    return rows


def where_lines(deriv: Derivation, name: str) -> list[str]:
    """The local factors and upstream gradients the steps use, as LaTeX equations with a note."""
    p = printer_for(deriv.spec)
    g = deriv[name]
    out: list[str] = []
    seen: set[str] = set()
    for e in g.edges:
        if e.kind in (DIRECT, COMPOSITE) or e.factor is None:
            continue
        lhs = p.local(e.consumer, name)
        factor = p.doprint(e.factor)
        if e.activation and e.activation_arg is not None:
            act = ACTIVATIONS[e.activation].latex
            arg = p.doprint(e.activation_arg)
            line = f"{lhs} = {act}'{delimit('(', ')', arg)} = {factor}"
        else:
            line = f"{lhs} = {factor}"
        note = SIDES.get(e.kind, "")
        if line not in seen:
            seen.add(line)
            out.append(line + (rf" \quad \text{{({note})}}" if note else ""))
    for e in g.edges:
        if e.consumer != deriv.spec.loss and e.consumer not in seen:
            seen.add(e.consumer)
            out.append(f"{p.grad(e.consumer)} = {final_latex(deriv, e.consumer)}")
    for node in standardized_in(p, g):
        line = f"{p.standardized[node]} = {p.standardize_definition(node)}"
        out.append(line + r" \quad \text{(per row, over the batch)}")
    return out


def standardized_in(p: LatexPrinter, g: Gradient) -> list[E.Standardize]:
    """The standardized values a gradient's steps show by their hat (Ẑ of a batch norm)."""
    found: list[E.Standardize] = []
    for e in g.edges:
        for node in E.walk_nodes(e.contribution):
            if isinstance(node, E.Standardize) and node in p.standardized and node not in found:
                found.append(node)
    return found


def fanout_note(g: Gradient) -> str | None:
    if len(g.edges) < 2:
        return None
    return (
        f"{g.wrt} is used {len(g.edges)} times (fan-out): its gradient is the sum of the "
        "gradients flowing back along each edge"
    )


def equations_latex(spec: Spec) -> list[str]:
    """The forward equations as rows of an align environment, long ones broken."""
    p = printer_for(spec)
    rows: list[str] = []
    defined: set[E.Expr] = set()
    for eq in spec.equations:
        # an equation that standardizes is written out: Ẑ = (Z − E[Z]) / √(V(Z) + ε)
        e = eq.expr
        rhs = p.standardize_definition(e) if isinstance(e, E.Standardize) else p.doprint(e)
        rows.extend(aligned_rows(spec.latex_of(eq.name), [rhs]))
        # and so is a standardized value shown by its hat (inside a batch norm), once
        for node in E.walk_nodes(e):
            hat = p.standardized.get(node)
            if hat is not None and node not in defined and isinstance(node, E.Standardize):
                defined.add(node)
                rows.extend(aligned_rows(hat, [p.standardize_definition(node)]))
    return rows


def _normalization_note(spec: Spec) -> str:
    """What E and V mean, for a spec that standardizes."""
    if not any(
        isinstance(n, E.Standardize) for eq in spec.equations for n in E.walk_nodes(eq.expr)
    ):
        return ""
    return (
        r" $\operatorname{E}$ and $\operatorname{V}$ are the mean and the (biased) variance of "
        "each row over the columns (the batch), broadcast over the columns where they meet a "
        "matrix."
    )


# -- whole documents ----------------------------------------------------------------------------


def to_latex_document(deriv: Derivation, names: Sequence[str]) -> str:
    spec = deriv.spec
    p = printer_for(spec)
    out = [
        r"\documentclass[11pt]{article}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\usepackage{amsmath,amssymb}",
        r"\allowdisplaybreaks",
        rf"\title{{{_tex_text(spec.title)}}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
    ]
    if spec.description:
        out.append(_tex_paragraphs(spec.description) + "\n")
    out.append(r"\section*{Network}")
    out.append(r"\begin{align*}")
    out.append(" \\\\\n".join(equations_latex(spec)))
    out.append(r"\end{align*}")
    out.append(
        "Gradients are in denominator layout: each has the shape of its variable. "
        r"$\odot$ is the elementwise product, $\mathbf{1}$ a vector of ones."
        + _normalization_note(spec)
    )
    out.append(r"\section*{Gradients}")
    for name in names:
        g = deriv[name]
        shape = _tex_text(fmt_shape(g.shape))
        out.append(rf"\subsection*{{${p.grad(name)}$ \quad {shape}}}")
        body = aligned_steps(deriv, name)
        out.append(r"\begin{align*}")
        out.append(" \\\\\n".join(body))
        out.append(r"\end{align*}")
        note = fanout_note(g)
        if note:
            out.append(_tex_text(note) + "\n")
        where = aligned_where(deriv, name)
        if where:
            out.append(r"where")
            out.append(r"\begin{align*}")
            out.append(" \\\\\n".join(where))
            out.append(r"\end{align*}")
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def to_markdown(deriv: Derivation, names: Sequence[str], picture: str | None = None) -> str:
    spec = deriv.spec
    p = printer_for(spec)
    out = [f"# {_md_text(spec.title)}", ""]
    for paragraph in _md_paragraphs(spec.description):
        out += [paragraph, ""]
    out += ["## Network", ""]
    if picture:
        where = urllib.parse.quote(picture, safe="/._-~")  # a URL: no space, ( ) or newline left
        out += [f"![the computational graph of {_md_text(spec.title)}]({where})", ""]
    out += ["$$", r"\begin{aligned}"]
    out.append(" \\\\\n".join(equations_latex(spec)))
    out += [r"\end{aligned}", "$$", ""]
    out.append(
        "Gradients are in denominator layout: each has the shape of its variable. "
        "$\\odot$ is the elementwise product, $\\mathbf{1}$ a vector of ones."
        + _normalization_note(spec)
    )
    out += ["", "## Gradients", ""]
    for name in names:
        g = deriv[name]
        out.append(f"### ${p.grad(name)}$ ({fmt_shape(g.shape)})")
        out.append("")
        body = aligned_steps(deriv, name)
        out += ["$$", r"\begin{aligned}", " \\\\\n".join(body), r"\end{aligned}", "$$", ""]
        note = fanout_note(g)
        if note:
            out += [note, ""]
        for line in where_lines(deriv, name):
            out.append(f"- ${line}$")
        out.append("")
    return "\n".join(out)


def to_json_data(deriv: Derivation, names: Sequence[str]) -> dict[str, Any]:
    spec = deriv.spec
    grads = []
    for name in names:
        g = deriv[name]
        grads.append(
            {
                "wrt": name,
                "role": g.role,
                "shape": [g.shape[0], g.shape[1]],
                "sympy": ascii_form(g.final),
                "latex": final_latex(deriv, name),
                "steps": step_lines(deriv, name),
                "where": where_lines(deriv, name),
                "edges": [
                    {"from": e.consumer, "kind": e.kind, "activation": e.activation}
                    for e in g.edges
                ],
                "chain": list(g.chain) if g.chain else None,
            }
        )
    return {
        "title": spec.title,
        "source": spec.source,
        "loss": spec.loss,
        "layout": "denominator",
        "dims": spec.dims,
        "warnings": list(spec.warnings),
        "gradients": grads,
    }


def to_json(deriv: Derivation, names: Sequence[str]) -> str:
    return json.dumps(to_json_data(deriv, names), indent=2, ensure_ascii=False) + "\n"


def tex_text(text: str) -> str:
    """Plain text (ours or a spec's) safe for LaTeX's text mode; see `_tex_text`."""
    return _tex_text(text)


def _tex_text(text: str) -> str:
    """Plain text made safe for LaTeX's text mode: every character TeX would read as markup is
    escaped, and control characters (newlines included: a blank line inside \\title is an error)
    become spaces, so nothing in the text can start a command, a group, math or ^^ escapes."""
    out = []
    for ch in text:
        if ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch in _TEX_TEXT_COMMANDS:
            out.append(_TEX_TEXT_COMMANDS[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(" ")
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(_UNICODE_TEXT.get(ch, "?"))
    return "".join(out)


def _tex_paragraphs(text: str) -> str:
    """A description for TeX: its blank-line-separated paragraphs kept, each escaped."""
    paragraphs = [p for p in re.split(r"\n[ \t\r]*\n", text) if p.strip()]
    return "\n\n".join(_tex_text(p) for p in paragraphs)


# in the OT1 encoding < > | print as other glyphs; \ ^ ~ are markup
_TEX_TEXT_COMMANDS = {
    "\\": r"\textbackslash{}",
    "^": r"\^{}",
    "~": r"\~{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def _md_text(text: str) -> str:
    """Plain text made inert in markdown: no raw HTML, links, emphasis, code or $ math in it.

    < and & become entities; the punctuation markdown reads as markup anywhere in a line is
    backslash-escaped (CommonMark renders an escaped punctuation character as itself); control
    characters, newlines included, become spaces, so the text stays on its line (a heading stays
    one heading).
    """
    out = []
    for ch in text:
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch in "\\`*_[]#$~":
            out.append("\\" + ch)
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _md_paragraphs(text: str) -> list[str]:
    """A description for markdown: its paragraphs, each escaped onto one line (a leading - + =
    > escaped too, so that a paragraph cannot turn into a list, a rule or a quote)."""
    out = []
    for p in re.split(r"\n[ \t\r]*\n", text):
        line = _md_text(p.strip())
        if line:
            out.append("\\" + line if line[0] in "-+=>" else line)
    return out


_MD_ENTITIES = {"&": "&amp;", "<": "&lt;"}  # no tag, comment or entity can start


_UNICODE_TEXT = {
    "⊙": r"$\odot$", "−": "-", "·": r"$\cdot$", "ŷ": r"$\hat{y}$", "…": "...",
    "∂": r"$\partial$", "σ": r"$\sigma$", "δ": r"$\delta$", "Σ": r"$\Sigma$", "′": "'",
    "ᵀ": r"$^{T}$", "≈": r"$\approx$", "‖": r"$\|$", "≤": r"$\le$", "–": "--",
    "×": r"$\times$", "→": r"$\to$", "∞": r"$\infty$", "ε": r"$\varepsilon$",
    "γ": r"$\gamma$", "β": r"$\beta$", "λ": r"$\lambda$", "²": r"$^{2}$", "¹": r"$^{1}$",
    "⁴": r"$^{4}$", "⁽": r"$^{(}$", "⁾": r"$^{)}$", "⁻": r"$^{-}$", "⁺": r"$^{+}$",
}  # fmt: skip

