"""A derivation's steps as data: what each line of ∂J/∂X = … = … says, before any printer.

The steps follow the course notes: the chain of partial derivatives (when the path is unique and
long enough to be worth writing), the sum over the edges along which X is used (fan-out), the
matrix form with the upstream gradients kept as names, and the final form. Under them, the
"where" items: each local factor (∂ŷ/∂z = (W⁽²⁾)ᵀ, σ′ at its real argument) and each upstream
gradient the steps name. Every printer (LaTeX in `derive.report`, MathML in `derive.mathml`, the
JSON output) renders these same records, so the formats cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from derive import expr as E
from derive.chain_rule import (
    COMPOSITE,
    DIRECT,
    ELEMENTWISE,
    IDENTITY,
    LEFT,
    RIGHT,
    SCALAR,
    Derivation,
)

CHAIN = "chain"  # ∂J/∂u · ∂u/∂v · ∂v/∂X: the unique path, as names
EDGES = "edges"  # ∂J/∂u · ∂u/∂X + ∂J/∂w · ∂w/∂X: one product per use of X
LOCAL = "local"  # the matrix form with upstream gradients kept as names
FINAL = "final"  # the matrix form in the forward names

FACTOR = "factor"  # a where-item: a local factor ∂u/∂X
UPSTREAM = "upstream"  # a where-item: an upstream gradient ∂J/∂u
DEFINITION = "definition"  # a where-item: a standardized value the steps show as Ẑ, defined

SIDES = {
    LEFT: "multiplies from the left",
    RIGHT: "multiplies from the right",
    ELEMENTWISE: "elementwise product",
    SCALAR: "a scalar factor",
    IDENTITY: "passes the gradient through",
}


@dataclass(frozen=True)
class Partial:
    """∂upper/∂lower; `upper` None is the loss (∂J/∂lower)."""

    upper: str | None
    lower: str


@dataclass(frozen=True)
class Step:
    """One right-hand side: a sum of products of partials (CHAIN, EDGES) or an expression."""

    kind: str
    products: tuple[tuple[Partial, ...], ...] = ()
    result: E.Expr | None = None


@dataclass(frozen=True)
class WhereItem:
    """A local factor (with the activation whose derivative it is), an upstream gradient, or
    (DEFINITION, no partial) a standardization the steps contain, which a printer that shows it
    by a name (Ẑ) defines."""

    kind: str
    partial: Partial | None
    value: E.Expr
    activation: str | None = None
    activation_arg: E.Expr | None = None
    note: str = ""  # how the factor enters the product (SIDES)


def steps(deriv: Derivation, name: str) -> list[Step]:
    """The lines of ∂J/∂name = … = …, in order, without a repeated form."""
    g = deriv[name]
    out: list[Step] = []
    if g.chain and len(g.chain) > 3:
        links = [Partial(a, b) for a, b in zip(g.chain[1:], g.chain[2:], strict=False)]
        out.append(Step(CHAIN, ((Partial(None, g.chain[1]), *links),)))
    uses = [e for e in g.edges if e.kind != DIRECT]
    consumers = [e.consumer for e in uses]
    if uses and len(uses) == len(g.edges) and len(set(consumers)) == len(consumers):
        products = tuple((Partial(None, c), Partial(c, name)) for c in consumers)
        out.append(Step(EDGES, products))
    if g.local != g.final:
        out.append(Step(LOCAL, result=g.local))
    out.append(Step(FINAL, result=g.final))
    return out


def where(deriv: Derivation, name: str) -> list[WhereItem]:
    """The local factors the steps use, then the upstream gradients they name, each once."""
    g = deriv[name]
    out: list[WhereItem] = []
    for e in g.edges:
        if e.kind in (DIRECT, COMPOSITE) or e.factor is None:
            continue
        item = WhereItem(
            FACTOR,
            Partial(e.consumer, name),
            e.factor,
            e.activation if e.activation_arg is not None else None,
            e.activation_arg if e.activation else None,
            SIDES.get(e.kind, ""),
        )
        if item not in out:
            out.append(item)
    named: set[str] = set()
    for e in g.edges:
        if e.consumer != deriv.spec.loss and e.consumer not in named:
            named.add(e.consumer)
            out.append(WhereItem(UPSTREAM, Partial(None, e.consumer), deriv[e.consumer].final))
    tops = {eq.expr for eq in deriv.spec.equations}  # named by their equation: nothing to define
    for e in g.edges:
        for node in E.walk_nodes(e.contribution):
            if isinstance(node, E.Standardize) and node not in tops:
                item = WhereItem(DEFINITION, None, node, note="per row, over the batch")
                if item not in out:
                    out.append(item)
    return out


def partial_data(p: Partial, loss: str) -> dict[str, Any]:
    """∂of/∂wrt for JSON, the loss by its name."""
    return {"of": loss if p.upper is None else p.upper, "wrt": p.lower}


def steps_data(
    items: Sequence[Step], latex: Sequence[str], sympy_text: Any, loss: str
) -> list[dict[str, Any]]:
    """The steps for JSON: kind, the partials or the expression (SymPy syntax), its LaTeX."""
    out: list[dict[str, Any]] = []
    for step, tex in zip(items, latex, strict=True):
        row: dict[str, Any] = {"kind": step.kind, "latex": tex}
        if step.products:
            row["products"] = [[partial_data(p, loss) for p in prod] for prod in step.products]
        if step.result is not None:
            row["sympy"] = sympy_text(step.result)
        out.append(row)
    return out
