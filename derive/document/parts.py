"""The parts every document about a network shows: its equations, shapes table and picture, the
layout convention, and for a gradient its steps, the notes on them and the where-lines.

A derivation report (`derive.report`), an answer key and a sheet (`derive.assignment.documents`)
are built of these, so the three show a network and a gradient the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from derive import expr as E
from derive.chain_rule import Derivation, Gradient
from derive.display_rows import standardizes
from derive.document.model import (
    Block,
    Equation,
    Figure,
    Forward,
    Inline,
    Math,
    Paragraph,
    Steps,
    Table,
    Text,
    Where,
)
from derive.spec import Spec
from derive.steps import notes

ROLES = {"input": "input", "target": "target", "param": "parameter",
         "intermediate": "intermediate", "loss": "loss"}  # fmt: skip


def picture_names(specs: list[Path]) -> dict[Path, str]:
    """A file name for each network's SVG, unique in the folder: network-<stem>.svg."""
    out: dict[Path, str] = {}
    taken: set[str] = set()
    for path in specs:
        if path in out:
            continue
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem)[:40] or "spec"
        name, n = f"network-{stem}.svg", 1
        while name in taken:
            n += 1
            name = f"network-{stem}-{n}.svg"
        taken.add(name)
        out[path] = name
    return out


def shape_text(shape: E.Shape) -> str:
    return "scalar" if shape == E.SCALAR else f"{shape[0]} × {shape[1]}"


def shapes_table(spec: Spec) -> Table:
    """Name, role, shape in the spec's dims, and the sizes the numeric checks use."""
    rows: list[tuple[tuple[Inline, ...], ...]] = []
    for name in spec.names():
        shape = spec.shape_of(name)
        sizes = tuple(spec.dims.get(str(d), d) if not isinstance(d, int) else d for d in shape)
        rows.append(
            (
                (Math(spec, E.Var(name, shape)),),
                (Text(ROLES.get(spec.role_of(name), spec.role_of(name))),),
                (Text(shape_text(shape)),),
                (Text("scalar" if shape == E.SCALAR else f"{sizes[0]} × {sizes[1]}"),),
            )
        )
    header = ((Text("name"),), (Text("role"),), (Text("shape"),), (Text("checked at"),))
    return Table(header, tuple(rows))


def network_blocks(spec: Spec, picture: str) -> list[Block]:
    """The forward equations, the shapes table and the computational graph (`picture` is its
    SVG's file name beside a markdown document; "" when none is written)."""
    caption: tuple[Inline, ...] = (
        Text(f"The computational graph of {spec.title}: each arrow is one use of a name."),
    )
    return [Equation(Forward(spec)), shapes_table(spec), Figure(spec, picture, caption)]


def convention(specs: Sequence[Spec]) -> Paragraph:
    """The layout the gradients are in, and what ⊙, 𝟏, E and V mean where they appear."""
    text = (
        "Gradients are in denominator layout: each has the shape of its variable. "
        "⊙ is the elementwise product, and a bold 1 is a vector of ones."
    )
    if any(standardizes(s) for s in specs):
        text += (
            " E and V are the mean and the (biased) variance of each row over the columns (the "
            "batch), broadcast over the columns where they meet a matrix."
        )
    return Paragraph((Text(text),))


def fanout_note(g: Gradient) -> str | None:
    if len(g.edges) < 2:
        return None
    return (
        f"{g.wrt} is used {len(g.edges)} times (fan-out): its gradient is the sum of the "
        "gradients flowing back along each edge."
    )


def gradient_blocks(deriv: Derivation, name: str) -> list[Block]:
    """∂J/∂name step by step, the fan-out and the facts the rules used, then the where-lines."""
    blocks: list[Block] = [Equation(Steps(deriv, name))]
    note = fanout_note(deriv[name])
    if note:
        blocks.append(Paragraph((Text(note),)))
    blocks += [Paragraph((Text(f"Used: {fact}."),)) for fact in notes(deriv, name)]
    blocks.append(Equation(Where(deriv, name)))
    return blocks
