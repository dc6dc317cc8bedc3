"""The activation table: one row per elementwise function; derivatives come from `sympy.diff`.

Each row gives the scalar formula (SymPy), its LaTeX command and whether it has a kink. The
derivative is never typed by hand: `derivative_form` differentiates the formula and, where the
result reads more simply in terms of the function's own output (σ′ = σ(1 − σ), tanh′ = 1 − tanh²),
rewrites it that way, as a textbook does. `derivative_expr` turns that scalar form into an
elementwise matrix expression on a layer (h ⊙ (1 − h)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import sympy

from derive import expr as E
from derive.elementwise_form import to_elementwise

T = sympy.Symbol("t", real=True)  # the function's argument
S = sympy.Symbol("s", real=True)  # the function's output
ALPHA = sympy.Symbol("alpha", positive=True)  # a parameter (leaky ReLU's slope)
V = sympy.Symbol("v", real=True)  # another function's value at t, where f′ reads in it
Array = npt.NDArray[Any]


Number = Any  # a float (NumPy backends) or an mpmath float (the precise evaluator)


@dataclass(frozen=True)
class Activation:
    """One row of the table: everything gradproof knows about one elementwise function.

    Nothing outside this table names a function: the derivative comes from `formula` by SymPy,
    and each backend reads its own field (codegen `numpy`/`helper`, `evaluate` `float64` and
    `precise`, the torch column `torch`, the answer reader `commands`/`words`, the spec
    `param_range`). `numeric/` keeps its own, independent table (numeric/ops.py).
    """

    name: str
    formula: Callable[[sympy.Expr, sympy.Expr], sympy.Expr]
    latex: str
    # generated NumPy: an expression over the argument's source `{a}` (and `{p}`, the
    # parameter); `{a}` appears once, so a longer formula goes into `helper`, a function's source
    numpy: str
    float64: Callable[[Array, Number], Array]  # evaluate(): float64 arrays
    precise: Callable[[Any, Number, Number], Number]  # evaluate(precise): (mpmath, x, p) -> f(x)
    torch: Callable[[Any, Any, Number], Any]  # (torch module, tensor, p) -> f(tensor)
    helper: str = ""
    latex_call: str = ""  # how it prints applied, when not as latex(arg): \\sqrt{{{a}}}
    commands: tuple[str, ...] = ()  # LaTeX commands read as this function: \sigma, \tanh
    words: tuple[str, ...] = ()  # names read as it: relu, ReLU, \operatorname{ReLU}
    kinked: bool = False  # a kink at 0; f′(0) is taken from the left, as PyTorch does
    default_param: float | None = None
    param_range: tuple[float, float] | None = None  # [low, high) for a parameter given in a spec
    invertible: bool = True
    in_table: bool = True  # shown by `gradproof activations` (exp, log, sqrt are not activations)

    def scalar(self, t: sympy.Expr, param: sympy.Expr | None = None) -> sympy.Expr:
        """The formula at t (with the parameter, for functions that have one)."""
        p = param if param is not None else self.param_value()
        return self.formula(t, p)

    def param_value(self) -> sympy.Expr:
        """The default parameter as an exact rational (0.01 is 1/100), or 0 when there is none."""
        if self.default_param is None:
            return sympy.Integer(0)
        return sympy.Rational(repr(self.default_param))

    def code(self, arg: str, param: sympy.Expr | None) -> str:
        """This function applied to `arg` in generated NumPy source."""
        p = float(param) if param is not None else float(self.param_value())
        return self.numpy.format(a=arg, p=repr(p))

    @property
    def helper_name(self) -> str | None:
        if not self.helper:
            return None
        return self.helper.split("def ", 1)[1].split("(", 1)[0]


_SIGMOID_HELPER = """
def _sigmoid(a):
    # 1/(1 + e^-a) in place on one new array; for a < -709 e^-a overflows to inf and the
    # result is the correct 0, so that overflow is silenced rather than reported
    out = np.negative(a)
    with np.errstate(over="ignore", under="ignore"):
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out
"""

_LEAKY_HELPER = """
def _leaky_relu(a, slope):
    return np.where(a > 0, a, slope * a)
"""

_ELU_HELPER = """
def _elu(a, alpha):
    # alpha (e^a - 1) for a <= 0 only: the exponential of a large positive a is never taken
    return np.where(a > 0, a, alpha * np.expm1(np.minimum(a, 0.0)))
"""

_ERF_HELPER = """
def _erf(a):
    # NumPy has no erf: the standard library's, entry by entry, in a's dtype
    import math
    return np.frompyfunc(math.erf, 1, 1)(a).astype(a.dtype)
"""

_GELU_HELPER = """
def _gelu(a):
    # a Phi(a), Phi the standard normal CDF: (a / 2) (1 + erf(a / sqrt 2))
    return 0.5 * a * (1.0 + _erf(a * 0.7071067811865476))
"""

_SILU_HELPER = """
def _silu(a):
    return a * _sigmoid(a)
"""


def _erf64(a: Array) -> Array:
    out: Array = np.asarray(np.frompyfunc(math.erf, 1, 1)(a)).astype(np.float64)
    return out


def _half_tanh_sigmoid(a: Array) -> Array:
    out: Array = 0.5 + 0.5 * np.tanh(0.5 * a)
    return out


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "sigmoid", lambda t, _: 1 / (1 + sympy.exp(-t)), r"\sigma",
            numpy="_sigmoid({a})", helper=_SIGMOID_HELPER,
            float64=lambda a, p: _half_tanh_sigmoid(a),
            precise=lambda mp, x, p: 1 / (1 + mp.exp(-x)),
            torch=lambda torch, x, p: torch.sigmoid(x),
            commands=("sigma",), words=("sigmoid", "sigm"),
        ),
        Activation(
            "tanh", lambda t, _: sympy.tanh(t), r"\tanh",
            numpy="np.tanh({a})", float64=lambda a, p: np.tanh(a),
            precise=lambda mp, x, p: mp.tanh(x), torch=lambda torch, x, p: torch.tanh(x),
            commands=("tanh",), words=("tanh",),
        ),
        Activation(
            "relu", lambda t, _: sympy.Piecewise((t, t > 0), (0, True)),
            r"\operatorname{ReLU}",
            numpy="np.maximum({a}, 0.0)", float64=lambda a, p: np.maximum(a, 0.0),
            precise=lambda mp, x, p: x if x > 0 else mp.zero,
            torch=lambda torch, x, p: torch.relu(x),
            words=("relu", "ReLU", "RELU", "ReLu"),
            kinked=True, invertible=False,
        ),
        Activation(
            "leaky_relu", lambda t, a: sympy.Piecewise((t, t > 0), (a * t, True)),
            r"\operatorname{LeakyReLU}",
            numpy="_leaky_relu({a}, {p})", helper=_LEAKY_HELPER,
            float64=lambda a, p: np.where(a > 0, a, p * a),
            precise=lambda mp, x, p: x if x > 0 else p * x,
            torch=lambda torch, x, p: torch.nn.functional.leaky_relu(x, float(p)),
            words=("leakyrelu", "LeakyReLU", "LReLU"),
            kinked=True, default_param=0.01, param_range=(0.0, 1.0), invertible=False,
        ),
        Activation(
            "elu", lambda t, a: sympy.Piecewise((t, t > 0), (a * (sympy.exp(t) - 1), True)),
            r"\operatorname{ELU}",
            numpy="_elu({a}, {p})", helper=_ELU_HELPER,
            float64=lambda a, p: np.where(a > 0, a, p * np.expm1(np.minimum(a, 0.0))),
            precise=lambda mp, x, p: x if x > 0 else p * (mp.exp(x) - 1),
            torch=lambda torch, x, p: torch.nn.functional.elu(x, alpha=float(p)),
            words=("elu", "ELU"),
            kinked=True, default_param=1.0, param_range=(0.0, 100.0), invertible=False,
        ),
        Activation(
            "softplus", lambda t, _: sympy.log(1 + sympy.exp(t)), r"\operatorname{softplus}",
            numpy="np.logaddexp(0.0, {a})", float64=lambda a, p: np.logaddexp(0.0, a),
            precise=lambda mp, x, p: mp.log(1 + mp.exp(x)),
            torch=lambda torch, x, p: torch.nn.functional.softplus(x),
            words=("softplus", "Softplus", "SoftPlus"),
        ),
        Activation(
            "silu", lambda t, _: t / (1 + sympy.exp(-t)), r"\operatorname{SiLU}",
            numpy="_silu({a})", helper=_SILU_HELPER,
            float64=lambda a, p: a * _half_tanh_sigmoid(a),
            precise=lambda mp, x, p: x / (1 + mp.exp(-x)),
            torch=lambda torch, x, p: torch.nn.functional.silu(x),
            words=("silu", "SiLU", "swish", "Swish"), invertible=False,
        ),
        Activation(
            "abs", lambda t, _: sympy.Abs(t), r"\operatorname{abs}",
            numpy="np.abs({a})", float64=lambda a, p: np.abs(a),
            precise=lambda mp, x, p: abs(x), torch=lambda torch, x, p: torch.abs(x),
            words=("abs", "Abs"),
            kinked=True, invertible=False, in_table=False,
        ),
        Activation(  # abs′; sign(0) = 0, as NumPy and PyTorch take it
            "sign", lambda t, _: sympy.sign(t), r"\operatorname{sign}",
            numpy="np.sign({a})", float64=lambda a, p: np.sign(a),
            precise=lambda mp, x, p: mp.sign(x), torch=lambda torch, x, p: torch.sign(x),
            words=("sign", "sgn"), kinked=True, invertible=False, in_table=False,
        ),
        Activation(
            "gelu", lambda t, _: t / 2 * (1 + sympy.erf(t / sympy.sqrt(2))),
            r"\operatorname{GELU}",
            numpy="_gelu({a})", helper=_GELU_HELPER,
            float64=lambda a, p: 0.5 * a * (1.0 + _erf64(a / math.sqrt(2.0))),
            precise=lambda mp, x, p: x / 2 * (1 + mp.erf(x / mp.sqrt(2))),
            torch=lambda torch, x, p: torch.nn.functional.gelu(x),
            words=("gelu", "GELU"), invertible=False,
        ),
        Activation(
            "erf", lambda t, _: sympy.erf(t), r"\operatorname{erf}",
            numpy="_erf({a})", helper=_ERF_HELPER, float64=lambda a, p: _erf64(a),
            precise=lambda mp, x, p: mp.erf(x), torch=lambda torch, x, p: torch.erf(x),
            words=("erf",), invertible=False, in_table=False,
        ),
        Activation(
            "exp", lambda t, _: sympy.exp(t), r"\exp",
            numpy="np.exp({a})", float64=lambda a, p: np.exp(a),
            precise=lambda mp, x, p: mp.exp(x), torch=lambda torch, x, p: torch.exp(x),
            commands=("exp",), words=("exp",), in_table=False,
        ),
        Activation(
            "log", lambda t, _: sympy.log(t), r"\log",
            numpy="np.log({a})", float64=lambda a, p: np.log(a),
            precise=lambda mp, x, p: mp.log(x) if x > 0 else mp.nan,
            torch=lambda torch, x, p: torch.log(x),
            commands=("log", "ln"), words=("log",), in_table=False,
        ),
        Activation(
            "sqrt", lambda t, _: sympy.sqrt(t), r"\sqrt",
            numpy="np.sqrt({a})", float64=lambda a, p: np.sqrt(a),
            precise=lambda mp, x, p: mp.sqrt(x) if x >= 0 else mp.nan,
            torch=lambda torch, x, p: torch.sqrt(x),
            latex_call=r"\sqrt{{{a}}}", words=("sqrt",), in_table=False,
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class DerivativeForm:
    """f′ as a scalar SymPy expression, either in the argument T or in the output S."""

    expr: sympy.Expr
    in_output: bool
    via: str | None = None  # a row whose value at t, the symbol V, appears in expr (SiLU: σ)


@cache
def derivative_form(name: str, param: sympy.Expr | None = None) -> DerivativeForm:
    """f′ by `sympy.diff`, written on the output where that is no longer than on the argument."""
    act = ACTIVATIONS[name]
    f = act.scalar(T, param)
    # almost everywhere: a step's derivative (sign′ = 2 δ) is 0 away from its kink
    d = sympy.diff(f, T).replace(lambda e: isinstance(e, sympy.DiracDelta), lambda e: 0)
    if not act.invertible:
        return _branchwise(f, d) if isinstance(f, sympy.Piecewise) else _via_other(name, d)
    candidates: list[sympy.Expr] = []
    direct = d.subs(f, S)  # works when f itself appears in f′ (tanh, exp, sqrt)
    if T not in direct.free_symbols:
        candidates.append(direct)
    else:
        for root in sympy.solve(sympy.Eq(f, S), T):  # invert f (sigmoid: t = log(s/(1 − s)))
            candidate = sympy.simplify(d.subs(T, root))
            if T not in candidate.free_symbols:
                candidates.append(candidate)
    candidates = [c for c in candidates if _readable(c)]  # asinh′ = 1/cosh(s): no cosh row
    if candidates:
        best = min(candidates, key=sympy.count_ops)
        if sympy.count_ops(best) <= sympy.count_ops(d):
            return DerivativeForm(best, in_output=True)
    return DerivativeForm(d, in_output=False)


def _readable(e: sympy.Expr) -> bool:
    """Whether the scalar form has a matrix form (its functions are rows of the table)."""
    probe = E.Var("_probe", (1, 1))
    try:
        scalar_to_matrix(e, probe, probe, probe)
    except NotImplementedError:
        return False
    return True


def _branchwise(f: sympy.Expr, d: sympy.Expr) -> DerivativeForm:
    """A piecewise f′ with each branch on that branch's own output where that is no longer
    (ELU: α e^t for t ≤ 0 is s + α, no exponential left to overflow); else f′ as it is."""
    if not (isinstance(f, sympy.Piecewise) and isinstance(d, sympy.Piecewise)):
        return DerivativeForm(d, in_output=False)
    if len(f.args) != len(d.args):
        return DerivativeForm(d, in_output=False)
    branches = []
    changed = False
    for (fb, cond), (db, _) in zip(f.args, d.args, strict=True):
        best = db
        if db.has(T) and fb.has(T):
            for root in sympy.solve(sympy.Eq(fb, S), T):
                candidate = sympy.simplify(db.subs(T, root))
                shorter = sympy.count_ops(candidate) <= sympy.count_ops(db)
                if T not in candidate.free_symbols and shorter:
                    best, changed = candidate, True
                    break
        branches.append((best, cond))
    return DerivativeForm(sympy.Piecewise(*branches) if changed else d, in_output=changed)


def _via_other(name: str, d: sympy.Expr) -> DerivativeForm:
    """f′ written with another row's value v = g(t) where that is shorter (SiLU′ = σ + tσ(1 − σ)):
    an exponential inside g is solved for and replaced, so none is left to overflow."""
    best = DerivativeForm(d, in_output=False)
    for other, act in ACTIVATIONS.items():
        if other == name or not act.invertible or act.default_param is not None:
            continue
        g = act.scalar(T)
        for atom in (sympy.exp(-T), sympy.exp(T)):
            if not g.has(atom):
                continue
            u = sympy.Symbol("u", positive=True)
            for root in sympy.solve(sympy.Eq(g.subs(atom, u), V), u):
                candidate = _tidy(sympy.simplify(d.subs(atom, root)))
                if candidate.has(sympy.exp) or not candidate.has(V):
                    continue
                if sympy.count_ops(candidate) < sympy.count_ops(best.expr):
                    best = DerivativeForm(candidate, in_output=False, via=other)
    return best


def _tidy(e: sympy.Expr) -> sympy.Expr:
    """v (1 + t (1 − v)) rather than −v (t v − t − 1): the value v taken out, the rest collected
    in t with each coefficient factored, as a textbook writes it."""
    if e.is_Mul and V in e.args:
        rest = sympy.expand(sympy.cancel(e / V))
        return V * sympy.collect(rest, T, func=sympy.factor)
    return e


def derivative_expr(name: str, arg: E.Expr, out: E.Expr, param: sympy.Expr | None = None) -> E.Expr:
    """f′ applied elementwise, as a matrix expression on `arg` (the input) or `out` (the output)."""
    form = derivative_form(name, param)
    other = E.Apply(form.via, arg) if form.via is not None else None
    return scalar_to_matrix(form.expr, arg=arg, out=out, other=other)


def _functions() -> Mapping[type, str]:
    """SymPy's function classes that are rows of the table (exp, log, tanh), for reading a
    derivative back: a row whose formula is one SymPy function applied to t."""
    return _functions_of(tuple(ACTIVATIONS.values()))


@cache
def _functions_of(rows: tuple[Activation, ...]) -> Mapping[type, str]:
    # found once per table (building every row's formula costs more than a derivation); a row
    # added to the table (tests/test_one_row_per_op.py) makes a new table
    out: dict[type, str] = {}
    for act in rows:
        f = act.scalar(T)
        if isinstance(f, sympy.Function) and f.args == (T,):
            out[type(f)] = act.name
    return out


def scalar_to_matrix(
    e: sympy.Expr, arg: E.Expr, out: E.Expr, other: E.Expr | None = None
) -> E.Expr:
    """Read a scalar formula in T (the argument), S (the output) and V (another function's
    value, `other`) as an elementwise expression (`derive.elementwise_form`)."""
    leaves: dict[sympy.Expr, E.Expr] = {T: arg, S: out}
    if other is not None:
        leaves[V] = other
    return to_elementwise(e, arg.shape, leaves, _functions())
