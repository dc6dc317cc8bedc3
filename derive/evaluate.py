"""Numeric evaluation of expressions with NumPy at concrete dims (for comparing answers).

This evaluates derive's own expression trees; it is not an oracle for the derivation (numeric/ is),
but the way two expressions are compared at random dims and values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS

Array = npt.NDArray[np.float64]


def size(dim: E.Dim, dims: Mapping[str, int]) -> int:
    return dim if isinstance(dim, int) else dims[dim]


class _Numbers:
    """How evaluate() makes and combines numbers: float64 arrays, or arrays of mpmath floats."""

    dtype: type = np.float64

    def constant(self, v: sympy.Expr) -> Any:
        return float(v)

    def filled(self, shape: tuple[int, int], value: Any) -> Array:
        return np.full(shape, value, dtype=self.dtype)

    def apply(self, fn: str, a: Array, param: Any) -> Array:
        return ACTIVATIONS[fn].float64(a, param)

    def indicator(self, a: Array, relation: str) -> Array:
        hit = a > 0 if relation == ">" else a <= 0
        one, zero = self.constant(sympy.Integer(1)), self.constant(sympy.Integer(0))
        out: Array = np.where(hit, one, zero)
        return out


class _Precise(_Numbers):
    """mpmath floats at `digits` decimal digits, in object arrays: NumPy's + − × @ and sums
    work on them unchanged; the elementwise functions are mpmath's own."""

    dtype = object

    def __init__(self, digits: int) -> None:
        import mpmath

        self.mp = mpmath.mp.clone()
        self.mp.dps = digits

    def constant(self, v: sympy.Expr) -> Any:
        if v.is_Rational:
            return self.mp.mpf(int(v.p)) / int(v.q)
        return self.mp.mpf(str(sympy.N(v, self.mp.dps + 5)))

    def apply(self, fn: str, a: Array, param: Any) -> Array:
        f, mp = ACTIVATIONS[fn].precise, self.mp
        return np.frompyfunc(lambda x: f(mp, x, param), 1, 1)(a)  # type: ignore[no-any-return]

    def lift(self, a: Array) -> Array:
        """A float64 array as exact mpmath values."""
        return np.frompyfunc(self.mp.mpf, 1, 1)(a)  # type: ignore[no-any-return]


FLOAT = _Numbers()


def precise(digits: int = 40) -> _Precise:
    """A number system for evaluate(): mpmath floats at `digits` significant digits."""
    return _Precise(digits)


Cache = dict[int, tuple[E.Expr, Array]]


def evaluate(
    e: E.Expr,
    env: Mapping[str, Array],
    dims: Mapping[str, int],
    numbers: _Numbers = FLOAT,
    cache: Cache | None = None,
) -> Array:
    """The value of e, with names from env and dims as numbers (float64, or `precise()`).

    `cache` keeps node values between calls at the same env and dims (nodes by identity, each
    held by the cache so that its id cannot be reused): mutations of one gradient share most
    subtrees, which are then evaluated once.
    """
    subs = {E.dim_symbol(d): n for d, n in dims.items()}
    memo: Cache = {} if cache is None else cache
    one, zero = numbers.constant(sympy.Integer(1)), numbers.constant(sympy.Integer(0))

    def num(v: sympy.Expr) -> Any:
        return numbers.constant(v.xreplace(subs) if v.free_symbols else v)

    def ev(n: E.Expr) -> Array:
        hit = memo.get(id(n))
        if hit is not None and hit[0] is n:
            return hit[1]
        k = [ev(c) for c in n.children]
        shape = (size(n.shape[0], dims), size(n.shape[1], dims))
        out: Array
        if isinstance(n, E.Var):
            out = env[n.name]
        elif isinstance(n, E.Const):
            out = numbers.filled((1, 1), num(n.value))
        elif isinstance(n, E.Ones):
            out = numbers.filled(shape, one)
        elif isinstance(n, E.Zero):
            out = numbers.filled(shape, zero)
        elif isinstance(n, E.Add):
            out = numbers.filled(shape, zero)
            for t in k:
                out = out + t
        elif isinstance(n, E.Scale):
            out = num(n.coef) * k[0]
        elif isinstance(n, E.MatMul):
            out = k[0]
            for t in k[1:]:
                out = out @ t
        elif isinstance(n, E.Hadamard | E.ScalarMul):
            out = k[0]
            for t in k[1:]:
                out = out * t
        elif isinstance(n, E.Div):
            out = k[0] / k[1]
        elif isinstance(n, E.Power):
            out = np.power(k[0], num(n.exponent))
        elif isinstance(n, E.Transpose):
            out = k[0].T
        elif isinstance(n, E.Apply):
            act = ACTIVATIONS[n.fn]
            param = num(n.param if n.param is not None else act.param_value())
            out = numbers.apply(n.fn, k[0], param)
        elif isinstance(n, E.Indicator):
            out = numbers.indicator(k[0], n.relation)
        elif isinstance(n, E.SumAll):
            out = numbers.filled((1, 1), np.sum(k[0]))
        elif isinstance(n, E.Mean):
            out = numbers.filled((1, 1), np.sum(k[0]) / k[0].size)
        elif isinstance(n, E.Identity):
            out = numbers.filled(shape, zero)
            for i in range(shape[0]):
                out[i, i] = one
        elif isinstance(n, E.Diag):
            out = np.diag(k[0][:, 0])
        elif isinstance(n, E.Trace):
            out = numbers.filled((1, 1), np.trace(k[0]))
        elif isinstance(n, E.GradRef):
            raise KeyError(f"the gradient of {n.name} has no value here")
        else:
            raise NotImplementedError(f"no numeric evaluation for {type(n).__name__}")
        out = np.broadcast_to(out, shape) if out.shape != shape else out
        memo[id(n)] = (n, out)
        return out

    with np.errstate(all="ignore"):
        return ev(e)


def kink_arguments(e: E.Expr) -> list[E.Expr]:
    """The arguments of every ReLU, leaky ReLU and indicator in e (where a kink can sit)."""
    out: list[E.Expr] = []
    for n in E.walk_nodes(e):
        if isinstance(n, E.Indicator) or (
            isinstance(n, E.Apply) and ACTIVATIONS[n.fn].kinked
        ):
            out.append(n.children[0])
    return out
