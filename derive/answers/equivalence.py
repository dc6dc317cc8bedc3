"""Are two matrix expressions the same gradient? Shapes first, then values at random dims.

Each draw picks new dims (distinct values from 2 to 7, so a transpose cannot hide behind a square
matrix or a dim of 1) and new values of every variable, computes the forward intermediates, and
compares both expressions entry by entry. A draw that puts any ReLU input or indicator argument
within 1e-6 of its kink, or that makes an intermediate or the expected gradient non-finite, is
drawn again; when too few draws can be had, there is no verdict (`TooFewPoints`).

Float64 agreement to RTOL is then confirmed at 40 digits on one draw (`agrees_precisely`): a
wrong term 1e-9 the size of the gradient passes a float tolerance but not that. At 40 digits a
correct answer agrees to about 1e-38 relative, so PRECISE_RTOL = 1e-25 leaves 13 digits for
cancellation inside the expressions, and still sees a wrong term of 1e-24 relative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from derive import expr as E
from derive.evaluate import Array, evaluate, kink_arguments, precise
from derive.spec import Spec
from derive.targets import concrete_shape, draw_value

RTOL = 1e-8
FLOOR = 1e-12
KINK_MARGIN = 1e-6
PRECISE_DIGITS = 40
PRECISE_RTOL = 1e-25
TRIES_PER_POINT = 50


class TooFewPoints(Exception):
    """No verdict: too few random points where every value is finite and away from kinks."""


@dataclass
class Draw:
    """One random point: dims, the values of every name, and evaluated results."""

    dims: dict[str, int]
    env: dict[str, Array]


def draw_points(spec: Spec, count: int, seed: int, guard: Sequence[E.Expr] = ()) -> list[Draw]:
    """`count` draws of dims and values, away from kinks of the spec and of `guard` expressions."""
    rng = np.random.default_rng(seed)
    kinks = [a for eq in spec.equations for a in kink_arguments(eq.expr)]
    kinks += [a for g in guard for a in kink_arguments(g)]
    draws: list[Draw] = []
    attempts = 0
    while len(draws) < count:
        attempts += 1
        if attempts > TRIES_PER_POINT * count:
            raise TooFewPoints(
                f"only {len(draws)} of {count} random points in {attempts - 1} tries had every "
                "value finite and every ReLU input away from its kink; narrow the variables' "
                "`range` in the spec"
            )
        names = list(spec.dims)
        sizes = rng.choice(np.arange(2, 8), size=len(names), replace=len(names) > 6)
        dims = {d: int(n) for d, n in zip(names, sizes, strict=True)}
        env: dict[str, Array] = {}
        for name, v in spec.variables.items():
            env[name] = draw_value(v, concrete_shape(v.shape, dims), rng)
        for eq in spec.equations:
            env[eq.name] = evaluate(eq.expr, env, dims)
        if not all(np.all(np.isfinite(env[eq.name])) for eq in spec.equations):
            continue
        if any(np.min(np.abs(evaluate(k, env, dims))) < KINK_MARGIN for k in kinks):
            continue
        if not all(np.all(np.isfinite(evaluate(g, env, dims))) for g in guard):
            continue  # the expected gradient overflows here: no comparison could mean anything
        draws.append(Draw(dims, env))
    return draws


def close(a: Array, b: Array) -> bool:
    """Equal to RTOL; a non-finite entry on either side is never equal (inf == inf is no proof)."""
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), FLOOR)
    return bool(np.all(np.abs(a - b) <= RTOL * scale))


def agrees_precisely(spec: Spec, a: E.Expr, b: E.Expr, draw: Draw) -> bool:
    """Whether a and b agree to PRECISE_RTOL at the draw, every value taken at 40 digits.

    The draw's inputs are exact binary numbers; the intermediates are recomputed from them at
    that precision, so neither side inherits float64 rounding.
    """
    numbers = precise(PRECISE_DIGITS)
    env = {n: numbers.lift(draw.env[n]) for n in spec.variables}
    for eq in spec.equations:
        env[eq.name] = evaluate(eq.expr, env, draw.dims, numbers)
    x = evaluate(a, env, draw.dims, numbers)
    y = evaluate(b, env, draw.dims, numbers)
    if x.shape != y.shape:
        return False
    # relative to the larger side's largest entry, so that an entry that is 0 on both sides
    # (up to rounding) does not count as a relative difference
    scale = max((abs(v) for v in np.concatenate([x.ravel(), y.ravel()])), default=0)
    worst = max((abs(u - v) for u, v in zip(x.ravel(), y.ravel(), strict=True)), default=0)
    if not (numbers.mp.isfinite(scale) and numbers.mp.isfinite(worst)):
        return False
    return bool(worst <= PRECISE_RTOL * max(scale, numbers.mp.mpf(FLOOR)))


def agrees(e: E.Expr, target: Sequence[Array], draws: Sequence[Draw]) -> bool:
    """Whether e evaluates to the given values at every draw."""
    for d, want in zip(draws, target, strict=True):
        try:
            got = evaluate(e, d.env, d.dims)
        except (KeyError, ValueError, NotImplementedError):
            return False
        if not close(np.asarray(got, dtype=float), want):
            return False
    return True


def values_at(e: E.Expr, draws: Sequence[Draw]) -> list[Array]:
    return [np.asarray(evaluate(e, d.env, d.dims), dtype=float) for d in draws]


def _ratios(answer: Sequence[Array], expected: Sequence[Array]) -> list[tuple[int, float]] | None:
    """(draw, k) with answer = k · expected at each draw where expected is not all zero, or
    None when some draw is no multiple; draws zero on both sides (every ReLU unit off) fit any
    k and are passed over."""
    out: list[tuple[int, float]] = []
    for i, (a, b) in enumerate(zip(answer, expected, strict=True)):
        if a.shape != b.shape:
            return None
        mask = np.abs(b) > 1e-9
        if not np.any(mask):
            if np.any(np.abs(a) > 1e-9):
                return None
            continue
        if np.any(np.abs(a[~mask]) > 1e-9 * np.max(np.abs(a))):
            return None
        ratio = a[mask] / b[mask]
        if not np.allclose(ratio, ratio[0], rtol=1e-7, atol=0):
            return None
        out.append((i, float(ratio[0])))
    return out


def constant_ratio(answer: Sequence[Array], expected: Sequence[Array]) -> float | None:
    """k if answer = k · expected at every draw (k ≠ 0, 1), else None."""
    found = _ratios(answer, expected)
    ks = [k for _, k in found or ()]
    if not ks or not np.allclose(ks, ks[0], rtol=1e-7):
        return None
    k = ks[0]
    if not np.isfinite(k) or abs(k - 1) < 1e-9 or abs(k) < 1e-12:
        return None
    return k


def dims_ratio(
    answer: Sequence[Array], expected: Sequence[Array], draws: Sequence[Draw]
) -> tuple[float, str] | None:
    """(c, "B h") if answer = c · (a product of dims, or its inverse) · expected at every draw
    (draws where both sides are 0, every ReLU unit off, fit any factor and are passed over)."""
    found = _ratios(answer, expected)
    ks = [k for _, k in found or ()]
    used = [draws[i] for i, _ in found or ()]
    if len(ks) < 2 or not all(np.isfinite(ks)):
        return None
    names = list(used[0].dims)
    candidates: list[tuple[str, list[float]]] = []
    for i, n in enumerate(names):
        candidates.append((n, [float(x.dims[n]) for x in used]))
        for e in names[i + 1 :]:
            candidates.append((f"{n} {e}", [float(x.dims[n] * x.dims[e]) for x in used]))
    for label, values in candidates:
        for power, shown in ((1, label), (-1, f"1/({label})")):
            scaled = [k / v**power for k, v in zip(ks, values, strict=True)]
            if np.allclose(scaled, scaled[0], rtol=1e-7) and abs(scaled[0]) > 1e-12:
                return scaled[0], shown
    return None


def first_difference(answer: Sequence[Array], expected: Sequence[Array]) -> int | None:
    for i, (a, b) in enumerate(zip(answer, expected, strict=True)):
        if not close(a, b):
            return i
    return None


Evaluator = Callable[[E.Expr], list[Array]]
