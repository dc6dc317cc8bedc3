"""Element-by-element check: the network rebuilt from scalar symbols, differentiated per entry.

This is an independent second derivation. For concrete small dims, every variable becomes an
explicit matrix of SymPy symbols, the forward pass is evaluated entry by entry, and each entry of
each gradient is `sympy.diff` of the scalar loss. The matrix-form gradient is evaluated on the same
explicit matrices and the two are compared: exactly (expand(a − b) = 0) when the network is
polynomial with exact constants, otherwise at random points in high-precision arithmetic, each
side carrying a bound on its own rounding error (see `bounded_value`), away from ReLU kinks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import mpmath
import sympy

from derive import expr as E
from derive.chain_rule import Derivation
from derive.evaluate import SYMBOLIC, evaluate
from derive.spec import Spec
from derive.targets import column_values

DIGITS = 30  # significant digits of the random points
WORKING_BITS = 212  # mpmath's precision while evaluating (64 digits): its rounding is negligible
SAFETY = 8.0  # the error bound is first order, and a constant may carry a few roundings


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
    value: sympy.Matrix = evaluate(e, env, dims, SYMBOLIC)
    return value


def small_dims(spec: Spec) -> dict[str, int]:
    """Dims small enough for the entry-by-entry check, whose expressions grow like width**depth.

    Dims get distinct small sizes (from 2 to 5, within the spec's own), or 1 when more than three
    elementwise functions or standardizations are chained (the batch of a standardization then
    2, since over one column it is constant): a 10-layer sigmoid MLP at width 5 would take
    hours, and at size 1 only the chain itself is checked; transposes and order are then left to the
    other columns (numeric/ and finite differences at the spec's full dims).
    """
    nodes = [n for eq in spec.equations for n in E.walk_nodes(eq.expr)]
    layers = sum(isinstance(n, E.Apply | E.Standardize) for n in nodes)
    if layers > 3:
        # a standardization over one column is constant (its gradient 0): its batch keeps 2
        batches = {n.arg.shape[1] for n in nodes if isinstance(n, E.Standardize)}
        return {d: 2 if d in batches and spec.dims[d] >= 2 else 1 for d in spec.dims}
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
    kinds = (E.Apply, E.Div, E.Indicator, E.Softmax, E.LogSoftmax, E.Standardize)
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
        v = spec.variables[name]
        if v.values != "real":  # columns summing to 1, exactly (dyadic fractions)
            exact = column_values(v.values, m.rows, m.cols, rng.randint)
            for i in range(m.rows):
                for j in range(m.cols):
                    point[m[i, j]] = sympy.Float(sympy.Rational(exact[i][j]), DIGITS)
            continue
        lo, hi = v.value_range or (-1.5, 1.5)
        for s in m:
            point[s] = sympy.Float(rng.uniform(lo, hi), DIGITS)
    return point


# -- evaluation with a running error bound ------------------------------------------------------
#
# Why a bound and not a fixed relative tolerance: both sides are evaluated exactly enough (64
# digits), but they need not be the same function to 64 digits. A spec's decimal constants (1e-5,
# 0.1) are binary Floats of 53 bits, and the derivation combines such constants (coefficients of
# Scale, -0.5 - 1 of a power's derivative) in 53-bit arithmetic, in another order than sympy.diff
# does. Each such constant is off by up to 2**-53 of itself, and a network that subtracts nearly
# equal terms (batch norm: Z - mean(Z), whose gradient sums to zero over the batch) turns that into
# a relative error of 1e-15 or more in an entry: a fixed 1e-15 gave false FAILs. So each side is
# evaluated with a first-order running error bound (Higham, "Accuracy and Stability of Numerical
# Algorithms", 2nd ed., section 3.3): a Float of p bits is uncertain by 2**-p of itself, every
# operation propagates its operands' bounds through its derivative and adds its own rounding at
# WORKING_BITS. The bound is large exactly where the terms cancel (it grows with the sum of the
# absolute values of the terms, not with the result), and tiny otherwise, so a wrong gradient, off
# by 1e-6 or even 1e-12 of itself, is still caught. Rational constants and the random points are
# exact, and a network without Floats is compared to about 60 digits.


@dataclass(frozen=True)
class Bounded:
    """A value and a bound on its absolute error."""

    value: mpmath.mpf
    error: mpmath.mpf


def _unary_derivative(fn: type[sympy.Function]) -> Callable[[mpmath.mpf], mpmath.mpf]:
    """f′ evaluated at a number, from `sympy.diff` of the function itself."""
    t = sympy.Symbol("t", real=True)
    fprime = sympy.lambdify(t, sympy.diff(fn(t), t), modules="mpmath")
    return lambda x: mpmath.mpf(fprime(x))


class _BoundedEvaluator:
    """Evaluates SymPy scalar expressions at one point, each result with its error bound."""

    def __init__(self, point: Mapping[sympy.Symbol, sympy.Float]) -> None:
        self.unit = mpmath.ldexp(1, 1 - WORKING_BITS)
        self.point = {s: mpmath.mpf(v._mpf_) for s, v in point.items()}
        self.memo: dict[int, Bounded] = {}
        self.keep: list[sympy.Basic] = []  # memo keys are ids: keep their objects alive

    def rounded(self, value: mpmath.mpf, error: mpmath.mpf) -> Bounded:
        return Bounded(value, error + self.unit * abs(value))

    def __call__(self, e: sympy.Basic) -> Bounded:
        hit = self.memo.get(id(e))
        if hit is None:
            hit = self.memo[id(e)] = self.evaluate(e)
            self.keep.append(e)
        return hit

    def evaluate(self, e: sympy.Basic) -> Bounded:
        zero = mpmath.mpf(0)
        if e.is_Symbol:
            return Bounded(self.point[e], zero)
        if e.is_Float:
            v = mpmath.mpf(e._mpf_)
            return Bounded(v, mpmath.ldexp(abs(v), -e._prec))  # it may itself be a rounding
        if e.is_Rational:
            return self.rounded(mpmath.mpf(e.p) / e.q, zero)
        if e.is_number:  # an exact irrational constant (π, √2): to the working precision
            return self.rounded(mpmath.mpf(str(sympy.N(e, 80))), zero)
        if e.is_Add:
            terms = [self(a) for a in e.args]
            return self.rounded(mpmath.fsum(t.value for t in terms), sum(t.error for t in terms))
        if e.is_Mul:
            factors = [self(a) for a in e.args]
            value, error = mpmath.mpf(1), zero
            for f in factors:  # d(uv) = u dv + v du, to first order
                error = abs(value) * f.error + abs(f.value) * error
                value *= f.value
            return self.rounded(value, error)
        if e.is_Pow:
            return self.power(self(e.base), e.exp)
        if isinstance(e, sympy.Piecewise):
            for branch, cond in e.args:
                if self.holds(cond):
                    return self(branch)
            raise ValueError(f"no branch of {e} holds")
        if isinstance(e, sympy.Function) and len(e.args) == 1:
            a = self(e.args[0])
            if isinstance(e, sympy.exp):
                value, slope = mpmath.exp(a.value), mpmath.exp(a.value)
            elif isinstance(e, sympy.log):
                value, slope = mpmath.log(a.value), 1 / a.value
            elif isinstance(e, sympy.tanh):
                value = mpmath.tanh(a.value)
                slope = 1 - value**2
            elif isinstance(e, sympy.sign):  # flat away from 0, where draws never fall
                value, slope = mpmath.sign(a.value), mpmath.mpf(0)
            elif isinstance(e, sympy.Abs):
                value, slope = abs(a.value), mpmath.sign(a.value)
            else:
                t = sympy.Dummy()
                value = mpmath.mpf(sympy.lambdify(t, e.func(t), modules="mpmath")(a.value))
                slope = _unary_derivative(e.func)(a.value)
            return self.rounded(value, abs(slope) * a.error)
        raise NotImplementedError(f"no bounded evaluation for {type(e).__name__}")

    def power(self, base: Bounded, exponent: sympy.Basic) -> Bounded:
        b = base.value
        if exponent.is_Integer:
            p = int(exponent)
            value = b**p
            slope = p * b ** (p - 1) if p != 0 else mpmath.mpf(0)
            return self.rounded(value, abs(slope) * base.error)
        q = self(exponent)
        if b <= 0:
            raise ValueError(f"a non-integer power of {b} is not real")
        value = b**q.value
        error = abs(q.value * value / b) * base.error + abs(value * mpmath.log(b)) * q.error
        return self.rounded(value, error)

    def holds(self, cond: sympy.Basic) -> bool:
        if cond is sympy.true:
            return True
        if cond is sympy.false:
            return False
        if isinstance(cond, sympy.core.relational.Relational):
            lhs, rhs = self(cond.lhs).value, self(cond.rhs).value
            return bool(
                {">": lhs > rhs, ">=": lhs >= rhs, "<": lhs < rhs, "<=": lhs <= rhs}[cond.rel_op]
            )
        raise NotImplementedError(f"no bounded evaluation for the condition {cond}")


def bounded_value(e: sympy.Basic, point: Mapping[sympy.Symbol, sympy.Float]) -> Bounded:
    """The value of a scalar SymPy expression at a point, with a bound on its error."""
    with mpmath.workprec(WORKING_BITS):
        return _BoundedEvaluator(point)(e)


def _compare(
    name: str,
    dims: dict[str, int],
    expected: sympy.Matrix,
    derived: sympy.Matrix,
    exact: bool,
    draws: Sequence[Mapping[sympy.Symbol, sympy.Float]],
) -> ElementwiseResult:
    entries = expected.rows * expected.cols
    floats = any(m.atoms(sympy.Float) for m in (expected, derived))
    if exact and not floats:  # an identity of polynomials with exact coefficients
        diff = (expected - derived).applyfunc(sympy.expand)
        ok = all(d == 0 for d in diff)
        return ElementwiseResult(name, dims, entries, "exact", 0.0 if ok else 1.0, ok)
    worst, ok = 0.0, True
    with mpmath.workprec(WORKING_BITS):
        for point in draws:
            evaluate = _BoundedEvaluator(point)  # one per point: the two sides share subterms
            for a, b in zip(expected, derived, strict=True):
                va, vb = evaluate(a), evaluate(b)
                gap = abs(va.value - vb.value)
                ok = ok and gap <= SAFETY * (va.error + vb.error)
                scale = max(abs(va.value), abs(vb.value))
                worst = max(worst, float(gap / scale) if scale else 0.0)
    method = f"numeric at {len(draws)} points, error-bounded"
    return ElementwiseResult(name, dims, entries, method, worst, ok)
