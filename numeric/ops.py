"""The ops table: every op's forward and its hand-written backward rule (VJP), side by side."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from numeric.errors import MissingRuleError

Array = npt.NDArray[Any]

# forward(*args, **params) -> value
ForwardRule = Callable[..., Array]
# vjp(y_bar, y, *args, **params) -> one cotangent per argument, each shaped like that argument
BackwardRule = Callable[..., tuple[Array, ...]]


@dataclass(frozen=True)
class Op:
    """One differentiable op: its arity, forward and vector-Jacobian product."""

    name: str
    arity: int
    forward: ForwardRule | None
    vjp: BackwardRule | None


def unbroadcast(x_bar: Array, shape: tuple[int, ...]) -> Array:
    """Sum a cotangent over the axes along which an argument of `shape` was broadcast."""
    out_shape = x_bar.shape
    if out_shape == shape:
        return x_bar
    if len(shape) == 2 and len(out_shape) == 2:  # every value of a spec is 2-D
        axes: tuple[int, ...] = ((0,) if shape[0] == 1 and out_shape[0] != 1 else ()) + (
            (1,) if shape[1] == 1 and out_shape[1] != 1 else ()
        )
    else:
        axes = tuple(
            axis
            for axis, (n_arg, n_out) in enumerate(zip(shape, out_shape, strict=True))
            if n_arg == 1 and n_out != 1
        )
    summed: Array = np.add.reduce(x_bar, axis=axes, keepdims=True)
    return summed


# ---- elementwise helpers that need care -------------------------------------------------


def stable_sigmoid(z: Array) -> Array:
    """1 / (1 + exp(-z)) without overflow: only exp(-|z|) <= 1 is ever computed."""
    e = np.abs(z)
    np.negative(e, out=e)
    # exp(-|z|) underflows to 0 for |z| > ~745; 0 is the right answer there, so the
    # underflow flag is not an error even under np.errstate(all="raise").
    with np.errstate(under="ignore"):
        np.exp(e, out=e)
    d = e + 1  # in (1, 2]
    np.divide(e, d, out=e)  # sigmoid(-|z|) = e / (1 + e)
    np.divide(1, d, out=d)  # sigmoid(|z|) = 1 / (1 + e)
    return np.where(z >= 0, d, e)


def leaky_slopes(alpha: float) -> tuple[float, float]:
    """Slopes (for z > 0, for z <= 0) of max(alpha*z, z); the z = 0 kink takes the left one."""
    return max(alpha, 1.0), min(alpha, 1.0)


def logsumexp(e: Array) -> Array:
    """log(sum(exp(E))) with the max-shift trick, as a (1, 1) array."""
    shift = e.max()
    with np.errstate(under="ignore"):  # exp of very negative shifted entries is 0: correct
        total = np.exp(e - shift).sum(keepdims=True)
    result: Array = shift + np.log(total)
    return result


# ---- forward and backward rules ------------------------------------------------------------
# Each backward rule returns a tuple with one cotangent per argument, in argument order.
# `y` is the forward output; rules reuse it where that is cheaper (exp, tanh, sigmoid, sqrt).


def _matmul_vjp(y_bar: Array, y: Array, a: Array, b: Array) -> tuple[Array, Array]:
    return y_bar @ b.T, a.T @ y_bar


def _add_vjp(y_bar: Array, y: Array, a: Array, b: Array) -> tuple[Array, Array]:
    return unbroadcast(y_bar, a.shape), unbroadcast(y_bar, b.shape)


def _sub_vjp(y_bar: Array, y: Array, a: Array, b: Array) -> tuple[Array, Array]:
    return unbroadcast(y_bar, a.shape), unbroadcast(-y_bar, b.shape)


def _mul_vjp(y_bar: Array, y: Array, a: Array, b: Array) -> tuple[Array, Array]:
    # Hadamard, or scalar times matrix: the scalar's cotangent sums over the broadcast.
    return unbroadcast(y_bar * b, a.shape), unbroadcast(y_bar * a, b.shape)


def _div_vjp(y_bar: Array, y: Array, a: Array, s: Array) -> tuple[Array, Array]:
    # y = a / s elementwise (s may broadcast): dy/ds = -a / s**2 = -y / s
    return unbroadcast(y_bar / s, a.shape), unbroadcast(-y_bar * y / s, s.shape)


def _pow_forward(a: Array, p: float) -> Array:
    return np.power(a, p)


def _pow_vjp(y_bar: Array, y: Array, a: Array, p: float) -> tuple[Array]:
    return (y_bar * p * np.power(a, p - 1),)


def _transpose_vjp(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
    return (y_bar.T,)


def _neg_vjp(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
    return (-y_bar,)


def _sigmoid_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    z_bar = y_bar * y
    z_bar *= 1 - y  # z_bar is new and y_bar has y's shape: no aliasing, no broadcast
    return (z_bar,)


def _tanh_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    return (y_bar * (1 - y * y),)


def _relu_forward(z: Array) -> Array:
    return np.where(z > 0, z, 0 * z)


def _relu_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    # relu'(0) := 0; gradcheck treats points near 0 as kinks rather than trusting this choice.
    return (np.where(z > 0, y_bar, 0 * y_bar),)


def _leaky_relu_forward(z: Array, alpha: float) -> Array:
    slope_pos, slope_neg = leaky_slopes(alpha)
    return np.where(z > 0, slope_pos * z, slope_neg * z)


def _leaky_relu_vjp(y_bar: Array, y: Array, z: Array, alpha: float) -> tuple[Array]:
    slope_pos, slope_neg = leaky_slopes(alpha)
    return (np.where(z > 0, slope_pos * y_bar, slope_neg * y_bar),)


def _elu_forward(z: Array, alpha: float) -> Array:
    with np.errstate(over="ignore"):  # expm1 of the positive entries is discarded by where
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def _elu_vjp(y_bar: Array, y: Array, z: Array, alpha: float) -> tuple[Array]:
    # d/dz alpha (e^z - 1) = alpha e^z = y + alpha on z <= 0; elu'(0) := the left slope
    return (np.where(z > 0, y_bar, y_bar * (y + alpha)),)


def _softplus_forward(z: Array) -> Array:
    result: Array = np.logaddexp(0, z)
    return result


def _softplus_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    return (y_bar * stable_sigmoid(z),)


def _silu_forward(z: Array) -> Array:
    result: Array = z * stable_sigmoid(z)
    return result


def _silu_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    s = stable_sigmoid(z)
    return (y_bar * (s + z * s * (1 - s)),)


def _erf(z: Array) -> Array:
    """erf entry by entry (NumPy has none; the standard library's)."""
    out: Array = np.asarray(np.frompyfunc(math.erf, 1, 1)(z)).astype(z.dtype)
    return out


def _erf_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    return (y_bar * (2 / math.sqrt(math.pi)) * np.exp(-z * z),)


def _gelu_forward(z: Array) -> Array:
    result: Array = 0.5 * z * (1 + _erf(z / math.sqrt(2)))
    return result


def _gelu_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    # d/dz z Phi(z) = Phi(z) + z phi(z), phi the standard normal density
    cdf = 0.5 * (1 + _erf(z / math.sqrt(2)))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return (y_bar * (cdf + z * pdf),)


def _abs_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    # |z|' = sign(z), 0 at the kink (gradcheck keeps points away from it)
    return (y_bar * np.sign(z),)


def _sign_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    return (np.zeros_like(y_bar),)  # flat on each side of the kink


def _exp_vjp(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
    return (y_bar * y,)


def _log_vjp(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
    return (y_bar / a,)


def _sqrt_vjp(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
    return (y_bar / (2 * y),)


def _sum_forward(a: Array) -> Array:
    total: Array = np.add.reduce(a, axis=None, keepdims=True)
    return total


def _sum_vjp(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
    return (np.full(a.shape, y_bar),)  # y_bar is (1, 1): broadcast into a new array


def _mean_forward(a: Array) -> Array:
    if a.dtype.itemsize < 4:  # float16: a.mean accumulates in float32
        mean: Array = a.mean(keepdims=True)
        return mean
    # What a.mean(keepdims=True) computes (pairwise sum, then / size), minus its overhead.
    average: Array = np.add.reduce(a, axis=None, keepdims=True)
    np.divide(average, a.size, out=average)
    return average


def _mean_vjp(y_bar: Array, y: Array, a: Array) -> tuple[Array]:
    return (np.full(a.shape, y_bar / a.size),)


def _sum_axis_forward(a: Array, axis: float) -> Array:
    total: Array = np.add.reduce(a, axis=int(axis), keepdims=True)
    return total


def _sum_axis_vjp(y_bar: Array, y: Array, a: Array, axis: float) -> tuple[Array]:
    return (np.broadcast_to(y_bar, a.shape).copy(),)


def _mean_axis_forward(a: Array, axis: float) -> Array:
    total: Array = np.add.reduce(a, axis=int(axis), keepdims=True)
    mean: Array = total / a.shape[int(axis)]
    return mean


def _mean_axis_vjp(y_bar: Array, y: Array, a: Array, axis: float) -> tuple[Array]:
    return (np.broadcast_to(y_bar / a.shape[int(axis)], a.shape).copy(),)


def _standardize_forward(z: Array, eps: float) -> Array:
    """(z - mean) / sqrt(var + eps), each row over its columns (a batch of B examples)."""
    centred = z - z.mean(axis=1, keepdims=True)
    var = (centred * centred).mean(axis=1, keepdims=True)
    result: Array = centred / np.sqrt(var + eps)
    return result


def _standardize_vjp(y_bar: Array, y: Array, z: Array, eps: float) -> tuple[Array]:
    # With zhat = y and G = y_bar, per row over the B columns (written from the chain rule
    # through the mean and the variance, not taken from derive/):
    #   dL/dz = (1/B) (var + eps)^(-1/2) (B G - sum_j G - zhat * sum_j (G * zhat))
    b = z.shape[1]
    centred = z - z.mean(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt((centred * centred).mean(axis=1, keepdims=True) + eps)
    total = y_bar.sum(axis=1, keepdims=True)
    along = (y_bar * y).sum(axis=1, keepdims=True)
    return ((inv_std / b) * (b * y_bar - total - y * along),)


def _logsumexp_vjp(y_bar: Array, y: Array, e: Array) -> tuple[Array]:
    # d/dE log(sum(exp(E))) = softmax(E), computed with the same max shift as the forward
    # (exp(E - y) would lose digits: E - y cancels when the entries are ~1000).
    with np.errstate(under="ignore"):
        weights = np.exp(e - e.max())
    return (y_bar * (weights / weights.sum()),)


def _column_shift(z: Array) -> Array:
    shifted: Array = z - z.max(axis=0, keepdims=True)
    return shifted


def _log_softmax_forward(z: Array) -> Array:
    """Per column: z - max - log(sum(exp(z - max))); no exponential overflows."""
    shifted = _column_shift(z)
    with np.errstate(under="ignore"):
        total = np.exp(shifted).sum(axis=0, keepdims=True)
    result: Array = shifted - np.log(total)
    return result


def _softmax_forward(z: Array) -> Array:
    with np.errstate(under="ignore"):
        e = np.exp(_column_shift(z))
    result: Array = e / e.sum(axis=0, keepdims=True)
    return result


def _softmax_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    # per column, J = diag(s) - s s^T: J^T g = s * (g - s^T g)
    return (y * (y_bar - (y * y_bar).sum(axis=0, keepdims=True)),)


def _log_softmax_vjp(y_bar: Array, y: Array, z: Array) -> tuple[Array]:
    # d log s_i / d z_j = [i = j] - s_j: J^T g = g - s (1^T g), s = exp(y)
    return (y_bar - np.exp(y) * y_bar.sum(axis=0, keepdims=True),)


def _cross_entropy_forward(z: Array, t: Array) -> Array:
    total: Array = -np.add.reduce(t * _log_softmax_forward(z), axis=None, keepdims=True)
    return total


def _cross_entropy_vjp(y_bar: Array, y: Array, z: Array, t: Array) -> tuple[Array, Array]:
    # -sum t log softmax(z): d/dz = softmax(z) (1^T t) - t (softmax(z) - t when t sums to 1),
    # d/dt = -log softmax(z)
    s = _softmax_forward(z)
    return y_bar * (s * t.sum(axis=0, keepdims=True) - t), -y_bar * _log_softmax_forward(z)


def _bce_forward(p: Array, t: Array) -> Array:
    total: Array = -np.add.reduce(t * np.log(p) + (1 - t) * np.log1p(-p), axis=None, keepdims=True)
    return total


def _bce_vjp(y_bar: Array, y: Array, p: Array, t: Array) -> tuple[Array, Array]:
    # d/dp = (p - t) / (p (1 - p)); d/dt = log(1 - p) - log p
    return y_bar * (p - t) / (p * (1 - p)), y_bar * (np.log1p(-p) - np.log(p))


def _bce_logits_forward(z: Array, t: Array) -> Array:
    # -[t log s + (1 - t) log(1 - s)], s = sigmoid(z): max(z, 0) - t z + log(1 + e^-|z|)
    per = np.maximum(z, 0) - t * z + np.log1p(np.exp(-np.abs(z)))
    total: Array = np.add.reduce(per, axis=None, keepdims=True)
    return total


def _bce_logits_vjp(y_bar: Array, y: Array, z: Array, t: Array) -> tuple[Array, Array]:
    return y_bar * (stable_sigmoid(z) - t), -y_bar * z


def _op(name: str, arity: int, forward: ForwardRule, vjp: BackwardRule) -> tuple[str, Op]:
    return name, Op(name, arity, forward, vjp)


@dataclass(frozen=True)
class Activation:
    """numeric/'s own row for an elementwise function a spec may call: f(z) and its VJP.

    Independent of derive/'s table on purpose: the two agree only if both are right.
    """

    name: str
    forward: ForwardRule
    vjp: BackwardRule
    kinked: bool = False  # a kink at 0 (gradcheck compares sign patterns of the argument)
    param: str | None = None  # the name of its one numeric parameter, if any
    default: float | None = None


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", stable_sigmoid, _sigmoid_vjp),
        Activation("tanh", np.tanh, _tanh_vjp),
        Activation("relu", _relu_forward, _relu_vjp, kinked=True),
        Activation(
            "leaky_relu", _leaky_relu_forward, _leaky_relu_vjp, kinked=True, param="alpha",
            default=0.01,
        ),
        Activation(
            "elu", _elu_forward, _elu_vjp, kinked=True, param="alpha", default=1.0
        ),
        Activation("softplus", _softplus_forward, _softplus_vjp),
        Activation("silu", _silu_forward, _silu_vjp),
        Activation("gelu", _gelu_forward, _gelu_vjp),
        Activation("erf", _erf, _erf_vjp),
        Activation("abs", np.abs, _abs_vjp, kinked=True),
        Activation("sign", np.sign, _sign_vjp, kinked=True),
        Activation("exp", np.exp, _exp_vjp),
        Activation("log", np.log, _log_vjp),
        Activation("sqrt", np.sqrt, _sqrt_vjp),
    )
}  # fmt: skip


OPS: dict[str, Op] = dict(
    [
        _op("matmul", 2, np.matmul, _matmul_vjp),
        _op("add", 2, np.add, _add_vjp),
        _op("sub", 2, np.subtract, _sub_vjp),
        _op("mul", 2, np.multiply, _mul_vjp),
        _op("div", 2, np.divide, _div_vjp),
        _op("pow", 1, _pow_forward, _pow_vjp),
        _op("transpose", 1, np.transpose, _transpose_vjp),
        _op("neg", 1, np.negative, _neg_vjp),
        *(_op(a.name, 1, a.forward, a.vjp) for a in ACTIVATIONS.values()),
        _op("sum", 1, _sum_forward, _sum_vjp),
        _op("mean", 1, _mean_forward, _mean_vjp),
        _op("sum_axis", 1, _sum_axis_forward, _sum_axis_vjp),
        _op("mean_axis", 1, _mean_axis_forward, _mean_axis_vjp),
        _op("standardize", 1, _standardize_forward, _standardize_vjp),
        _op("softmax", 1, _softmax_forward, _softmax_vjp),
        _op("log_softmax", 1, _log_softmax_forward, _log_softmax_vjp),
        _op("cross_entropy", 2, _cross_entropy_forward, _cross_entropy_vjp),
        _op("binary_cross_entropy", 2, _bce_forward, _bce_vjp),
        _op("bce_with_logits", 2, _bce_logits_forward, _bce_logits_vjp),
        # Not written by users: the graph builder fuses the exact pattern log(sum(exp(E))).
        _op("logsumexp", 1, logsumexp, _logsumexp_vjp),
    ]
)

# Ops whose argument has a kink at 0 (gradcheck compares sign patterns of these arguments).
KINK_OPS: frozenset[str] = frozenset(a.name for a in ACTIVATIONS.values() if a.kinked)


def op_named(name: str) -> Op | None:
    """The op `name`: from OPS, or an activation row added since OPS was built."""
    op = OPS.get(name)
    if op is None and name in ACTIVATIONS:
        act = ACTIVATIONS[name]
        op = Op(name, 1, act.forward, act.vjp)
    return op


def is_kink_op(name: str) -> bool:
    """Whether op `name`'s argument has a kink at 0."""
    return name in KINK_OPS or (name in ACTIVATIONS and ACTIVATIONS[name].kinked)


def forward_rule(name: str) -> ForwardRule:
    """The forward rule of op `name`, looked up at call time so the table can be patched."""
    op = op_named(name)
    if op is None or op.forward is None:
        raise MissingRuleError(f"op '{name}' has no forward rule in numeric.ops.OPS")
    return op.forward


def backward_rule(name: str) -> BackwardRule:
    """The backward rule (VJP) of op `name`; fails loudly, naming the op, if there is none."""
    op = op_named(name)
    if op is None or op.vjp is None:
        raise MissingRuleError(f"op '{name}' has no backward rule (VJP) in numeric.ops.OPS")
    return op.vjp
