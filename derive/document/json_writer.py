"""A document as JSON: every part as an object with its `type`, math as the LaTeX printer's text
with the recorded rows, and a derivation's steps and where-lines also as records (`data`), so
another tool can lay the same document out its own way."""

from __future__ import annotations

import json
from typing import Any

from derive.chain_rule import Derivation
from derive.display_rows import DEFINITION_NOTE
from derive.document import model as M
from derive.document.latex import (
    equations_latex,
    final_latex,
    math_latex,
    rendered_steps,
    rendered_where,
    symbol_latex,
)
from derive.steps import UPSTREAM, partial_data, steps_data
from derive.sympy_form import ascii_form


def inline_data(parts: tuple[M.Inline, ...]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for p in parts:
        if isinstance(p, M.Text):
            out.append({"text": p.text})
        elif isinstance(p, M.Strong):
            out.append({"strong": p.text})
        elif isinstance(p, M.Code):
            out.append({"code": p.text})
        elif isinstance(p, M.Symbol):
            out.append({"math": symbol_latex(p)})
        else:
            out.append({"math": math_latex(p)})
    return out


def block_data(b: M.Block) -> dict[str, Any]:
    if isinstance(b, M.Section):
        return {"type": "section", "level": b.level, "title": inline_data(b.title),
                "blocks": [block_data(x) for x in b.blocks]}  # fmt: skip
    if isinstance(b, M.Paragraph):
        return {"type": "paragraph", "parts": inline_data(b.parts)}
    if isinstance(b, M.BulletList):
        return {"type": "list", "items": [inline_data(i) for i in b.items]}
    if isinstance(b, M.Table):
        return {
            "type": "table",
            "header": [inline_data(c) for c in b.header],
            "rows": [[inline_data(c) for c in row] for row in b.rows],
        }
    if isinstance(b, M.Box):
        return {"type": "box", "title": b.title, "blocks": [block_data(x) for x in b.blocks]}
    if isinstance(b, M.Figure):
        return {"type": "figure", "network": b.spec.title, "file": b.file,
                "caption": inline_data(b.caption)}  # fmt: skip
    assert isinstance(b, M.Equation)
    c = b.content
    if isinstance(c, M.Forward):
        return {"type": "forward", "rows": equations_latex(c.spec)}
    if isinstance(c, M.Steps):
        rows, data = step_records(c.deriv, c.name)
        return {"type": "steps", "wrt": c.name, "rows": rows, "data": data}
    if isinstance(c, M.Where):
        rows, data = where_records(c.deriv, c.name)
        return {"type": "where", "wrt": c.name, "rows": rows, "data": data}
    assert isinstance(c, M.Final)
    g = c.deriv[c.name]
    return {"type": "final", "wrt": c.name, "latex": final_latex(c.deriv, c.name),
            "sympy": ascii_form(g.final), "shape": [str(g.shape[0]), str(g.shape[1])]}  # fmt: skip


def step_records(deriv: Derivation, name: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The steps' LaTeX rows and the same steps as records (`derive.steps.steps_data`), from
    one rendering."""
    rendered = rendered_steps(deriv, name)
    data = steps_data([s for s, _ in rendered], ascii_form, deriv.spec.loss)
    return [text for _, text in rendered], data


def where_records(deriv: Derivation, name: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The where-lines as LaTeX equations and as records, from one rendering."""
    lines: list[str] = []
    out: list[dict[str, Any]] = []
    for r in rendered_where(deriv, name):
        lines.append(f"{r.lhs} = {r.rhs}")
        if r.item is None:
            assert r.definition is not None
            out.append({"kind": "definition", "sympy": ascii_form(r.definition),
                        "note": DEFINITION_NOTE})  # fmt: skip
            continue
        item = r.item
        row: dict[str, Any] = {"kind": item.kind, **partial_data(item.partial, deriv.spec.loss)}
        if item.kind != UPSTREAM:  # an upstream gradient is that gradient's own entry
            row["sympy"] = ascii_form(item.value)
        if item.activation:
            row["activation"] = item.activation
        if item.note:
            row["note"] = item.note
        out.append(row)
    return lines, out


def document_data(doc: M.Document) -> dict[str, Any]:
    return {
        "kind": doc.kind,
        "title": doc.title,
        "subtitle": [inline_data(line) for line in doc.subtitle],
        "blocks": [block_data(b) for b in doc.blocks],
    }


def write_json(doc: M.Document) -> str:
    return json.dumps(document_data(doc), indent=2, ensure_ascii=False) + "\n"
