"""Finite-difference checks of Network.backward, per entry or along random directions.

Kept apart from the engine on purpose: it only calls Network.evaluate / backward and never
looks at ops or rules, so it is an independent oracle for them.

How an analytic a is compared with a finite difference d (see `entry_error`):
|a - d| / max(|a|, |d|, floor, resolution / rtol) <= rtol, i.e. |a - d| may be up to
max(rtol * max(|a|, |d|), resolution, rtol * floor), where
  * floor (1e-12 float64, 1e-6 float32) is the magnitude below which a number counts as
    zero, so 1e-17 against 0 is not a 100 % error;
  * resolution is how far d itself may be from the true derivative. Each loss value carries
    roundoff of order u*|f|, so d carries about NOISE_FACTOR * u * |f| / h; per entry, the
    gap to a second difference with step 2h adds a self-calibrated truncation estimate.
    Without this a deep sigmoid net (gradients ~1e-6, loss ~1) fails rtol 1e-6 on roundoff
    alone. A wrong backward rule is still caught: it misses d by far more than d's error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from numeric.errors import NumericError
from numeric.ops import Array
from numeric.tape import INTERMEDIATE, Network

# Roundoff in one loss evaluation, in units of u*|f|: up to ~20 was observed on the example
# specs (cancellation in sum((yhat - y)**2) with a small loss); 64 leaves margin.
NOISE_FACTOR = 64.0


# A comparison counts only if the FD resolves the derivative to 10 %: otherwise any answer
# would "agree" with it, and it is listed as unchecked instead of passed.
RESOLVABLE = 0.1


@dataclass(frozen=True)
class Tolerance:
    """Step and tolerances for one dtype."""

    step: float  # per-entry relative step: h = step * max(1, |x|)
    direction_step: float  # directional: h = direction_step * max(1, rms of the entries)
    rtol: float
    floor: float  # magnitudes below this count as zero in relative_error


_TOLERANCES: dict[str, Tolerance] = {
    # Curvature along a random unit direction is small, while roundoff in f is not: the
    # directional check takes a 10x longer step (measured on width-512 sigmoid MLPs: float32
    # at 1e-3 cannot resolve the derivative at all, at 1e-2 it is good to ~1e-4).
    "float64": Tolerance(step=1e-6, direction_step=1e-5, rtol=1e-6, floor=1e-12),
    "float32": Tolerance(step=1e-3, direction_step=1e-2, rtol=1e-2, floor=1e-6),
}


def default_tolerance(dtype: npt.DTypeLike) -> Tolerance:
    """Defaults: float64 step 1e-6 (directional 1e-5), rtol 1e-6; float32 1e-3 (1e-2), 1e-2."""
    dt = np.dtype(dtype)
    if dt.name in _TOLERANCES:
        return _TOLERANCES[dt.name]
    u = float(np.finfo(dt).eps)  # other floats: the classic cube-root step
    cube_root = u ** (1 / 3)
    return Tolerance(
        step=cube_root, direction_step=10 * cube_root, rtol=10 * cube_root, floor=u**0.75
    )


def relative_error(a: npt.ArrayLike, b: npt.ArrayLike, floor: float | None = None) -> float:
    """max over entries of |a - b| / max(|a|, |b|, floor); 0.0 for empty arrays.

    `floor` defaults to the dtype floor (1e-12 float64, 1e-6 float32): entries where both
    sides are below it are compared absolutely, so 1e-17 against 0 is a tiny error, not 100 %.
    """
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    if a_arr.shape != b_arr.shape:
        raise NumericError(f"relative_error: shapes differ, {a_arr.shape} vs {b_arr.shape}")
    if a_arr.size == 0:
        return 0.0
    if floor is None:
        given = np.result_type(np.asarray(a), np.asarray(b))
        floor = default_tolerance(given if given.kind == "f" else np.float64).floor
    scale = np.maximum(np.maximum(np.abs(a_arr), np.abs(b_arr)), floor)
    return float(np.max(np.abs(a_arr - b_arr) / scale))


def entry_error(analytic: float, numeric: float, rtol: float, floor: float, noise: float) -> float:
    """relative_error of two numbers with the floor raised to the FD noise level / rtol."""
    scale = max(abs(analytic), abs(numeric), floor, noise / rtol)
    return abs(analytic - numeric) / scale


# ---- results -------------------------------------------------------------------------------


@dataclass
class CheckRow:
    """The check of one variable (per-entry mode) or of one direction (directional mode)."""

    label: str
    rtol: float
    max_rel_error: float = 0.0
    worst: str = ""
    checked: int = 0
    failed: int = 0

    @property
    def passed(self) -> bool:
        return self.failed == 0

    def record(self, where: str, error: float) -> None:
        self.checked += 1
        if not error <= self.rtol:  # also catches NaN
            self.failed += 1
        if not error <= self.max_rel_error:
            self.max_rel_error, self.worst = error, where


@dataclass(frozen=True)
class Unchecked:
    """An entry or direction that could not be checked, and why."""

    where: str
    reason: str


@dataclass
class GradCheckResult:
    """Outcome of a gradient check.

    `passed`: at least one comparison was made and none exceeded rtol. Entries or directions
    that could not be compared (kink crossings, non-finite loss, below FD resolution) are
    listed in `unchecked`, never counted as passes; `complete` says whether there are none.
    """

    method: str
    title: str
    dtype: str
    eps: float
    rtol: float
    floor: float
    rows: dict[str, CheckRow] = field(default_factory=dict)
    unchecked: list[Unchecked] = field(default_factory=list)
    nudged: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """ "FAILED" on any mismatch, "INCONCLUSIVE" if nothing was compared, else "PASSED"."""
        if not all(row.passed for row in self.rows.values()):
            return "FAILED"
        return "PASSED" if self.n_checked else "INCONCLUSIVE"

    @property
    def passed(self) -> bool:
        return self.verdict == "PASSED"

    @property
    def complete(self) -> bool:
        """Everything asked for was compared (nothing unchecked)."""
        return not self.unchecked

    @property
    def max_rel_error(self) -> float:
        return max((row.max_rel_error for row in self.rows.values()), default=0.0)

    @property
    def n_checked(self) -> int:
        return sum(row.checked for row in self.rows.values())

    def __str__(self) -> str:
        verdict = self.verdict
        if self.unchecked:
            verdict += f", {len(self.unchecked)} UNCHECKED"
        lines = [
            f"gradient check ({self.method}) of {self.title!r} [{self.dtype}, "
            f"eps={self.eps:.1e}, rtol={self.rtol:.1e}]: {verdict}; "
            f"max rel err {self.max_rel_error:.2e} over {self.n_checked} comparisons"
        ]
        width = max((len(label) for label in self.rows), default=0)
        for label, row in self.rows.items():
            status = "ok" if row.passed else f"FAIL ({row.failed} of {row.checked})"
            worst = f"  worst {row.worst}" if row.worst and not row.passed else ""
            lines.append(
                f"  {label:<{width}}  max rel err {row.max_rel_error:.2e}"
                f"  ({row.checked} compared)  {status}{worst}"
            )
        shown = 12
        for item in self.unchecked[:shown]:
            lines.append(f"  UNCHECKED {item.where}: {item.reason}")
        if len(self.unchecked) > shown:
            lines.append(f"  ... and {len(self.unchecked) - shown} more unchecked")
        for note in self.nudged[:shown]:
            lines.append(f"  nudged {note}")
        if len(self.nudged) > shown:
            lines.append(f"  ... and {len(self.nudged) - shown} more nudged")
        return "\n".join(lines)


def _judge(
    result: GradCheckResult,
    row_label: str,
    label: str,
    analytic: float,
    numeric: float,
    resolution: float,
) -> None:
    """Record one comparison, or list it as unchecked if the FD cannot resolve it."""
    if not math.isfinite(analytic):  # a NaN/inf gradient is a failure whatever the FD says
        row = result.rows.setdefault(row_label, CheckRow(row_label, result.rtol))
        row.record(f"{label}: analytic {analytic} vs fd {numeric:.6e}", math.inf)
        return
    magnitude = max(abs(analytic), abs(numeric))
    if magnitude > result.floor and not resolution <= RESOLVABLE * magnitude:
        result.unchecked.append(
            Unchecked(
                label,
                f"below finite-difference resolution (analytic {analytic:.2e}, "
                f"fd {numeric:.2e}, fd resolution {resolution:.1e})",
            )
        )
        return
    where = f"{label}: analytic {analytic:.6e} vs fd {numeric:.6e}"
    row = result.rows.setdefault(row_label, CheckRow(row_label, result.rtol))
    row.record(where, entry_error(analytic, numeric, result.rtol, result.floor, resolution))


# ---- points: vars plus pinned intermediates --------------------------------------------------


@dataclass(frozen=True)
class _Point:
    """Where the loss is evaluated: var values plus intermediates pinned by override."""

    values: dict[str, Array]
    pinned: dict[str, Array]

    def get(self, name: str) -> Array:
        return self.pinned[name] if name in self.pinned else self.values[name]

    def with_value(self, name: str, value: Array) -> _Point:
        if name in self.pinned:
            return _Point(self.values, {**self.pinned, name: value})
        return _Point({**self.values, name: value}, self.pinned)

    def with_values(self, new: Mapping[str, Array]) -> _Point:
        values = {n: new.get(n, v) for n, v in self.values.items()}
        return _Point(values, {n: new.get(n, v) for n, v in self.pinned.items()})


def _kink_pattern(network: Network, point: _Point) -> tuple[float, list[Array]]:
    """Loss and relu sign patterns at a perturbed point.

    A perturbation may leave the domain (log of a negative); the non-finite loss is handled
    by the caller, so numpy's warnings about it would only be noise.
    """
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        run = network.evaluate(point.values, point.pinned)
    return run.loss, [k > 0 for k in run.kink_inputs]


def _same_pattern(a: list[Array], b: list[Array]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _unit_roundoff(network: Network) -> float:
    return float(np.finfo(network.dtype).eps)


def _names(network: Network, wrt: Sequence[str] | None, default: list[str]) -> list[str]:
    names = list(default if wrt is None else wrt)
    for name in names:
        if name not in network.variables:
            raise NumericError(f"{network.title}: cannot check unknown name '{name}'")
        if name == network.loss:
            raise NumericError(f"{network.title}: '{name}' is the loss itself")
    return names


def _entry_label(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]"


def _base_point(network: Network, values: Mapping[str, Array], name: str) -> _Point:
    """The point for perturbing `name`: an intermediate pins itself and every earlier one,
    so a perturbed forward pass recomputes only the equations after it."""
    run = network.evaluate(values)
    var_values = {n: run.values[n] for n in network.inputs_order}
    if network.variables[name].role != INTERMEDIATE:
        return _Point(var_values, {})
    position = network.intermediates.index(name)
    pinned = {n: run.values[n] for n in network.intermediates[: position + 1]}
    return _Point(var_values, pinned)


def _step(x: float, eps: float) -> float:
    return eps * max(1.0, abs(x))


@dataclass(frozen=True)
class _Difference:
    value: float  # (f(x + h) - f(x - h)) / (x_plus - x_minus)
    resolution: float  # how far `value` itself may be from the true derivative
    crosses_kink: bool

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value) and math.isfinite(self.resolution)


def _pair(
    network: Network, point: _Point, name: str, index: tuple[int, ...], h: float
) -> tuple[float, float, list[Array], list[Array]]:
    """(central difference, roundoff level, kink patterns at x + h and at x - h)."""
    x = point.get(name)
    plus, minus = x.copy(), x.copy()
    plus[index] += h
    minus[index] -= h
    # Divide by the step actually taken after rounding to the dtype, not by 2h.
    taken = float(plus[index]) - float(minus[index])
    f_plus, kinks_plus = _kink_pattern(network, point.with_value(name, plus))
    f_minus, kinks_minus = _kink_pattern(network, point.with_value(name, minus))
    noise = NOISE_FACTOR * _unit_roundoff(network) * max(abs(f_plus), abs(f_minus)) / taken
    return (f_plus - f_minus) / taken, noise, kinks_plus, kinks_minus


def _central_difference(
    network: Network, point: _Point, name: str, index: tuple[int, ...], h: float
) -> _Difference:
    """Central difference with step h, and its resolution from a second one with step 2h.

    The two differ by about 3x the truncation error of the first plus roundoff, so their gap
    is a self-calibrated bound on the first's error: where it is wide (strong curvature, or
    cancellation in float32) the comparison allows for it instead of failing falsely. A wrong
    backward rule still fails, since both differences then disagree with it alike.
    """
    value, noise, plus, minus = _pair(network, point, name, index, h)
    if not math.isfinite(value):
        return _Difference(value, math.inf, not _same_pattern(plus, minus))
    second, _, plus_2, minus_2 = _pair(network, point, name, index, 2 * h)
    if not math.isfinite(second):  # x +- 2h left the domain (log, sqrt): use h / 2
        second, _, plus_2, minus_2 = _pair(network, point, name, index, h / 2)
    crosses = not (
        _same_pattern(plus, minus) and _same_pattern(plus, plus_2) and _same_pattern(plus, minus_2)
    )
    gap = abs(value - second) if math.isfinite(second) else 0.0
    return _Difference(value, max(noise, gap), crosses)


def finite_difference_gradients(
    network: Network,
    values: Mapping[str, Array],
    wrt: Sequence[str] | None = None,
    eps: float | None = None,
) -> dict[str, Array]:
    """Central differences of the loss for every entry of each name in `wrt`.

    `wrt` defaults to every var and intermediate but the loss; an intermediate is perturbed
    by overriding its value and recomputing only later equations. `eps` is the relative step
    (h = eps * max(1, |x|)); it defaults by dtype. Raw estimates: kinks are not handled here.
    """
    step = default_tolerance(network.dtype).step if eps is None else eps
    names = _names(network, wrt, [n for n in network.variables if n != network.loss])
    out: dict[str, Array] = {}
    for name in names:
        point = _base_point(network, values, name)
        x = point.get(name)
        grad = np.zeros(x.shape, dtype=network.dtype)
        for index in np.ndindex(*x.shape):
            h = _step(float(x[index]), step)
            grad[index] = _pair(network, point, name, index, h)[0]
        out[name] = grad
    return out


def check_gradients(
    network: Network,
    values: Mapping[str, Array],
    wrt: Sequence[str] | None = None,
    eps: float | None = None,
    rtol: float | None = None,
    rng: np.random.Generator | None = None,
    max_nudges: int = 3,
) -> GradCheckResult:
    """Compare Network.backward with per-entry central differences.

    An entry whose +-h pair gives a different relu/leaky_relu sign pattern crosses a kink:
    the point is nudged along that entry (by 3h..30h, random sign) and re-checked there,
    against backward at the nudged point, up to `max_nudges` times; if it still crosses, the
    entry is reported as unchecked at a kink. Entries where the loss is not finite at x +- h,
    or whose derivative the FD cannot resolve to 10 %, are likewise listed as unchecked;
    none of these is ever counted as a pass or a failure.
    """
    tol = default_tolerance(network.dtype)
    step = tol.step if eps is None else eps
    rtol = tol.rtol if rtol is None else rtol
    rng = np.random.default_rng(0) if rng is None else rng
    names = _names(network, wrt, [n for n in network.variables if n != network.loss])
    result = GradCheckResult(
        "finite differences, per entry", network.title, network.dtype.name, step, rtol, tol.floor
    )
    _, grads = network.backward(values)
    for name in names:
        base = _base_point(network, values, name)
        x = base.get(name)
        for index in np.ndindex(*x.shape):
            label = _entry_label(name, index)
            h = _step(float(x[index]), step)
            diff = _central_difference(network, base, name, index, h)
            analytic = float(grads[name][index])
            nudges = 0
            while diff.crosses_kink and nudges < max_nudges:
                nudges += 1
                offset = float(rng.choice([-1.0, 1.0]) * rng.uniform(3.0, 30.0) * h)
                moved = x.copy()
                moved[index] += offset
                point = base.with_value(name, moved)
                diff = _central_difference(network, point, name, index, h)
                if not diff.crosses_kink:
                    _, moved_grads = network.backward(point.values, point.pinned)
                    analytic = float(moved_grads[name][index])
                    result.nudged.append(f"{label} by {offset:+.1e} off a kink")
            if diff.crosses_kink:
                result.unchecked.append(
                    Unchecked(label, f"the +-h pair crosses a relu kink ({nudges} nudges tried)")
                )
                continue
            if not diff.finite:
                result.unchecked.append(
                    Unchecked(label, "the loss is not finite at x +- h (outside a log/sqrt domain)")
                )
                continue
            _judge(result, name, label, analytic, diff.value, diff.resolution)
    return result


# A direction's entries are odd 16-bit integers k in [-32767, 32767], all 32768 equally likely
# (symmetric, never 0), scaled to a unit vector: a fine discretisation of uniform on [-1, 1].
# As with a Gaussian direction, <e, v> is rarely small for ANY nonzero gradient error e (sums
# of independent uniforms have log-concave densities, so P(|<e, v>| < t sd) <= ~1.5 t); a
# Rademacher (+-1) direction would let two equal and opposite errors cancel exactly with
# probability 1/2. Four entries come from one 64-bit random word, about 20x cheaper than
# float64 normals, and the squared norm is a BLAS dot of integers (exact below 2**53).
_ODD_LANES = np.uint64(0x0001_0001_0001_0001)


def _draw_direction(rng: np.random.Generator, out: Array) -> float:
    """Fill `out` (float64, C-contiguous) with fresh direction entries; their squared norm."""
    flat = out.reshape(-1)
    words = rng.integers(0, 2**64, size=(flat.size + 3) // 4, dtype=np.uint64)
    np.bitwise_or(words, _ODD_LANES, out=words)
    np.copyto(flat, words.view(np.int16)[: flat.size])
    return float(np.dot(flat, flat))


def _sum_of_squares(a: Array) -> float:
    flat = a.reshape(-1).astype(np.float64, copy=False)
    return float(np.dot(flat, flat))


def _dot(grad: Array, step: Array) -> float:
    """<grad, step> in float64, step float64 and C-contiguous."""
    return float(np.dot(grad.reshape(-1).astype(np.float64, copy=False), step.reshape(-1)))


def directional_check(
    network: Network,
    values: Mapping[str, Array],
    wrt: Sequence[str] | None = None,
    n_directions: int = 3,
    eps: float | None = None,
    rtol: float | None = None,
    rng: np.random.Generator | None = None,
    max_redraws: int = 3,
) -> GradCheckResult:
    """Compare <grad, v> with (f(x + h v) - f(x - h v)) / (2 h) for random unit directions v.

    Two forward passes per direction whatever the number of parameters, plus one forward
    and one backward pass at x. `wrt` defaults to every var; intermediates named in `wrt`
    are pinned (overridden) at their current values so both sides differentiate the same
    function. The step is h = eps * max(1, rms of the entries). The entries of v are drawn
    uniformly from 32768 symmetric levels in [-1, 1] (see `_draw_direction`). A direction
    whose pair crosses a relu kink (or leaves the domain of log/sqrt) is redrawn up to
    `max_redraws` times, then reported as unchecked.
    """
    tol = default_tolerance(network.dtype)
    step = tol.direction_step if eps is None else eps
    rtol = tol.rtol if rtol is None else rtol
    rng = np.random.default_rng(0) if rng is None else rng
    names = _names(network, wrt, network.inputs_order)
    run = network.evaluate(values)
    pinned = {n: run.values[n] for n in names if network.variables[n].role == INTERMEDIATE}
    point = _Point({n: run.values[n] for n in network.inputs_order}, pinned)
    if pinned:  # the same values, but nothing flows back through the pinned equations
        run = network.evaluate(point.values, point.pinned)
    grads = network.backward_from(run)
    n_entries = sum(point.get(n).size for n in names)
    sum_sq = sum(_sum_of_squares(point.get(n)) for n in names)
    h = step * max(1.0, math.sqrt(sum_sq / max(n_entries, 1)))
    result = GradCheckResult(
        f"directional, {n_directions} random unit directions over {n_entries} entries",
        network.title,
        network.dtype.name,
        h,
        rtol,
        tol.floor,
    )
    # Buffers reused by every draw: the step h v (float64, whatever the dtype; it later
    # holds x_plus - x_minus), x + h v and x - h v in the network's dtype. In float64 the
    # step buffer turns into x - h v in place.
    steps = {n: np.empty(point.get(n).shape, dtype=np.float64) for n in names}
    plus = {n: np.empty(point.get(n).shape, dtype=network.dtype) for n in names}
    in_place = network.dtype == np.float64
    minus = {n: steps[n] if in_place else np.empty_like(plus[n]) for n in names}
    plus_point, minus_point = point.with_values(plus), point.with_values(minus)
    for direction in range(1, n_directions + 1):
        label = f"direction {direction}"
        reasons: list[str] = []
        for _draw in range(1 + max_redraws):
            norm = math.sqrt(sum(_draw_direction(rng, steps[n]) for n in names))
            for n in names:
                x, dx = point.get(n), steps[n]
                np.multiply(dx, h / norm, out=dx)
                np.add(x, dx, out=plus[n])  # rounded once, to the network's dtype
                np.subtract(x, dx, out=minus[n])
            f_plus, kinks_plus = _kink_pattern(network, plus_point)
            f_minus, kinks_minus = _kink_pattern(network, minus_point)
            if not _same_pattern(kinks_plus, kinks_minus):
                reasons.append("kink")
                continue
            if not (math.isfinite(f_plus) and math.isfinite(f_minus)):
                reasons.append("domain")
                continue
            # <grad, x_plus - x_minus> over the displacement actually taken after rounding
            # (the difference of two floats of one dtype is exact in float64).
            change = 0.0
            for n in names:
                np.subtract(plus[n], minus[n], out=steps[n], dtype=np.float64)
                change += _dot(grads[n], steps[n])
            analytic, numeric = change / (2 * h), (f_plus - f_minus) / (2 * h)
            # Roundoff of f+ and f- is strongly correlated along a direction, so u*|f| grossly
            # overstates it; the second difference measures it (plus curvature) instead.
            second_difference = abs(f_plus - 2 * run.loss + f_minus) / h
            floor_noise = 2 * _unit_roundoff(network) * max(abs(f_plus), abs(f_minus)) / h
            resolution = max(second_difference, floor_noise)
            _judge(result, label, label, analytic, numeric, resolution)
            break
        else:
            what = (
                "crosses a relu kink"
                if "kink" in reasons
                else "leaves the domain of log/sqrt (non-finite loss)"
            )
            result.unchecked.append(Unchecked(label, f"{what} in all {len(reasons)} draws"))
    return result
