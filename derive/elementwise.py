"""Element-by-element check: the network rebuilt from scalar symbols, differentiated per entry.

This is an independent second derivation. For concrete small dims, every variable becomes an
explicit matrix of SymPy symbols, the forward pass is evaluated entry by entry, and each entry of
each gradient is `sympy.diff` of the scalar loss. The matrix-form gradient is evaluated on the same
explicit matrices and the two are compared: exactly (expand(a − b) = 0) when the network is
polynomial, otherwise at random points with 30 significant digits, away from ReLU kinks.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.chain_rule import Derivation
from derive.spec import Spec

DIGITS = 30
RTOL = 1e-15


@dataclass(frozen=True)
class ElementwiseResult:
    """The outcome for one gradient."""

    wrt: str
    dims: dict[str, int]
    entries: int
    method: str  # "exact" or "numeric@k points"
    max_rel_error: float
    passed: bool

    def __str__(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        at = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        return (
            f"{self.wrt}: {verdict} ({self.entries} entries{' at ' + at if at else ''}, "
            f"{self.method}, max rel. error {self.max_rel_error:.1e})"
        )


def explicit(e: E.Expr, env: Mapping[str, sympy.Matrix], dims: Mapping[str, int]) -> sympy.Matrix:
    """Evaluate an expression on explicit SymPy matrices (dims given as numbers)."""
    subs = {E.dim_symbol(d): n for d, n in dims.items()}
    memo: dict[int, sympy.Matrix] = {}

    def size(dim: E.Dim) -> int:
        return dim if isinstance(dim, int) else dims[dim]

    def num(v: sympy.Expr) -> sympy.Expr:
        return v.xreplace(subs) if v.free_symbols else v

    def ev(n: E.Expr) -> sympy.Matrix:
        hit = memo.get(id(n))
        if hit is not None:
            return hit
        rows, cols = size(n.shape[0]), size(n.shape[1])
        kids = [ev(c) for c in n.children]
        out: sympy.Matrix
        if isinstance(n, E.Var):
            out = env[n.name]
        elif isinstance(n, E.Const):
            out = sympy.Matrix([[num(n.value)]])
        elif isinstance(n, E.Ones):
            out = sympy.ones(rows, cols)
        elif isinstance(n, E.Zero):
            out = sympy.zeros(rows, cols)
        elif isinstance(n, E.Add):
            out = sympy.zeros(rows, cols)
            for k in kids:
                out += sympy.Matrix(rows, cols, lambda i, j, k=k: k[i % k.rows, j % k.cols])
        elif isinstance(n, E.Scale):
            out = num(n.coef) * kids[0]
        elif isinstance(n, E.MatMul):
            out = kids[0]
            for k in kids[1:]:
                out = out * k
        elif isinstance(n, E.Hadamard):
            out = kids[0]
            for k in kids[1:]:
                out = out.multiply_elementwise(k)
        elif isinstance(n, E.ScalarMul):
            out = kids[0][0, 0] * kids[1]
        elif isinstance(n, E.Div):
            out = kids[0] / kids[1][0, 0]
        elif isinstance(n, E.Power):
            p = n.exponent
            out = kids[0].applyfunc(lambda x: x**p)
        elif isinstance(n, E.Transpose):
            out = kids[0].T
        elif isinstance(n, E.Apply):
            act, param = ACTIVATIONS[n.fn], n.param
            out = kids[0].applyfunc(lambda x: act.scalar(x, param))
        elif isinstance(n, E.Indicator):
            if n.relation == ">":
                out = kids[0].applyfunc(lambda x: sympy.Piecewise((1, x > 0), (0, True)))
            else:
                out = kids[0].applyfunc(lambda x: sympy.Piecewise((1, x <= 0), (0, True)))
        elif isinstance(n, E.SumAll):
            out = sympy.Matrix([[sum(kids[0])]])
        elif isinstance(n, E.Mean):
            out = sympy.Matrix([[sum(kids[0]) / (kids[0].rows * kids[0].cols)]])
        else:
            raise NotImplementedError(f"no explicit evaluation for {type(n).__name__}")
        memo[id(n)] = out
        return out

    return ev(e)


def small_dims(spec: Spec) -> dict[str, int]:
    """Dims small enough for the entry-by-entry check, whose expressions grow like width**depth.

    Dims get distinct small sizes (from 2 to 5, within the spec's own), or 1 when more than three
    elementwise functions are chained: a 10-layer sigmoid MLP at width 5 would take hours, and at
    size 1 only the chain itself is checked; transposes and order are then left to the
    other columns (numeric/ and finite differences at the spec's full dims).
    """
    layers = sum(isinstance(n, E.Apply) for eq in spec.equations for n in E.walk_nodes(eq.expr))
    if layers > 3:
        return {d: 1 for d in spec.dims}
    # distinct where the spec's own dims allow, so that a transpose cannot hide
    chosen: dict[str, int] = {}
    for d, n in sorted(spec.dims.items(), key=lambda item: item[1]):
        free = [v for v in (2, 3, 4, 5) if v <= n and v not in chosen.values()]
        chosen[d] = free[0] if free else min(n, 2)
    return {d: chosen[d] for d in spec.dims}


def symbol_matrix(name: str, rows: int, cols: int) -> sympy.Matrix:
    return sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{name}[{i},{j}]", real=True))


def _forward(
    spec: Spec, env: dict[str, sympy.Matrix], dims: Mapping[str, int], start: int = 0
) -> sympy.Expr:
    for eq in spec.equations[start:]:
        env[eq.name] = explicit(eq.expr, env, dims)
    return env[spec.loss][0, 0]


def _is_polynomial(spec: Spec) -> bool:
    kinds = (E.Apply, E.Div, E.Indicator)
    return not any(
        isinstance(n, kinds) or (isinstance(n, E.Power) and not n.exponent.is_integer)
        for eq in spec.equations
        for n in E.walk_nodes(eq.expr)
    )


def elementwise_check(
    deriv: Derivation,
    names: Sequence[str] | None = None,
    dims: Mapping[str, int] | None = None,
    points: int = 2,
    seed: int = 0,
) -> list[ElementwiseResult]:
    """Compare each matrix-form gradient with entry-by-entry `sympy.diff` of the scalar loss.

    `dims` defaults to `small_dims(spec)`; give the spec's own dims to check at full size.
    """
    spec = deriv.spec
    sizes = {**spec.dims, **(small_dims(spec) if dims is None else dims)}
    rng = random.Random(seed)

    def size(d: E.Dim) -> int:
        return d if isinstance(d, int) else sizes[d]

    leaves = {
        name: symbol_matrix(name, size(v.shape[0]), size(v.shape[1]))
        for name, v in spec.variables.items()
    }
    env: dict[str, sympy.Matrix] = dict(leaves)
    loss = _forward(spec, env, sizes)
    exact = _is_polynomial(spec)
    draws = [_draw(spec, leaves, rng) for _ in range(points)]
    order = {eq.name: i for i, eq in enumerate(spec.equations)}
    results = []
    for name in names if names is not None else deriv.default_names():
        shape = spec.shape_of(name)
        rows, cols = size(shape[0]), size(shape[1])
        if name in leaves:
            target, fn_of, back = leaves[name], loss, {}
        else:  # an intermediate: the loss as a function of fresh symbols standing for it
            target = symbol_matrix(f"{name}~", rows, cols)
            downstream = {k: v for k, v in env.items() if k in leaves or order[k] < order[name]}
            downstream[name] = target
            fn_of = _forward(spec, downstream, sizes, order[name] + 1)
            back = {target[i, j]: env[name][i, j] for i in range(rows) for j in range(cols)}
        expected = sympy.Matrix(rows, cols, lambda i, j, f=fn_of, x=target: sympy.diff(f, x[i, j]))
        expected = expected.xreplace(back) if back else expected
        derived = explicit(deriv[name].final, env, sizes)
        results.append(_compare(name, sizes, expected, derived, exact, draws))
    return results


def _draw(
    spec: Spec, leaves: Mapping[str, sympy.Matrix], rng: random.Random
) -> dict[sympy.Symbol, sympy.Float]:
    point: dict[sympy.Symbol, sympy.Float] = {}
    for name, m in leaves.items():
        lo, hi = spec.variables[name].value_range or (-1.5, 1.5)
        for s in m:
            point[s] = sympy.Float(rng.uniform(lo, hi), DIGITS)
    return point


def _compare(
    name: str,
    dims: dict[str, int],
    expected: sympy.Matrix,
    derived: sympy.Matrix,
    exact: bool,
    draws: Sequence[Mapping[sympy.Symbol, sympy.Float]],
) -> ElementwiseResult:
    entries = expected.rows * expected.cols
    if exact:
        diff = (expected - derived).applyfunc(sympy.expand)
        ok = all(d == 0 for d in diff)
        return ElementwiseResult(name, dims, entries, "exact", 0.0 if ok else 1.0, ok)
    worst = 0.0
    for point in draws:
        for a, b in zip(expected, derived, strict=True):
            va = complex(sympy.N(a.xreplace(point), DIGITS))
            vb = complex(sympy.N(b.xreplace(point), DIGITS))
            scale = max(abs(va), abs(vb), 1e-30)
            worst = max(worst, abs(va - vb) / scale)
    return ElementwiseResult(
        name, dims, entries, f"numeric at {len(draws)} points", worst, worst <= RTOL
    )
