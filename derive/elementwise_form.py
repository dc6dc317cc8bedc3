"""A scalar SymPy expression written back as an elementwise matrix expression of derive.expr.

Two places compute with a scalar stand-in and want the result as a matrix expression: the
activation table reads f′ from `sympy.diff` (1 − s², s (1 − s), on a layer's input t and output
s), and the textbook pass reads a simplified chain back into the derivation (x (p − y), each
operand a symbol). They differ only in their names, which the caller hands over: what each
symbol stands for (`leaves`), which SymPy functions are rows of the activation table
(`functions`), and the function that is the step 𝟙[a > 0] (`step`). Every other symbol is a
constant (a dim, 1/B).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sympy

from derive import expr as E


def to_elementwise(
    x: sympy.Expr,
    shape: E.Shape,
    leaves: Mapping[sympy.Expr, E.Expr],
    functions: Mapping[Any, str],
    step: Any = sympy.Heaviside,
) -> E.Expr:
    """x as an elementwise expression of `shape`: `leaves` maps symbols to the expressions they
    stand for (each of `shape`, or a scalar broadcast over it), `functions` maps a SymPy
    function (exp, or an opaque `act_sigmoid`) to its row of the activation table, with the
    row's parameter as a second argument, and `step(a)` is read as 𝟙[a > 0].

    Sums are written positive terms first and constants first among them (p − y, 1 − h²);
    a scalar factor multiplies the rest (s A), a constant one is pulled to the front. A form
    with no elementwise reading (a power of a broadcast scalar, an unknown function) raises
    NotImplementedError.
    """
    operands = set(leaves)
    scalar = E.is_scalar(shape)

    def constant(c: sympy.Expr) -> E.Expr:
        return E.Const(c) if scalar else E.scale(c, E.Ones(shape))

    def conv(t: sympy.Expr) -> E.Expr:
        leaf = leaves.get(t)
        if leaf is not None:
            return leaf
        if not t.free_symbols & operands:  # a number, or a constant in the dims (1/B)
            return constant(t)
        if isinstance(t, sympy.Add):
            terms = sorted(t.args, key=lambda a: (a.could_extract_minus_sign(), not a.is_Number,
                                                   sympy.default_sort_key(a)))  # fmt: skip
            return E.add(*[conv(a) for a in terms], shape=shape)
        if isinstance(t, sympy.Mul):
            coef, rest = t.as_coeff_Mul()
            factors = [conv(a) for a in sympy.Mul.make_args(rest)]
            scalars = [f for f in factors if f.is_scalar and not scalar]
            arrays = [f for f in factors if not (f.is_scalar and not scalar)]
            body = E.hadamard(*arrays) if arrays else E.Ones(shape)
            for s in scalars:
                body = E.smul(s, body)
            return E.scale(coef, body)
        if isinstance(t, sympy.Pow) and t.exp.is_Number:
            base = conv(t.base)
            if base.is_scalar and not scalar:
                raise NotImplementedError("a power of a broadcast scalar")
            return E.power(base, t.exp)
        if isinstance(t, sympy.Piecewise):
            return _piecewise(t, conv, shape)
        if isinstance(t, sympy.Function) and t.func == step:
            return E.Indicator(conv(t.args[0]), ">")
        fn = functions.get(t.func) if isinstance(t, sympy.Function) else None
        if fn is not None:
            param = t.args[1] if len(t.args) > 1 else None
            return E.Apply(fn, conv(t.args[0]), param)
        raise NotImplementedError(f"no elementwise form for {t}")

    return conv(x)


def _piecewise(
    x: sympy.Piecewise, conv: Callable[[sympy.Expr], E.Expr], shape: E.Shape
) -> E.Expr:
    """A two-branch Piecewise on a > 0 as indicators: v1 𝟙[a > 0] + v2 𝟙[a ≤ 0], a branch that is
    a constant as a coefficient (leaky ReLU′), another as an elementwise factor (ELU′)."""
    (v1, c1), (v2, c2) = x.args
    if not isinstance(c1, sympy.StrictGreaterThan) or c1.rhs != 0 or c2 != sympy.true:
        raise NotImplementedError(f"no elementwise form for the piecewise {x}")
    a = conv(c1.lhs)

    def branch(v: sympy.Expr, relation: str) -> E.Expr:
        step = E.Indicator(a, relation)
        if v.is_Number:
            return E.scale(v, step)
        return E.hadamard(conv(v), step)

    return E.add(branch(v1, ">"), branch(v2, "<="), shape=shape)
