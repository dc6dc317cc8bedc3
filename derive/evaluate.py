"""One evaluator of expression trees, over a backend that says what the numbers are.

The same walk (`Evaluator`, one `_eval_<Class>` method per node type, see `derive.dispatch`)
computes a value in every kind of arithmetic gradproof needs:

- `FLOAT`: NumPy float64 arrays, to compare an answer with the key at random dims and values;
- `precise(digits)`: NumPy object arrays of mpmath floats, for comparisons float64 cannot decide;
- `SYMBOLIC`: explicit SymPy matrices of scalar expressions (the element-by-element check);
- `torch_backend(torch)`: float64 tensors that record the graph (the torch autograd column).

A backend knows its numbers (how to make a constant and a filled matrix, how the elementwise
functions of `derive.activations` and the reductions act on them); the evaluator knows the nodes.
A new node type is one `_eval_` method here, written in terms of backend operations; a new kind of
numbers is one backend. This evaluates derive's own trees: it is not an oracle for the derivation
(`numeric/` and finite differences are).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

import numpy as np
import numpy.typing as npt
import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS, Activation
from derive.dispatch import handler

Array = npt.NDArray[np.float64]
Value = Any  # an array, a SymPy Matrix or a tensor, as the backend makes them
Shape = tuple[int, int]


def size(dim: E.Dim, dims: Mapping[str, int]) -> int:
    return dim if isinstance(dim, int) else dims[dim]


def len_of(value: Value, axis: int) -> int:
    """The length of a 2-D value along an axis, whatever the backend."""
    return int(value.shape[axis])


class Backend:
    """NumPy float64 arrays: the model every other backend follows (and inherits what fits)."""

    name = "float64"
    dtype: Any = np.float64

    def number(self, v: sympy.Expr) -> Any:
        """A constant (dims already replaced by numbers) as this backend's scalar."""
        return float(v)

    def filled(self, shape: Shape, value: Any) -> Value:
        return np.full(shape, value, dtype=self.dtype)

    def identity(self, n: int) -> Value:
        out = self.filled((n, n), self.number(sympy.Integer(0)))
        for i in range(n):
            out[i, i] = self.number(sympy.Integer(1))
        return out

    def fit(self, a: Value, shape: Shape) -> Value:
        """a broadcast to shape (a 1×1 constant, a column or a row)."""
        return a if a.shape == shape else np.broadcast_to(a, shape)

    def add(self, terms: Sequence[Value], shape: Shape) -> Value:
        out = self.filled(shape, self.number(sympy.Integer(0)))
        for t in terms:
            out = out + t
        return out

    def matmul(self, factors: Sequence[Value]) -> Value:
        return reduce(lambda a, b: a @ b, factors)

    def hadamard(self, factors: Sequence[Value]) -> Value:
        return reduce(lambda a, b: a * b, factors)

    def scalar_mul(self, s: Value, a: Value) -> Value:
        return s * a

    def scale(self, c: Any, a: Value) -> Value:
        return c * a

    def div(self, a: Value, b: Value) -> Value:
        return a / b

    def power(self, a: Value, p: Any) -> Value:
        return np.power(a, p)

    def transpose(self, a: Value) -> Value:
        return a.T

    def apply(self, act: Activation, a: Value, param: Any) -> Value:
        return act.float64(a, param)

    def indicator(self, a: Value, relation: str) -> Value:
        hit = a > 0 if relation == ">" else a <= 0
        one, zero = self.number(sympy.Integer(1)), self.number(sympy.Integer(0))
        return np.where(hit, one, zero)

    def sum_all(self, a: Value) -> Value:
        return self.filled((1, 1), np.sum(a))

    def axis_sum(self, a: Value, axis: int) -> Value:
        return np.sum(a, axis=axis, keepdims=True)

    def mean(self, a: Value) -> Value:
        return self.filled((1, 1), np.sum(a) / a.size)

    def diag(self, a: Value) -> Value:
        return np.diag(a[:, 0])

    def trace(self, a: Value) -> Value:
        return self.filled((1, 1), np.trace(a))

    def exp(self, a: Value) -> Value:
        return np.exp(a)

    def log(self, a: Value) -> Value:
        return np.log(a)

    def softmax(self, a: Value) -> Value:
        """Per column, the column maximum taken out first (nothing overflows)."""
        e = self.exp(a - a.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def log_softmax(self, a: Value) -> Value:
        shifted = a - a.max(axis=0, keepdims=True)
        return shifted - self.log(self.exp(shifted).sum(axis=0, keepdims=True))


class Precise(Backend):
    """mpmath floats at `digits` decimal digits, in object arrays: NumPy's + − × @ and sums
    work on them unchanged; the elementwise functions are mpmath's own."""

    dtype = object

    def __init__(self, digits: int) -> None:
        import mpmath

        self.name = f"mpmath@{digits}"
        self.mp = mpmath.mp.clone()
        self.mp.dps = digits

    def number(self, v: sympy.Expr) -> Any:
        if v.is_Rational:
            return self.mp.mpf(int(v.p)) / int(v.q)
        return self.mp.mpf(str(sympy.N(v, self.mp.dps + 5)))

    def apply(self, act: Activation, a: Value, param: Any) -> Value:
        f, mp = act.precise, self.mp
        return np.frompyfunc(lambda x: f(mp, x, param), 1, 1)(a)

    def exp(self, a: Value) -> Value:
        return np.frompyfunc(self.mp.exp, 1, 1)(a)

    def log(self, a: Value) -> Value:
        return np.frompyfunc(self.mp.log, 1, 1)(a)

    def lift(self, a: Array) -> Value:
        """A float64 array as exact mpmath values."""
        return np.frompyfunc(self.mp.mpf, 1, 1)(a)


class Symbolic(Backend):
    """Explicit SymPy matrices whose entries are scalar expressions; constants stay exact."""

    name = "sympy"

    def number(self, v: sympy.Expr) -> Any:
        return v

    def filled(self, shape: Shape, value: Any) -> Value:
        return sympy.Matrix(shape[0], shape[1], [value] * (shape[0] * shape[1]))

    def identity(self, n: int) -> Value:
        return sympy.eye(n)

    def fit(self, a: Value, shape: Shape) -> Value:
        if a.shape == shape:
            return a
        return sympy.Matrix(*shape, lambda i, j: a[i % a.rows, j % a.cols])

    def add(self, terms: Sequence[Value], shape: Shape) -> Value:
        out = sympy.zeros(*shape)
        for t in terms:
            out += self.fit(t, shape)
        return out

    def matmul(self, factors: Sequence[Value]) -> Value:
        return reduce(lambda a, b: a * b, factors)

    def hadamard(self, factors: Sequence[Value]) -> Value:
        rows = max(f.rows for f in factors)
        cols = max(f.cols for f in factors)
        fitted = [self.fit(f, (rows, cols)) for f in factors]
        return reduce(lambda a, b: a.multiply_elementwise(b), fitted)

    def scalar_mul(self, s: Value, a: Value) -> Value:
        return s[0, 0] * a

    def div(self, a: Value, b: Value) -> Value:
        if b.shape == (1, 1):
            return a / b[0, 0]
        b = self.fit(b, a.shape)
        return sympy.Matrix(*a.shape, lambda i, j: a[i, j] / b[i, j])

    def power(self, a: Value, p: Any) -> Value:
        return a.applyfunc(lambda x: x**p)

    def apply(self, act: Activation, a: Value, param: Any) -> Value:
        return a.applyfunc(lambda x: act.scalar(x, param))

    def indicator(self, a: Value, relation: str) -> Value:
        if relation == ">":
            return a.applyfunc(lambda x: sympy.Piecewise((1, x > 0), (0, True)))
        return a.applyfunc(lambda x: sympy.Piecewise((1, x <= 0), (0, True)))

    def sum_all(self, a: Value) -> Value:
        return sympy.Matrix([[sum(a)]])

    def axis_sum(self, a: Value, axis: int) -> Value:
        if axis == 1:
            return sympy.Matrix(a.rows, 1, [sum(a.row(i)) for i in range(a.rows)])
        return sympy.Matrix(1, a.cols, [sum(a.col(j)) for j in range(a.cols)])

    def mean(self, a: Value) -> Value:
        return sympy.Matrix([[sum(a) / (a.rows * a.cols)]])

    def diag(self, a: Value) -> Value:
        return sympy.diag(*[a[i, 0] for i in range(a.rows)])

    def trace(self, a: Value) -> Value:
        return sympy.Matrix([[a.trace()]])

    def softmax(self, a: Value) -> Value:
        e = a.applyfunc(sympy.exp)
        sums = [sum(e[:, j]) for j in range(a.cols)]
        return sympy.Matrix(*a.shape, lambda i, j: e[i, j] / sums[j])

    def log_softmax(self, a: Value) -> Value:
        logs = [sympy.log(sum(sympy.exp(x) for x in a[:, j])) for j in range(a.cols)]
        return sympy.Matrix(*a.shape, lambda i, j: a[i, j] - logs[j])


class Torch(Backend):
    """float64 tensors of the given torch module: the forward pass for torch's own autograd."""

    name = "torch"

    def __init__(self, torch: Any) -> None:
        self.torch = torch
        self.dtype = torch.float64

    def filled(self, shape: Shape, value: Any) -> Value:
        return self.torch.full(shape, value, dtype=self.dtype)

    def identity(self, n: int) -> Value:
        return self.torch.eye(n, dtype=self.dtype)

    def fit(self, a: Value, shape: Shape) -> Value:
        return a if tuple(a.shape) == shape else a.expand(*shape)

    def add(self, terms: Sequence[Value], shape: Shape) -> Value:
        return reduce(lambda a, b: a + b, terms)

    def power(self, a: Value, p: Any) -> Value:
        return a**p

    def apply(self, act: Activation, a: Value, param: Any) -> Value:
        return act.torch(self.torch, a, param)

    def indicator(self, a: Value, relation: str) -> Value:
        return (a > 0 if relation == ">" else a <= 0).to(self.dtype)

    def sum_all(self, a: Value) -> Value:
        return a.sum().reshape(1, 1)

    def axis_sum(self, a: Value, axis: int) -> Value:
        return a.sum(dim=axis, keepdim=True)

    def mean(self, a: Value) -> Value:
        return a.mean().reshape(1, 1)

    def diag(self, a: Value) -> Value:
        return self.torch.diag(a[:, 0])

    def trace(self, a: Value) -> Value:
        return self.torch.trace(a).reshape(1, 1)

    def softmax(self, a: Value) -> Value:
        return self.torch.softmax(a, dim=0)

    def log_softmax(self, a: Value) -> Value:
        return self.torch.log_softmax(a, dim=0)


FLOAT = Backend()
SYMBOLIC = Symbolic()


def precise(digits: int = 40) -> Precise:
    """A backend for evaluate(): mpmath floats at `digits` significant digits."""
    return Precise(digits)


def torch_backend(torch: Any) -> Torch:
    """A backend for evaluate(): float64 tensors of the given (imported) torch module."""
    return Torch(torch)


Cache = dict[int, tuple[E.Expr, Value]]


class Evaluator:
    """The walk: one `_eval_<Class>` method per node type, given the children's values."""

    def __init__(
        self, backend: Backend, env: Mapping[str, Value], dims: Mapping[str, int], memo: Cache
    ) -> None:
        self.b = backend
        self.env = env
        self.dims = dims
        self.subs = {E.dim_symbol(d): n for d, n in dims.items()}
        self.memo = memo

    def num(self, v: sympy.Expr) -> Any:
        return self.b.number(v.xreplace(self.subs) if v.free_symbols else v)

    def __call__(self, n: E.Expr) -> Value:
        hit = self.memo.get(id(n))
        if hit is not None and hit[0] is n:
            return hit[1]
        method = handler(self, "_eval_", n, f"{self.b.name} evaluation")
        kids = [self(c) for c in n.children]
        shape = (size(n.shape[0], self.dims), size(n.shape[1], self.dims))
        out = self.b.fit(method(n, kids, shape), shape)
        self.memo[id(n)] = (n, out)
        return out

    def _eval_Var(self, n: E.Var, k: list[Value], shape: Shape) -> Value:
        return self.env[n.name]

    def _eval_GradRef(self, n: E.GradRef, k: list[Value], shape: Shape) -> Value:
        raise KeyError(f"the gradient of {n.name} has no value here")

    def _eval_Const(self, n: E.Const, k: list[Value], shape: Shape) -> Value:
        return self.b.filled((1, 1), self.num(n.value))

    def _eval_Ones(self, n: E.Ones, k: list[Value], shape: Shape) -> Value:
        return self.b.filled(shape, self.num(sympy.Integer(1)))

    def _eval_Zero(self, n: E.Zero, k: list[Value], shape: Shape) -> Value:
        return self.b.filled(shape, self.num(sympy.Integer(0)))

    def _eval_Identity(self, n: E.Identity, k: list[Value], shape: Shape) -> Value:
        return self.b.identity(shape[0])

    def _eval_Add(self, n: E.Add, k: list[Value], shape: Shape) -> Value:
        return self.b.add(k, shape)

    def _eval_Scale(self, n: E.Scale, k: list[Value], shape: Shape) -> Value:
        return self.b.scale(self.num(n.coef), k[0])

    def _eval_MatMul(self, n: E.MatMul, k: list[Value], shape: Shape) -> Value:
        return self.b.matmul(k)

    def _eval_Hadamard(self, n: E.Hadamard, k: list[Value], shape: Shape) -> Value:
        return self.b.hadamard([self.b.fit(f, shape) for f in k])

    def _eval_ScalarMul(self, n: E.ScalarMul, k: list[Value], shape: Shape) -> Value:
        return self.b.scalar_mul(k[0], k[1])

    def _eval_Div(self, n: E.Div, k: list[Value], shape: Shape) -> Value:
        return self.b.div(k[0], k[1])

    def _eval_Power(self, n: E.Power, k: list[Value], shape: Shape) -> Value:
        return self.b.power(k[0], self.num(n.exponent))

    def _eval_Transpose(self, n: E.Transpose, k: list[Value], shape: Shape) -> Value:
        return self.b.transpose(k[0])

    def _eval_Apply(self, n: E.Apply, k: list[Value], shape: Shape) -> Value:
        act = ACTIVATIONS[n.fn]
        param = self.num(n.param if n.param is not None else act.param_value())
        return self.b.apply(act, k[0], param)

    def _eval_Indicator(self, n: E.Indicator, k: list[Value], shape: Shape) -> Value:
        return self.b.indicator(k[0], n.relation)

    def _eval_SumAll(self, n: E.SumAll, k: list[Value], shape: Shape) -> Value:
        return self.b.sum_all(k[0])

    def _eval_AxisSum(self, n: E.AxisSum, k: list[Value], shape: Shape) -> Value:
        return self.b.axis_sum(k[0], n.axis)

    def _eval_Variance(self, n: E.Variance, k: list[Value], shape: Shape) -> Value:
        return self.variance(k[0], (shape[0], len_of(k[0], 1)))

    def _eval_Standardize(self, n: E.Standardize, k: list[Value], shape: Shape) -> Value:
        centred = self.centred(k[0], shape)
        spread = self.b.add([self.variance(k[0], shape), self.b.filled((1, 1), self.num(n.eps))],
                            (shape[0], 1))  # fmt: skip
        inv_std = self.b.power(spread, self.num(sympy.Rational(-1, 2)))
        return self.b.hadamard([centred, self.b.fit(inv_std, shape)])

    def centred(self, z: Value, shape: Shape) -> Value:
        """Each row of z minus its mean over the columns (in the backend's arithmetic)."""
        cols = self.num(sympy.Integer(shape[1]))
        mean = self.b.scale(1 / cols, self.b.axis_sum(z, 1))
        minus = self.b.scale(self.num(sympy.Integer(-1)), self.b.fit(mean, shape))
        return self.b.add([z, minus], shape)

    def variance(self, z: Value, shape: Shape) -> Value:
        """Each row's biased variance over the columns, a column."""
        centred = self.centred(z, shape)
        cols = self.num(sympy.Integer(shape[1]))
        return self.b.scale(1 / cols, self.b.axis_sum(self.b.hadamard([centred, centred]), 1))

    def _eval_Mean(self, n: E.Mean, k: list[Value], shape: Shape) -> Value:
        return self.b.mean(k[0])

    def _eval_Diag(self, n: E.Diag, k: list[Value], shape: Shape) -> Value:
        return self.b.diag(k[0])

    def _eval_Trace(self, n: E.Trace, k: list[Value], shape: Shape) -> Value:
        return self.b.trace(k[0])

    def _eval_Softmax(self, n: E.Softmax, k: list[Value], shape: Shape) -> Value:
        return self.b.softmax(k[0])

    def _eval_LogSoftmax(self, n: E.LogSoftmax, k: list[Value], shape: Shape) -> Value:
        return self.b.log_softmax(k[0])


def evaluate(
    e: E.Expr,
    env: Mapping[str, Value],
    dims: Mapping[str, int],
    numbers: Backend = FLOAT,
    cache: Cache | None = None,
) -> Value:
    """The value of e, with names from env and dims as numbers, in the backend's arithmetic.

    `cache` keeps node values between calls at the same env and dims (nodes by identity, each
    held by the cache so that its id cannot be reused): mutations of one gradient share most
    subtrees, which are then evaluated once.
    """
    walk = Evaluator(numbers, env, dims, {} if cache is None else cache)
    with np.errstate(all="ignore"):
        return walk(e)


def kink_arguments(e: E.Expr) -> list[E.Expr]:
    """The arguments of every ReLU, leaky ReLU and indicator in e (where a kink can sit)."""
    out: list[E.Expr] = []
    for n in E.walk_nodes(e):
        if isinstance(n, E.Indicator) or (
            isinstance(n, E.Apply) and ACTIVATIONS[n.fn].kinked
        ):
            out.append(n.children[0])
    return out
