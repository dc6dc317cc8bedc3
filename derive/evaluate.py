"""Numeric evaluation of expressions with NumPy at concrete dims (for comparing answers).

This evaluates derive's own expression trees; it is not an oracle for the derivation (numeric/ is),
but the way two expressions are compared at random dims and values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
import sympy

from derive import expr as E

Array = npt.NDArray[np.float64]


def _sigmoid(a: Array) -> Array:
    out: Array = 0.5 + 0.5 * np.tanh(0.5 * a)
    return out


_FUNCTIONS: dict[str, Callable[[Array, float], Array]] = {
    "sigmoid": lambda a, p: _sigmoid(a),
    "tanh": lambda a, p: np.tanh(a),
    "relu": lambda a, p: np.maximum(a, 0.0),
    "leaky_relu": lambda a, p: np.where(a > 0, a, p * a),
    "exp": lambda a, p: np.exp(a),
    "log": lambda a, p: np.log(a),
    "sqrt": lambda a, p: np.sqrt(a),
}


def size(dim: E.Dim, dims: Mapping[str, int]) -> int:
    return dim if isinstance(dim, int) else dims[dim]


def evaluate(e: E.Expr, env: Mapping[str, Array], dims: Mapping[str, int]) -> Array:
    """The value of e, with names from env and dims as numbers."""
    subs = {E.dim_symbol(d): n for d, n in dims.items()}
    memo: dict[int, Array] = {}

    def num(v: sympy.Expr) -> float:
        return float(v.xreplace(subs))

    def ev(n: E.Expr) -> Array:
        hit = memo.get(id(n))
        if hit is not None:
            return hit
        k = [ev(c) for c in n.children]
        shape = (size(n.shape[0], dims), size(n.shape[1], dims))
        out: Array
        if isinstance(n, E.Var):
            out = env[n.name]
        elif isinstance(n, E.Const):
            out = np.full((1, 1), num(n.value), dtype=np.float64)
        elif isinstance(n, E.Ones):
            out = np.ones(shape)
        elif isinstance(n, E.Zero):
            out = np.zeros(shape)
        elif isinstance(n, E.Add):
            out = np.zeros(shape)
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
            param = num(n.param) if n.param is not None else 0.0
            out = _FUNCTIONS[n.fn](k[0], param)
        elif isinstance(n, E.Indicator):
            out = (k[0] > 0).astype(float) if n.relation == ">" else (k[0] <= 0).astype(float)
        elif isinstance(n, E.SumAll):
            out = np.full((1, 1), np.sum(k[0]), dtype=np.float64)
        elif isinstance(n, E.Mean):
            out = np.full((1, 1), np.mean(k[0]), dtype=np.float64)
        elif isinstance(n, E.Identity):
            out = np.eye(shape[0])
        elif isinstance(n, E.Diag):
            out = np.diag(k[0][:, 0])
        elif isinstance(n, E.Trace):
            out = np.full((1, 1), np.trace(k[0]), dtype=np.float64)
        elif isinstance(n, E.GradRef):
            raise KeyError(f"the gradient of {n.name} has no value here")
        else:
            raise NotImplementedError(f"no numeric evaluation for {type(n).__name__}")
        out = np.broadcast_to(out, shape) if out.shape != shape else out
        memo[id(n)] = out
        return out

    with np.errstate(all="ignore"):
        return ev(e)


def kink_arguments(e: E.Expr) -> list[E.Expr]:
    """The arguments of every ReLU, leaky ReLU and indicator in e (where a kink can sit)."""
    out: list[E.Expr] = []
    for n in E.walk_nodes(e):
        if isinstance(n, E.Indicator) or (
            isinstance(n, E.Apply) and n.fn in ("relu", "leaky_relu")
        ):
            out.append(n.children[0])
    return out
