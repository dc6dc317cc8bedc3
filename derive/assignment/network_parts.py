"""The parts a key and a sheet both show of a network: its equations, shapes table and picture."""

from __future__ import annotations

from pathlib import Path

from derive import expr as E
from derive.api import Network
from derive.document.model import (
    Block,
    Equation,
    Figure,
    Forward,
    Inline,
    Math,
    Paragraph,
    Table,
    Text,
)

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


def shapes_table(net: Network) -> Table:
    """Name, role, shape in the spec's dims, and the sizes the numeric checks use."""
    spec = net.spec
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


def network_blocks(net: Network, picture: str) -> list[Block]:
    spec = net.spec
    caption: tuple[Inline, ...] = (
        Text(f"The computational graph of {spec.title}: each arrow is one use of a name."),
    )
    return [
        Equation(Forward(spec)),
        shapes_table(net),
        Figure(spec, picture, caption),
    ]


CONVENTION = Paragraph(
    (
        Text(
            "Gradients are in denominator layout: each has the shape of its variable. "
            "⊙ is the elementwise product, and a bold 1 is a vector of ones."
        ),
    )
)
