"""Expressions as SymPy: matrix objects (`to_sympy`) and SymPy-syntax text with ascii names.

SymPy objects are built with evaluate=False so that the order and grouping of the derivation
survive; elementwise functions become `ElementwiseApplyFunction` of the activation's formula.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
            hit = getattr(self, "_" + type(e).__name__)(e)
            self.memo[id(e)] = hit
        return hit

    def shape(self, e: E.Expr) -> tuple[sympy.Expr, sympy.Expr]:
        return E.dim_symbol(e.shape[0]), E.dim_symbol(e.shape[1])

    def scalar(self, e: E.Expr) -> sympy.Expr:
        value = self.build(e)
        return value[0, 0] if isinstance(value, sympy.MatrixBase | sympy.MatrixExpr) else value

    def _Var(self, e: E.Var) -> sympy.Basic:
        return MatrixSymbol(e.name, *self.shape(e))

    def _GradRef(self, e: E.GradRef) -> sympy.Basic:
        return MatrixSymbol(f"grad_{e.name}", *self.shape(e))

    def _Const(self, e: E.Const) -> sympy.Basic:
        return e.value

    def _Ones(self, e: E.Ones) -> sympy.Basic:
        return OneMatrix(*self.shape(e))

    def _Zero(self, e: E.Zero) -> sympy.Basic:
        return ZeroMatrix(*self.shape(e))

    def _Add(self, e: E.Add) -> sympy.Basic:
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

    def _Scale(self, e: E.Scale) -> sympy.Basic:
        return MatMul(e.coef, self.build(e.arg), evaluate=False)

    def _MatMul(self, e: E.MatMul) -> sympy.Basic:
        return MatMul(*[self.build(f) for f in e.children], evaluate=False)

    def _Hadamard(self, e: E.Hadamard) -> sympy.Basic:
        return HadamardProduct(*[self.build(f) for f in e.children], evaluate=False)

    def _ScalarMul(self, e: E.ScalarMul) -> sympy.Basic:
        s, a = e.children
        return MatMul(self.scalar(s), self.build(a), evaluate=False)

    def _Div(self, e: E.Div) -> sympy.Basic:
        num, den = e.children
        return MatMul(1 / self.scalar(den), self.build(num), evaluate=False)

    def _Power(self, e: E.Power) -> sympy.Basic:
        return HadamardPower(self.build(e.children[0]), e.exponent)

    def _Transpose(self, e: E.Transpose) -> sympy.Basic:
        return Transpose(self.build(e.children[0]))

    def _Apply(self, e: E.Apply) -> sympy.Basic:
        f = sympy.Lambda(T, ACTIVATIONS[e.fn].scalar(T, e.param))
        return ElementwiseApplyFunction(f, self.build(e.children[0]))

    def _Indicator(self, e: E.Indicator) -> sympy.Basic:
        step = sympy.Heaviside(T) if e.relation == ">" else 1 - sympy.Heaviside(T)
        return ElementwiseApplyFunction(sympy.Lambda(T, step), self.build(e.children[0]))

    def _SumAll(self, e: E.SumAll) -> sympy.Basic:
        (arg,) = e.children
        rows, cols = self.shape(arg)
        return MatMul(OneMatrix(1, rows), self.build(arg), OneMatrix(cols, 1), evaluate=False)

    def _Mean(self, e: E.Mean) -> sympy.Basic:
        (arg,) = e.children
        total = self._SumAll(E.SumAll(arg))
        return MatMul(1 / E.size_of(arg.shape), total, evaluate=False)

    def _Identity(self, e: E.Identity) -> sympy.Basic:
        return sympy.Identity(E.dim_symbol(e.shape[0]))

    def _Diag(self, e: E.Diag) -> sympy.Basic:
        from sympy.matrices.expressions.diagonal import DiagMatrix

        return DiagMatrix(self.build(e.children[0]))

    def _Trace(self, e: E.Trace) -> sympy.Basic:
        return sympy.Trace(self.build(e.children[0]))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name[1:2].isupper():
            raise NotImplementedError(f"no SymPy form for {name[1:]}")
        raise AttributeError(name)


# -- SymPy-syntax text ------------------------------------------------------------------------

_ADD, _MUL, _ATOM = 1, 2, 3


def ascii_form(e: E.Expr) -> str:
    """e in SymPy's syntax with ascii names: 2*(yhat - y)*z.T; activations apply elementwise."""
    return _emit(e, 0)


def _emit(e: E.Expr, context: int) -> str:
    printer = _ASCII.get(type(e))
    if printer is None:
        raise NotImplementedError(f"no SymPy-syntax text for {type(e).__name__}")
    text, strength = printer(e)
    return f"({text})" if strength < context else text


def _num(v: sympy.Expr) -> str:
    return str(v)


def _add(e: E.Expr) -> tuple[str, int]:
    parts: list[str] = []
    for i, t in enumerate(e.children):
        if isinstance(t, E.Scale) and E.is_negative(t.coef):
            body = _emit(E.scale(-t.coef, t.arg), _MUL)
            parts.append(f"- {body}" if i else f"-{body}")
        else:
            parts.append(("+ " if i else "") + _emit(t, _MUL))
    return " ".join(parts), _ADD


def _scale(e: E.Expr) -> tuple[str, int]:
    assert isinstance(e, E.Scale)
    if e.coef == -1:
        return "-" + _emit(e.arg, _ATOM), _ADD
    coef = _num(e.coef)
    coef = coef if e.coef.is_Atom and not e.coef.is_negative else f"({coef})"
    return f"{coef}*{_emit(e.arg, _MUL)}", _MUL


def _call(name: str) -> Callable[[E.Expr], tuple[str, int]]:
    return lambda e: (f"{name}({', '.join(_emit(c, 0) for c in e.children)})", _ATOM)


def _apply(e: E.Expr) -> tuple[str, int]:
    assert isinstance(e, E.Apply)
    extra = f", {e.param}" if e.param is not None else ""
    return f"{e.fn}({_emit(e.children[0], 0)}{extra})", _ATOM


def _indicator(e: E.Expr) -> tuple[str, int]:
    assert isinstance(e, E.Indicator)
    inner = _emit(e.children[0], 0)
    return (
        (f"Heaviside({inner})", _ATOM)
        if e.relation == ">"
        else (
            f"(1 - Heaviside({inner}))",
            _ATOM,
        )
    )


def _hadamard(e: E.Expr) -> tuple[str, int]:
    if e.is_scalar:
        return "*".join(_emit(f, _ATOM) for f in e.children), _MUL
    return _call("HadamardProduct")(e)


def _power(e: E.Expr) -> tuple[str, int]:
    assert isinstance(e, E.Power)
    base = e.children[0]
    if base.is_scalar:
        return f"{_emit(base, _ATOM)}**{_num(e.exponent)}", _ATOM
    return f"HadamardPower({_emit(base, 0)}, {_num(e.exponent)})", _ATOM


def _shape_text(e: E.Expr) -> str:
    return f"{e.shape[0]}, {e.shape[1]}"


_ASCII: dict[type, Callable[[E.Expr], tuple[str, int]]] = {
    E.Var: lambda e: (e.name, _ATOM),  # type: ignore[attr-defined]
    E.GradRef: lambda e: (f"grad_{e.name}", _ATOM),  # type: ignore[attr-defined]
    E.Const: lambda e: (_num(e.value), _ATOM if e.value.is_Atom else _MUL),  # type: ignore[attr-defined]
    E.Ones: lambda e: (f"OneMatrix({_shape_text(e)})", _ATOM),
    E.Zero: lambda e: (f"ZeroMatrix({_shape_text(e)})", _ATOM),
    E.Add: _add,
    E.Scale: _scale,
    E.MatMul: lambda e: ("*".join(_emit(f, _ATOM) for f in e.children), _MUL),
    E.Hadamard: _hadamard,
    E.ScalarMul: lambda e: ("*".join(_emit(f, _ATOM) for f in e.children), _MUL),
    E.Div: lambda e: (f"{_emit(e.children[0], _ATOM)}/{_emit(e.children[1], _ATOM)}", _MUL),
    E.Power: _power,
    E.Transpose: lambda e: (f"{_emit(e.children[0], _ATOM)}.T", _ATOM),
    E.Apply: _apply,
    E.Indicator: _indicator,
    E.SumAll: _call("sum"),
    E.Mean: _call("mean"),
    E.Identity: lambda e: (f"Identity({e.shape[0]})", _ATOM),
    E.Diag: _call("diag"),
    E.Trace: _call("trace"),
}
