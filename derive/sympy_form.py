"""Expressions as SymPy: matrix objects (`to_sympy`) and SymPy-syntax text with ascii names.

SymPy objects are built with evaluate=False so that the order and grouping of the derivation
survive; elementwise functions become `ElementwiseApplyFunction` of the activation's formula.
"""

from __future__ import annotations

import sympy
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    MatAdd,
    MatMul,
    MatrixSymbol,
    OneMatrix,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive import expr as E
from derive.activations import ACTIVATIONS, T
from derive.dispatch import handler

# -- SymPy objects ----------------------------------------------------------------------------


def to_sympy(e: E.Expr) -> sympy.Basic:
    """A SymPy matrix expression for e (MatrixSymbols with the dims as symbols)."""
    return _SympyBuilder().build(e)


class _SympyBuilder:
    def __init__(self) -> None:
        self.memo: dict[int, sympy.Basic] = {}

    def build(self, e: E.Expr) -> sympy.Basic:
        hit = self.memo.get(id(e))
        if hit is None:
            hit = handler(self, "_sympy_", e, "SymPy form")(e)
            self.memo[id(e)] = hit
        return hit

    def shape(self, e: E.Expr) -> tuple[sympy.Expr, sympy.Expr]:
        return E.dim_symbol(e.shape[0]), E.dim_symbol(e.shape[1])

    def scalar(self, e: E.Expr) -> sympy.Expr:
        value = self.build(e)
        return value[0, 0] if isinstance(value, sympy.MatrixBase | sympy.MatrixExpr) else value

    def _sympy_Var(self, e: E.Var) -> sympy.Basic:
        return MatrixSymbol(e.name, *self.shape(e))

    def _sympy_GradRef(self, e: E.GradRef) -> sympy.Basic:
        return MatrixSymbol(f"grad_{e.name}", *self.shape(e))

    def _sympy_Const(self, e: E.Const) -> sympy.Basic:
        return e.value

    def _sympy_Ones(self, e: E.Ones) -> sympy.Basic:
        return OneMatrix(*self.shape(e))

    def _sympy_Zero(self, e: E.Zero) -> sympy.Basic:
        return ZeroMatrix(*self.shape(e))

    def _sympy_Add(self, e: E.Add) -> sympy.Basic:
        rows, cols = self.shape(e)
        terms = []
        for t in e.children:
            v = self.build(t)
            if t.shape != e.shape:  # broadcast: a column times 1ᵀ, a row after 1, a scalar times J
                if t.is_scalar:
                    v = MatMul(self.scalar(t), OneMatrix(rows, cols), evaluate=False)
                elif t.shape[1] == 1:
                    v = MatMul(v, OneMatrix(1, cols), evaluate=False)
                else:
                    v = MatMul(OneMatrix(rows, 1), v, evaluate=False)
            terms.append(v)
        return MatAdd(*terms, evaluate=False)

    def _sympy_Scale(self, e: E.Scale) -> sympy.Basic:
        return MatMul(e.coef, self.build(e.arg), evaluate=False)

    def _sympy_MatMul(self, e: E.MatMul) -> sympy.Basic:
        return MatMul(*[self.build(f) for f in e.children], evaluate=False)

    def broadcast(self, e: E.Expr, shape: E.Shape) -> sympy.Basic:
        """e as a matrix of `shape`: a column times 1ᵀ, 1 times a row, a scalar times J."""
        v = self.build(e)
        if e.shape == shape:
            return v
        rows, cols = E.dim_symbol(shape[0]), E.dim_symbol(shape[1])
        if e.is_scalar:
            return MatMul(self.scalar(e), OneMatrix(rows, cols), evaluate=False)
        if e.shape[1] == 1:
            return MatMul(v, OneMatrix(1, cols), evaluate=False)
        return MatMul(OneMatrix(rows, 1), v, evaluate=False)

    def _sympy_Hadamard(self, e: E.Hadamard) -> sympy.Basic:
        if e.is_scalar:
            return HadamardProduct(*[self.build(f) for f in e.children], evaluate=False)
        factors = [self.broadcast(f, e.shape) for f in e.children]
        return HadamardProduct(*factors, evaluate=False)

    def _sympy_AxisSum(self, e: E.AxisSum) -> sympy.Basic:
        (arg,) = e.children
        rows, cols = self.shape(arg)
        if e.axis == 1:
            return MatMul(self.build(arg), OneMatrix(cols, 1), evaluate=False)
        return MatMul(OneMatrix(1, rows), self.build(arg), evaluate=False)

    def centred(self, arg: E.Expr) -> sympy.Basic:
        """Z − (1/c) Z 𝟏 𝟏ᵀ: each row minus its mean."""
        cols = self.shape(arg)[1]
        z = self.build(arg)
        mean = MatMul(1 / cols, z, OneMatrix(cols, 1), OneMatrix(1, cols), evaluate=False)
        return MatAdd(z, MatMul(-1, mean, evaluate=False), evaluate=False)

    def variance(self, arg: E.Expr) -> sympy.Basic:
        cols = self.shape(arg)[1]
        squares = HadamardPower(self.centred(arg), 2)
        return MatMul(1 / cols, squares, OneMatrix(cols, 1), evaluate=False)

    def _sympy_Variance(self, e: E.Variance) -> sympy.Basic:
        return self.variance(e.children[0])

    def _sympy_Standardize(self, e: E.Standardize) -> sympy.Basic:
        rows, cols = self.shape(e.arg)
        shifted = MatAdd(self.variance(e.arg), MatMul(e.eps, OneMatrix(rows, 1)), evaluate=False)
        inv_std = HadamardPower(shifted, sympy.Rational(-1, 2))
        spread = MatMul(inv_std, OneMatrix(1, cols), evaluate=False)
        return HadamardProduct(self.centred(e.arg), spread, evaluate=False)

    def _sympy_ScalarMul(self, e: E.ScalarMul) -> sympy.Basic:
        s, a = e.children
        return MatMul(self.scalar(s), self.build(a), evaluate=False)

    def _sympy_Div(self, e: E.Div) -> sympy.Basic:
        num, den = e.children
        return MatMul(1 / self.scalar(den), self.build(num), evaluate=False)

    def _sympy_Power(self, e: E.Power) -> sympy.Basic:
        return HadamardPower(self.build(e.children[0]), e.exponent)

    def _sympy_Transpose(self, e: E.Transpose) -> sympy.Basic:
        return Transpose(self.build(e.children[0]))

    def _sympy_Apply(self, e: E.Apply) -> sympy.Basic:
        f = sympy.Lambda(T, ACTIVATIONS[e.fn].scalar(T, e.param))
        return ElementwiseApplyFunction(f, self.build(e.children[0]))

    def _sympy_Indicator(self, e: E.Indicator) -> sympy.Basic:
        step = sympy.Heaviside(T) if e.relation == ">" else 1 - sympy.Heaviside(T)
        return ElementwiseApplyFunction(sympy.Lambda(T, step), self.build(e.children[0]))

    def _sympy_SumAll(self, e: E.SumAll) -> sympy.Basic:
        (arg,) = e.children
        rows, cols = self.shape(arg)
        return MatMul(OneMatrix(1, rows), self.build(arg), OneMatrix(cols, 1), evaluate=False)

    def _sympy_Mean(self, e: E.Mean) -> sympy.Basic:
        (arg,) = e.children
        total = self._sympy_SumAll(E.SumAll(arg))
        return MatMul(1 / E.size_of(arg.shape), total, evaluate=False)

    def _sympy_Identity(self, e: E.Identity) -> sympy.Basic:
        return sympy.Identity(E.dim_symbol(e.shape[0]))

    def _sympy_Diag(self, e: E.Diag) -> sympy.Basic:
        from sympy.matrices.expressions.diagonal import DiagMatrix

        return DiagMatrix(self.build(e.children[0]))

    def _sympy_Trace(self, e: E.Trace) -> sympy.Basic:
        return sympy.Trace(self.build(e.children[0]))

    def _column_sums(self, e: E.Expr, value: sympy.Basic) -> sympy.Basic:
        """𝟏_k 𝟏_kᵀ value: each column's sum, down the whole column."""
        rows, _ = self.shape(e)
        return MatMul(OneMatrix(rows, rows), value, evaluate=False)

    def _sympy_Softmax(self, e: E.Softmax) -> sympy.Basic:
        exp = ElementwiseApplyFunction(sympy.Lambda(T, sympy.exp(T)), self.build(e.children[0]))
        return HadamardProduct(exp, HadamardPower(self._column_sums(e, exp), -1))

    def _sympy_LogSoftmax(self, e: E.LogSoftmax) -> sympy.Basic:
        z = self.build(e.children[0])
        exp = ElementwiseApplyFunction(sympy.Lambda(T, sympy.exp(T)), z)
        log = ElementwiseApplyFunction(sympy.Lambda(T, sympy.log(T)), self._column_sums(e, exp))
        return MatAdd(z, MatMul(-1, log, evaluate=False), evaluate=False)


# -- SymPy-syntax text ------------------------------------------------------------------------

_ADD, _MUL, _ATOM = 1, 2, 3


def ascii_form(e: E.Expr) -> str:
    """e in SymPy's syntax with ascii names: 2*(yhat - y)*z.T; activations apply elementwise."""
    return _AsciiPrinter().emit(e, 0)


def _num(v: sympy.Expr) -> str:
    return str(v)


class _AsciiPrinter:
    """One `_ascii_<Class>` method per node type (`derive.dispatch`): (text, binding strength)."""

    def emit(self, e: E.Expr, context: int) -> str:
        text, strength = handler(self, "_ascii_", e, "SymPy-syntax text")(e)
        return f"({text})" if strength < context else text

    def call(self, name: str, e: E.Expr) -> tuple[str, int]:
        return f"{name}({', '.join(self.emit(c, 0) for c in e.children)})", _ATOM

    def shape_text(self, e: E.Expr) -> str:
        return f"{e.shape[0]}, {e.shape[1]}"

    def _ascii_Var(self, e: E.Var) -> tuple[str, int]:
        return e.name, _ATOM

    def _ascii_GradRef(self, e: E.GradRef) -> tuple[str, int]:
        return f"grad_{e.name}", _ATOM

    def _ascii_Const(self, e: E.Const) -> tuple[str, int]:
        return _num(e.value), _ATOM if e.value.is_Atom else _MUL

    def _ascii_Ones(self, e: E.Ones) -> tuple[str, int]:
        return f"OneMatrix({self.shape_text(e)})", _ATOM

    def _ascii_Zero(self, e: E.Zero) -> tuple[str, int]:
        return f"ZeroMatrix({self.shape_text(e)})", _ATOM

    def _ascii_Identity(self, e: E.Identity) -> tuple[str, int]:
        return f"Identity({e.shape[0]})", _ATOM

    def _ascii_Add(self, e: E.Add) -> tuple[str, int]:
        parts: list[str] = []
        for i, t in enumerate(e.children):
            if isinstance(t, E.Scale) and E.is_negative(t.coef):
                body = self.emit(E.scale(-t.coef, t.arg), _MUL)
                parts.append(f"- {body}" if i else f"-{body}")
            else:
                parts.append(("+ " if i else "") + self.emit(t, _MUL))
        return " ".join(parts), _ADD

    def _ascii_Scale(self, e: E.Scale) -> tuple[str, int]:
        if e.coef == -1:
            return "-" + self.emit(e.arg, _ATOM), _ADD
        coef = _num(e.coef)
        coef = coef if e.coef.is_Atom and not e.coef.is_negative else f"({coef})"
        return f"{coef}*{self.emit(e.arg, _MUL)}", _MUL

    def _ascii_MatMul(self, e: E.MatMul) -> tuple[str, int]:
        return "*".join(self.emit(f, _ATOM) for f in e.children), _MUL

    _ascii_ScalarMul = _ascii_MatMul

    def _ascii_Hadamard(self, e: E.Hadamard) -> tuple[str, int]:
        if e.is_scalar:
            return "*".join(self.emit(f, _ATOM) for f in e.children), _MUL
        return self.call("HadamardProduct", e)

    def _ascii_AxisSum(self, e: E.AxisSum) -> tuple[str, int]:
        (arg,) = e.children
        rows, cols = arg.shape
        if e.axis == 1:
            return f"{self.emit(arg, _ATOM)}*OneMatrix({cols}, 1)", _MUL
        return f"OneMatrix(1, {rows})*{self.emit(arg, _ATOM)}", _MUL

    def _ascii_Variance(self, e: E.Variance) -> tuple[str, int]:
        return self.call("variance", e)

    def _ascii_Standardize(self, e: E.Standardize) -> tuple[str, int]:
        return f"standardize({self.emit(e.arg, 0)}, {_num(e.eps)})", _ATOM

    def _ascii_Div(self, e: E.Div) -> tuple[str, int]:
        num, den = e.children
        return f"{self.emit(num, _ATOM)}/{self.emit(den, _ATOM)}", _MUL

    def _ascii_Power(self, e: E.Power) -> tuple[str, int]:
        base = e.children[0]
        if base.is_scalar:
            return f"{self.emit(base, _ATOM)}**{_num(e.exponent)}", _ATOM
        return f"HadamardPower({self.emit(base, 0)}, {_num(e.exponent)})", _ATOM

    def _ascii_Transpose(self, e: E.Transpose) -> tuple[str, int]:
        return f"{self.emit(e.children[0], _ATOM)}.T", _ATOM

    def _ascii_Apply(self, e: E.Apply) -> tuple[str, int]:
        extra = f", {e.param}" if e.param is not None else ""
        return f"{e.fn}({self.emit(e.children[0], 0)}{extra})", _ATOM

    def _ascii_Indicator(self, e: E.Indicator) -> tuple[str, int]:
        inner = self.emit(e.children[0], 0)
        if e.relation == ">":
            return f"Heaviside({inner})", _ATOM
        return f"(1 - Heaviside({inner}))", _ATOM

    def _ascii_SumAll(self, e: E.SumAll) -> tuple[str, int]:
        return self.call("sum", e)

    def _ascii_Mean(self, e: E.Mean) -> tuple[str, int]:
        return self.call("mean", e)

    def _ascii_Diag(self, e: E.Diag) -> tuple[str, int]:
        return self.call("diag", e)

    def _ascii_Trace(self, e: E.Trace) -> tuple[str, int]:
        return self.call("trace", e)

    def _ascii_Softmax(self, e: E.Softmax) -> tuple[str, int]:
        return self.call("softmax", e)

    def _ascii_LogSoftmax(self, e: E.LogSoftmax) -> tuple[str, int]:
        return self.call("log_softmax", e)
