"""A derivation's steps as data: what each line of ∂J/∂X = … = … says, before any printer.

The steps follow the course notes: the chain of partial derivatives (when the path is unique and
long enough to be worth writing), the sum over the edges along which X is used (fan-out), the
matrix form with the upstream gradients kept as names, and the final form. Under them, the
"where" items: each local factor (∂ŷ/∂z = (W⁽²⁾)ᵀ, σ′ at its real argument) and each upstream
gradient the steps name. Which rows a document shows is decided once (`derive.display_rows`), and
every printer (LaTeX, MathML, the JSON records) renders those same rows, so the formats cannot
drift apart.
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
GENERAL = "general"  # the local form before a fact a rule used (Σ y = 1): softmax's Jacobian
LOCAL = "local"  # the matrix form with upstream gradients kept as names
CHAIN_FORM = "chain_form"  # the matrix form in the forward names, as the chain rule wrote it
FINAL = "final"  # the matrix form in the forward names, simplified as a textbook prints it

FACTOR = "factor"  # a where-item: a local factor ∂u/∂X
UPSTREAM = "upstream"  # a where-item: an upstream gradient ∂J/∂u

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
    """A local factor (with the activation whose derivative it is) or an upstream gradient."""

    kind: str
    partial: Partial
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
    if any(e.general is not None for e in g.edges):
        general = E.add(*[e.general or e.contribution for e in g.edges], shape=g.shape)
        out.append(Step(GENERAL, result=general))
    if g.local != g.final:
        out.append(Step(LOCAL, result=g.local))
    if g.chain_form is not None and g.chain_form != g.local:
        out.append(Step(CHAIN_FORM, result=g.chain_form))
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
    return out


def standardizations(deriv: Derivation, name: str) -> list[E.Standardize]:
    """The standardizations the steps contain that no equation names (the Ẑ of a batch norm):
    a printer that shows one by a name defines it under the steps, Ẑ = (Z − E[Z]) / √(V + ε)."""
    tops = {eq.expr for eq in deriv.spec.equations}
    out: list[E.Standardize] = []
    for e in deriv[name].edges:
        for node in E.walk_nodes(e.contribution):
            if isinstance(node, E.Standardize) and node not in tops and node not in out:
                out.append(node)
    return out


def notes(deriv: Derivation, name: str) -> list[str]:
    """The facts the rules used on the way to ∂J/∂name (on its own edges and upstream)."""
    out: list[str] = []
    seen: set[str] = set()
    stack = [name]
    while stack:
        n = stack.pop()
        if n in seen or n not in deriv.gradients:
            continue
        seen.add(n)
        g = deriv[n]
        out.extend(t for t in g.notes if t not in out)
        stack.extend(e.consumer for e in g.edges)
    return out


def partial_data(p: Partial, loss: str) -> dict[str, Any]:
    """∂of/∂wrt for JSON, the loss by its name."""
    return {"of": loss if p.upper is None else p.upper, "wrt": p.lower}


def steps_data(items: Sequence[Step], sympy_text: Any, loss: str) -> list[dict[str, Any]]:
    """The steps for JSON: kind, and the partials or the expression (SymPy syntax); the LaTeX
    of step i is entry i of the gradient's `steps`, beside it, and the final form is the
    gradient's own `sympy`."""
    out: list[dict[str, Any]] = []
    for step in items:
        row: dict[str, Any] = {"kind": step.kind}
        if step.products:
            row["products"] = [[partial_data(p, loss) for p in prod] for prod in step.products]
        if step.result is not None and step.kind != FINAL:  # the final form: the gradient's sympy
            row["sympy"] = sympy_text(step.result)
        out.append(row)
    return out
