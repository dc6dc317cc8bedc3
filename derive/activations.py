"""The activation table: one row per elementwise function; derivatives come from `sympy.diff`.

Each row gives the scalar formula (SymPy), its LaTeX command and whether it has a kink. The
derivative is never typed by hand: `derivative_form` differentiates the formula and, where the
result reads more simply in terms of the function's own output (σ′ = σ(1 − σ), tanh′ = 1 − tanh²),
rewrites it that way, as a textbook does. `derivative_expr` turns that scalar form into an
elementwise matrix expression on a layer (h ⊙ (1 − h)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sympy

from derive import expr as E

T = sympy.Symbol("t", real=True)  # the function's argument
S = sympy.Symbol("s", real=True)  # the function's output
ALPHA = sympy.Symbol("alpha", positive=True)  # a parameter (leaky ReLU's slope)


@dataclass(frozen=True)
class Activation:
    """One row of the table."""

    name: str
    formula: Callable[[sympy.Expr, sympy.Expr], sympy.Expr]
    latex: str
    kinked: bool = False
    default_param: float | None = None
    invertible: bool = True

    def scalar(self, t: sympy.Expr, param: sympy.Expr | None = None) -> sympy.Expr:
        """The formula at t (with the parameter, for functions that have one)."""
        p = param if param is not None else self.param_value()
        return self.formula(t, p)

    def param_value(self) -> sympy.Expr:
        """The default parameter as an exact rational (0.01 is 1/100), or 0 when there is none."""
        if self.default_param is None:
            return sympy.Integer(0)
        return sympy.Rational(repr(self.default_param))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", lambda t, _: 1 / (1 + sympy.exp(-t)), r"\sigma"),
        Activation("tanh", lambda t, _: sympy.tanh(t), r"\tanh"),
        Activation(
            "relu",
            lambda t, _: sympy.Piecewise((t, t > 0), (0, True)),
            r"\operatorname{ReLU}",
            kinked=True,
            invertible=False,
        ),
        Activation(
            "leaky_relu",
            lambda t, a: sympy.Piecewise((t, t > 0), (a * t, True)),
            r"\operatorname{LeakyReLU}",
            kinked=True,
            default_param=0.01,
            invertible=False,
        ),
        Activation("exp", lambda t, _: sympy.exp(t), r"\exp"),
        Activation("log", lambda t, _: sympy.log(t), r"\log"),
        Activation("sqrt", lambda t, _: sympy.sqrt(t), r"\sqrt"),
    )
}


@dataclass(frozen=True)
class DerivativeForm:
    """f′ as a scalar SymPy expression, either in the argument T or in the output S."""

    expr: sympy.Expr
    in_output: bool


@cache
def derivative_form(name: str, param: sympy.Expr | None = None) -> DerivativeForm:
    """f′ by `sympy.diff`, written on the output where that is no longer than on the argument."""
    act = ACTIVATIONS[name]
    f = act.scalar(T, param)
    d = sympy.diff(f, T)
    if not act.invertible:
        return DerivativeForm(d, in_output=False)
    candidates: list[sympy.Expr] = []
    direct = d.subs(f, S)  # works when f itself appears in f′ (tanh, exp, sqrt)
    if T not in direct.free_symbols:
        candidates.append(direct)
    else:
        for root in sympy.solve(sympy.Eq(f, S), T):  # invert f (sigmoid: t = log(s/(1 − s)))
            candidate = sympy.simplify(d.subs(T, root))
            if T not in candidate.free_symbols:
                candidates.append(candidate)
    if candidates:
        best = min(candidates, key=sympy.count_ops)
        if sympy.count_ops(best) <= sympy.count_ops(d):
            return DerivativeForm(best, in_output=True)
    return DerivativeForm(d, in_output=False)


def derivative_expr(name: str, arg: E.Expr, out: E.Expr, param: sympy.Expr | None = None) -> E.Expr:
    """f′ applied elementwise, as a matrix expression on `arg` (the input) or `out` (the output)."""
    form = derivative_form(name, param)
    return scalar_to_matrix(form.expr, arg=arg, out=out)


_FUNCTIONS: dict[type, str] = {sympy.exp: "exp", sympy.log: "log", sympy.tanh: "tanh"}


def scalar_to_matrix(e: sympy.Expr, arg: E.Expr, out: E.Expr) -> E.Expr:
    """Read a scalar formula in T (the argument) and S (the output) as an elementwise expression."""
    shape = arg.shape

    def conv(x: sympy.Expr) -> E.Expr:
        if x == T:
            return arg
        if x == S:
            return out
        if x.is_Number:
            return E.Const(x) if E.is_scalar(shape) else E.scale(x, E.Ones(shape))
        if isinstance(x, sympy.Add):
            # constants first: 1 − h, 1 − h², as printed in textbooks
            terms = sorted(x.args, key=lambda a: (not a.is_Number, sympy.default_sort_key(a)))
            return E.add(*[conv(a) for a in terms], shape=shape)
        if isinstance(x, sympy.Mul):
            coef, rest = x.as_coeff_Mul()
            factors = [conv(a) for a in sympy.Mul.make_args(rest)]
            return E.scale(coef, E.hadamard(*factors))
        if isinstance(x, sympy.Pow) and x.exp.is_Number:
            return E.power(conv(x.base), x.exp)
        if isinstance(x, sympy.Heaviside) and x.args[0] == T:
            return E.Indicator(arg, ">")
        if isinstance(x, sympy.Piecewise):
            return _piecewise(x, arg)
        fn = _FUNCTIONS.get(type(x))
        if fn is not None:
            return E.Apply(fn, conv(x.args[0]))
        raise NotImplementedError(f"no matrix form for the scalar derivative {x}")

    return conv(e)


def _piecewise(x: sympy.Piecewise, arg: E.Expr) -> E.Expr:
    """A two-branch constant Piecewise on t > 0 as indicators: c1 𝟙[a > 0] + c2 𝟙[a ≤ 0]."""
    (v1, c1), (v2, c2) = x.args
    if c1 != (T > 0) or c2 != sympy.true or not (v1.is_Number and v2.is_Number):
        raise NotImplementedError(f"no matrix form for the piecewise derivative {x}")
    return E.add(
        E.scale(v1, E.Indicator(arg, ">")),
        E.scale(v2, E.Indicator(arg, "<=")),
        shape=arg.shape,
    )
