"""The rows of a derivation's display math, decided once for every format.

`derive.steps` records what each line says; this module decides which rows a document shows, in
which order, and which are left out as repeats: the forward equations (a standardized value shown
by its hat defined once, under the equation that makes it), the steps ∂J/∂X = … = … (a step that
prints the same as an earlier one left out), and the where-items under them (each local factor
with its activation's derivative at its real argument and how it enters the product, each
upstream gradient, then the definition of each Ẑ the steps show by its hat).

A format supplies a `RowPrinter`: the LaTeX printer (`derive.latex.LatexPrinter`) and the MathML
one (`derive.mathml.MathmlPrinter`) both are, so the two cannot disagree on what a row holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from derive import expr as E
from derive.chain_rule import Derivation
from derive.spec import Spec
from derive.steps import Partial, Step, WhereItem, standardizations, steps, where

DEFINITION_NOTE = "per row, over the batch"


class RowPrinter(Protocol):
    """What a format's printer offers for rows: its math, and how it joins the pieces."""

    standardized: dict[E.Expr, str]

    def doprint(self, e: E.Expr) -> str: ...
    def name(self, name: str) -> str: ...
    def hat(self, latex_name: str) -> str: ...
    def grad(self, name: str, loss: str | None = None) -> str: ...
    def local(self, upper: str, lower: str) -> str: ...
    def derivative(self, fn: str, arg: E.Expr) -> str: ...
    def standardize_definition(self, e: E.Standardize) -> str: ...
    def product(self, parts: list[str]) -> str: ...
    def total(self, terms: list[str]) -> str: ...
    def equals(self, parts: list[str]) -> str: ...
    def noted(self, row: str, note: str) -> str: ...


@dataclass(frozen=True)
class WhereRow:
    """lhs = rhs under the steps; `item` is the where-item, None for a Ẑ definition."""

    lhs: str
    rhs: str
    item: WhereItem | None
    definition: E.Standardize | None = None


def partial(p: RowPrinter, part: Partial) -> str:
    return p.grad(part.lower) if part.upper is None else p.local(part.upper, part.lower)


def forward_rows(p: RowPrinter, spec: Spec) -> list[tuple[str, str]]:
    """(name, definition) per forward equation; an equation that standardizes is written out,
    and a standardized value shown by its hat inside one is defined, once, after it."""
    rows: list[tuple[str, str]] = []
    defined: set[E.Expr] = set()
    for eq in spec.equations:
        e = eq.expr
        rhs = p.standardize_definition(e) if isinstance(e, E.Standardize) else p.doprint(e)
        rows.append((p.name(eq.name), rhs))
        for node in E.walk_nodes(e):
            hat = p.standardized.get(node)
            if hat is not None and node not in defined and isinstance(node, E.Standardize):
                defined.add(node)
                rows.append((p.hat(hat), p.standardize_definition(node)))
    return rows


def step_rows(p: RowPrinter, deriv: Derivation, name: str) -> list[tuple[Step, str]]:
    """Each step of ∂J/∂name = … = … with its printed right-hand side, a repeat left out."""
    out: list[tuple[Step, str]] = []
    for step in steps(deriv, name):
        if step.products:
            text = p.total([p.product([partial(p, q) for q in prod]) for prod in step.products])
        else:
            assert step.result is not None
            text = p.doprint(step.result)
        if all(text != seen for _, seen in out):
            out.append((step, text))
    return out


def where_rows(p: RowPrinter, deriv: Derivation, name: str) -> list[WhereRow]:
    """The factors and upstream gradients the steps use, each once, then each Ẑ's definition."""
    out: list[WhereRow] = []
    seen: set[tuple[str, str]] = set()
    for item in where(deriv, name):
        lhs, rhs = partial(p, item.partial), p.doprint(item.value)
        if item.activation and item.activation_arg is not None:
            rhs = p.equals([p.derivative(item.activation, item.activation_arg), rhs])
        if (lhs, rhs) in seen:
            continue
        seen.add((lhs, rhs))
        out.append(WhereRow(lhs, p.noted(rhs, item.note) if item.note else rhs, item))
    for node in standardizations(deriv, name):
        hat = p.standardized.get(node)
        if hat is not None:
            definition = p.noted(p.standardize_definition(node), DEFINITION_NOTE)
            out.append(WhereRow(p.hat(hat), definition, None, node))
    return out


def standardizes(spec: Spec) -> bool:
    """Whether any equation standardizes (then a document says what E and V mean)."""
    return any(
        isinstance(n, E.Standardize) for eq in spec.equations for n in E.walk_nodes(eq.expr)
    )
