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
from derive.chain_rule import Derivation, Gradient
from derive.latex import LatexPrinter, delimit, printer_for
from derive.linebreak import aligned_rows
from derive.spec import Spec, fmt_shape
from derive.steps import (
    UPSTREAM,
    Partial,
    Step,
    WhereItem,
    notes,
    partial_data,
    standardizations,
    steps,
    steps_data,
    where,
)
from derive.sympy_form import ascii_form


def final_latex(deriv: Derivation, name: str) -> str:
    return printer_for(deriv.spec).doprint(deriv[name].final)


def _partial(p: LatexPrinter, part: Partial) -> str:
    return p.grad(part.lower) if part.upper is None else p.local(part.upper, part.lower)


def rendered_steps(deriv: Derivation, name: str) -> list[tuple[Step, str]]:
    """Each step of `derive.steps` with its LaTeX right-hand side, a repeated line left out."""
    p = printer_for(deriv.spec)
    out: list[tuple[Step, str]] = []
    for step in steps(deriv, name):
        if step.products:
            products = (r" \cdot ".join(_partial(p, q) for q in prod) for prod in step.products)
            text = " + ".join(products)
        else:
            assert step.result is not None
            text = p.doprint(step.result)
        if all(text != seen for _, seen in out):
            out.append((step, text))
    return out


def step_lines(deriv: Derivation, name: str) -> list[str]:
    """The right-hand sides of ∂J/∂name = ... = ..., each a LaTeX string, without repeats."""
    return [text for _, text in rendered_steps(deriv, name)]


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


def rendered_where(deriv: Derivation, name: str) -> list[tuple[WhereItem, str]]:
    """Each where-item of `derive.steps` as a LaTeX equation (a factor with its note)."""
    p = printer_for(deriv.spec)
    out: list[tuple[WhereItem, str]] = []
    seen: set[str] = set()
    for item in where(deriv, name):
        lhs, value = _partial(p, item.partial), p.doprint(item.value)
        if item.activation and item.activation_arg is not None:
            act = ACTIVATIONS[item.activation].latex
            arg = p.doprint(item.activation_arg)
            line = f"{lhs} = {act}'{delimit('(', ')', arg)} = {value}"
        else:
            line = f"{lhs} = {value}"
        if line in seen:
            continue
        seen.add(line)
        note = rf" \quad \text{{({item.note})}}" if item.note else ""
        out.append((item, line + note))
    return out


def where_lines(deriv: Derivation, name: str) -> list[str]:
    """The local factors and upstream gradients the steps use, as LaTeX equations with a note,
    then the definition of each standardized value the steps show by its hat."""
    return [line for _, line in rendered_where(deriv, name)] + definition_lines(deriv, name)


def definition_lines(deriv: Derivation, name: str) -> list[str]:
    """Ẑ = (Z − E[Z]) / √(V(Z) + ε) for each standardization the steps show as Ẑ."""
    p = printer_for(deriv.spec)
    return [
        rf"{p.standardized[s]} = {p.standardize_definition(s)} \quad \text{{(per row, over the "
        "batch)}"
        for s in standardizations(deriv, name)
        if s in p.standardized
    ]


def used_facts(deriv: Derivation, name: str) -> list[str]:
    """The facts a rule used on the way (each column of y sums to 1), as sentences."""
    return [f"Used: {fact}." for fact in notes(deriv, name)]


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


def normalization_note(spec: Spec) -> str:
    """What E and V mean, for a spec that standardizes (after the layout sentence)."""
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
        + normalization_note(spec)
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
        for fact in used_facts(deriv, name):
            out.append(_tex_text(fact) + "\n")
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
        + normalization_note(spec)
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
        for fact in used_facts(deriv, name):
            out += [_md_text(fact), ""]
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
                "chain_form": _chain_form(deriv, name),
                "steps": step_lines(deriv, name),
                "where": where_lines(deriv, name),
                "step_data": _step_data(deriv, name),
                "where_data": _where_data(deriv, name),
                "notes": notes(deriv, name),
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


def _chain_form(deriv: Derivation, name: str) -> dict[str, str] | None:
    """The final form as the chain rule wrote it, when "latex" is its simplification."""
    form = deriv[name].chain_form
    if form is None:
        return None
    return {"sympy": ascii_form(form), "latex": printer_for(deriv.spec).doprint(form)}


def _step_data(deriv: Derivation, name: str) -> list[dict[str, Any]]:
    rendered = rendered_steps(deriv, name)
    return steps_data([s for s, _ in rendered], ascii_form, deriv.spec.loss)


def _where_data(deriv: Derivation, name: str) -> list[dict[str, Any]]:
    out = []
    for item, _ in rendered_where(deriv, name):
        row: dict[str, Any] = {"kind": item.kind, **partial_data(item.partial, deriv.spec.loss)}
        if item.kind != UPSTREAM:  # an upstream gradient is that gradient's own entry
            row["sympy"] = ascii_form(item.value)
        if item.activation:
            row["activation"] = item.activation
        if item.note:
            row["note"] = item.note
        out.append(row)
    p = printer_for(deriv.spec)
    for node in standardizations(deriv, name):  # as definition_lines writes them
        if node in p.standardized:
            out.append({"kind": "definition", "sympy": ascii_form(node),
                        "note": "per row, over the batch"})  # fmt: skip
    return out


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

