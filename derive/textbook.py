"""Textbook forms: each chain of elementwise operations simplified as the scalar function it is.

A gradient's chain-rule form multiplies factors as the chain produces them; a textbook prints the
result simplified: the cross-entropy of a sigmoid, x ((−y/p + (1 − y)/(1 − p)) p (1 − p)), is
x (p − y). Here every maximal elementwise subtree (⊙, +, scaling, powers, elementwise functions,
over operands of its own shape or scalars) is read as a scalar expression in SymPy, with each
operand that is not elementwise (a product, a transpose, a name, a softmax) as one symbol and
each function opaque (σ stays σ, 1 − h² stays 1 − h²), simplified (`cancel`, then `factor`), and
written back by `derive.elementwise_form`, which reads the activation table's derivatives too.
The simplified form replaces the chain form only when it cancels a division, uses the operands
fewer times, divides by no sum or product and has fewer nodes, so a form that is already as
short as a textbook's (2 (ŷ − y) zᵀ) is left exactly as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy

from derive import expr as E
from derive.elementwise_form import to_elementwise

MAX_CHAIN_NODES = 60  # a longer elementwise chain is left as the chain rule wrote it
_STEP = sympy.Function("step")  # 𝟙[a > 0]; 𝟙[a ≤ 0] is 1 − step(a)


Memo = dict[E.Expr, E.Expr]


def textbook_form(e: E.Expr, memo: Memo | None = None) -> E.Expr:
    """e with each elementwise chain simplified where that makes it shorter.

    `memo` (one per derivation) keeps each subtree's result, so that the gradients of a deep
    network, which share most of their trees, are simplified in time linear in their size; a
    subtree with nothing to simplify is returned as the same object.
    """
    seen: Memo = {} if memo is None else memo

    def visit(n: E.Expr) -> E.Expr:
        hit = seen.get(n)
        if hit is not None:
            return hit
        if not n.children:
            out = n
        elif _elementwise(n):
            out = _simplified_chain(n, visit)
        else:
            kids = tuple(visit(c) for c in n.children)
            same = all(a is b for a, b in zip(kids, n.children, strict=True))
            out = n if same else n.rebuild(kids)
        seen[n] = out
        return out

    return visit(e)


def _elementwise(n: E.Expr) -> bool:
    """Whether n acts entry by entry on operands of its own shape (or scalars)."""
    if isinstance(n, E.Hadamard | E.Scale | E.Power | E.Apply | E.Indicator):
        return True
    if isinstance(n, E.Add):
        return all(c.shape == n.shape or c.is_scalar for c in n.children)
    if isinstance(n, E.ScalarMul):
        return True
    return isinstance(n, E.Div) and n.children[1].is_scalar


class _Scalars:
    """The chain as a SymPy expression: each non-elementwise operand one real symbol."""

    def __init__(self, visit: Callable[[E.Expr], E.Expr]) -> None:
        self.visit = visit
        self.symbols: dict[E.Expr, sympy.Symbol] = {}
        self.leaves: dict[sympy.Expr, E.Expr] = {}
        self.functions: dict[Any, str] = {}  # the opaque function of each row read (act_sigmoid)
        self.nodes = 0

    def leaf(self, n: E.Expr) -> sympy.Expr:
        inner = self.visit(n) if n.children else n
        s = self.symbols.get(inner)
        if s is None:
            s = sympy.Symbol(f"_x{len(self.symbols)}", real=True)
            self.symbols[inner] = s
            self.leaves[s] = inner
        return s

    def read(self, n: E.Expr, shape: E.Shape) -> sympy.Expr:
        self.nodes += 1
        if self.nodes > MAX_CHAIN_NODES:
            raise _TooLong
        if isinstance(n, E.Const):
            return n.value
        if isinstance(n, E.Ones):
            return sympy.Integer(1)
        if not _elementwise(n) or (n.shape != shape and not n.is_scalar):
            return self.leaf(n)
        kids = n.children
        if isinstance(n, E.Hadamard | E.ScalarMul):
            return sympy.Mul(*[self.read(c, shape) for c in kids])
        if isinstance(n, E.Add):
            return sympy.Add(*[self.read(c, shape) for c in kids])
        if isinstance(n, E.Scale):
            return n.coef * self.read(n.arg, shape)
        if isinstance(n, E.Div):
            return self.read(kids[0], shape) / self.read(kids[1], shape)
        if isinstance(n, E.Power):
            return self.read(kids[0], shape) ** n.exponent
        if isinstance(n, E.Indicator):
            step = _STEP(self.read(kids[0], shape))
            return step if n.relation == ">" else 1 - step
        assert isinstance(n, E.Apply)
        fn = sympy.Function(f"act_{n.fn}")  # opaque: σ stays σ
        self.functions[fn] = n.fn
        arg = self.read(kids[0], shape)
        return fn(arg) if n.param is None else fn(arg, n.param)


def _divides(root: E.Expr, shape: E.Shape) -> bool:
    """Whether the elementwise chain at root has a reciprocal (a negative power, a division);
    each shared node looked at once, at most MAX_CHAIN_NODES of them (a longer chain is left
    as it is anyway)."""
    stack, seen = [root], set()
    while stack:
        n = stack.pop()
        if id(n) in seen or not _elementwise(n) or (n.shape != shape and not n.is_scalar):
            continue
        seen.add(id(n))
        if len(seen) > MAX_CHAIN_NODES:
            return False
        if isinstance(n, E.Div) or (isinstance(n, E.Power) and n.exponent.is_negative):
            return True
        stack.extend(n.children)
    return False


class _TooLong(Exception):
    pass


def _simplified_chain(n: E.Expr, visit: Callable[[E.Expr], E.Expr]) -> E.Expr:
    kids = tuple(visit(c) for c in n.children)
    same = all(a is b for a, b in zip(kids, n.children, strict=True))
    rebuilt = n if same else n.rebuild(kids)
    if not _divides(n, n.shape):
        return rebuilt  # no reciprocal in the chain: nothing to cancel (most chains: no SymPy)
    scalars = _Scalars(visit)
    try:
        scalar = scalars.read(n, n.shape)
    except _TooLong:
        return rebuilt
    divisions = _divisions(scalar, scalars.leaves)
    if not divisions or not scalar.free_symbols & set(scalars.leaves):
        return rebuilt  # nothing to cancel: the chain rule's form is the textbook's
    best, uses = rebuilt, _uses(scalar, scalars.leaves)
    for candidate in _candidates(scalar):
        if _uses(candidate, scalars.leaves) >= uses or _compound_denominator(candidate):
            continue  # no operand fewer times: 2 (h − y) + 2 Wᵀ(…) is not made 2 (h + Wᵀ(…) − y)
        if _divisions(candidate, scalars.leaves) >= divisions:
            continue  # only a cancelled division is a simplification (p (1 − p)/p …), not a
            # product multiplied out (σ (1 − σ²) into σ − σ³)
        try:
            back = to_elementwise(candidate, n.shape, scalars.leaves, scalars.functions, _STEP)
        except NotImplementedError:
            continue
        if back.shape == n.shape and E.count_nodes(back) < E.count_nodes(best):
            best = back
    return best


def _divisions(x: sympy.Expr, leaves: dict[sympy.Symbol, E.Expr]) -> int:
    """How many reciprocals of operands x has (1/p, not the constant 1/B)."""
    operands = set(leaves)
    return sum(
        1
        for t in sympy.preorder_traversal(x)
        if isinstance(t, sympy.Pow) and t.exp.is_number and t.exp.is_negative
        and t.base.free_symbols & operands
    )


def _uses(x: sympy.Expr, leaves: dict[sympy.Symbol, E.Expr]) -> int:
    """How many times the operands occur in x (x (p − y) uses p and y once each)."""
    return sum(1 for t in sympy.preorder_traversal(x) if t in leaves)


def _compound_denominator(x: sympy.Expr) -> bool:
    """Whether x divides by a sum or a product (1/(p² − p)): a textbook keeps
    −y/p + (1 − y)/(1 − p)."""
    return any(
        isinstance(t, sympy.Pow) and t.exp.is_negative and not t.base.is_Symbol
        for t in sympy.preorder_traversal(x)
    )


def _candidates(x: sympy.Expr) -> list[sympy.Expr]:
    cancelled = sympy.cancel(x)
    return [cancelled, sympy.factor(cancelled)]
