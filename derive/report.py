"""A derivation as a document (`derive.document`) and as data (JSON).

The document: the spec's title and description, the network (its equations, shapes and graph),
the layout convention, then per gradient the steps as the course notes write them (the chain of
partial derivatives, the sum over the edges, the matrix form with the upstream gradients kept as
names, the final form) and each local factor and upstream gradient under them. Each format is
written from it by the registry's writer (`derive.document.WRITERS`), as keys and sheets are.

The data (`to_json_data`): per gradient its final form as SymPy text and LaTeX, the steps and
where-lines as LaTeX and as records (`derive.steps`), the edges and the chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from derive import expr as E
from derive.chain_rule import Derivation
from derive.document import WRITERS
from derive.document.json_writer import step_records, where_records
from derive.document.latex import final_latex
from derive.document.model import Block, Document, Math, Paragraph, Section, Text
from derive.document.parts import convention, gradient_blocks, network_blocks, shape_text
from derive.latex import printer_for
from derive.steps import notes
from derive.sympy_form import ascii_form


def document(deriv: Derivation, names: Sequence[str], picture: str = "") -> Document:
    """The derivation of each name's gradient; `picture` is the file name of the network's SVG
    beside a markdown file ("": markdown shows no picture; LaTeX and HTML draw it themselves)."""
    spec = deriv.spec
    blocks: list[Block] = [Paragraph((Text(p),)) for p in paragraphs(spec.description)]
    network = [*network_blocks(spec, picture), convention([spec])]
    blocks.append(Section((Text("Network"),), tuple(network)))
    gradients: list[Block] = []
    for name in names:
        g = deriv[name]
        head = (Math(spec, E.GradRef(name, g.shape)), Text(f" ({shape_text(g.shape)})"))
        gradients.append(Section(head, tuple(gradient_blocks(deriv, name)), level=2))
    blocks.append(Section((Text("Gradients"),), tuple(gradients)))
    return Document(spec.title, (), tuple(blocks), "derivation")


def paragraphs(text: str) -> list[str]:
    """A description's blank-line-separated paragraphs, each on one line."""
    return [" ".join(p.split()) for p in re.split(r"\n[ \t\r]*\n", text) if p.strip()]


def to_latex_document(deriv: Derivation, names: Sequence[str]) -> str:
    return WRITERS["latex"](document(deriv, names))


def to_markdown(deriv: Derivation, names: Sequence[str], picture: str | None = None) -> str:
    return WRITERS["markdown"](document(deriv, names, picture or ""))


def to_html(deriv: Derivation, names: Sequence[str]) -> str:
    return WRITERS["html"](document(deriv, names))


# -- the derivation as data ---------------------------------------------------------------------


def to_json_data(deriv: Derivation, names: Sequence[str]) -> dict[str, Any]:
    spec = deriv.spec
    grads = []
    for name in names:
        g = deriv[name]
        steps, step_data = step_records(deriv, name)
        where, where_data = where_records(deriv, name)
        grads.append(
            {
                "wrt": name,
                "role": g.role,
                "shape": [g.shape[0], g.shape[1]],
                "sympy": ascii_form(g.final),
                "latex": final_latex(deriv, name),
                "chain_form": _chain_form(deriv, name),
                "steps": steps,
                "where": where,
                "step_data": step_data,
                "where_data": where_data,
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


def to_json(deriv: Derivation, names: Sequence[str]) -> str:
    return json.dumps(to_json_data(deriv, names), indent=2, ensure_ascii=False) + "\n"


def _chain_form(deriv: Derivation, name: str) -> dict[str, str] | None:
    """The final form as the chain rule wrote it, when "latex" is its simplification."""
    form = deriv[name].chain_form
    if form is None:
        return None
    return {"sympy": ascii_form(form), "latex": printer_for(deriv.spec).doprint(form)}
