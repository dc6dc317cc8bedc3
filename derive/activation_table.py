"""The notes' activation table, every column computed by SymPy from the formula.

For each activation of `derive.activations.ACTIVATIONS` (the notes' four and those added since):
the formula, its derivative in textbook form (on the output where that reads more simply:
σ′ = σ(1 − σ)), the output range (SymPy's `function_range`, branch by branch for a piecewise
function), whether it is zero-centred (odd: f(−t) = −f(t)), where it saturates (the limits of
f′ at ±∞), whether it is differentiable everywhere (and, at a kink, the one-sided derivatives and
the value gradproof takes there), and the derivative's maximum (σ′ ≤ 1/4: why deep sigmoid stacks
vanish). Nothing here is typed as a result.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import sympy
from sympy.calculus.util import function_range, maximum

from derive.activations import ACTIVATIONS, S, T, V, derivative_form


@dataclass(frozen=True)
class Row:
    name: str
    latex_name: str
    formula: str  # LaTeX
    derivative: str  # LaTeX; in f(t) itself where that is no longer: σ(t) (1 − σ(t))
    output_range: str  # LaTeX of the interval
    zero_centred: bool
    saturates: str  # "both sides", "t → −∞", "t → +∞", "f′ = 0 for t ≤ 0", "no"
    saturates_latex: str  # the same for a LaTeX table
    limits: tuple[str, str, str, str]  # f(−∞), f(+∞), f′(−∞), f′(+∞), LaTeX
    differentiable: bool
    kink: str  # "" or what happens at the kink, in words
    kink_latex: str  # the same in LaTeX math
    derivative_max: str  # LaTeX
    derivative_max_value: float


def _branch(f: sympy.Expr, big: sympy.Expr) -> sympy.Expr:
    """The branch of a piecewise function that holds at t = big (±10⁶); f itself otherwise."""
    if not isinstance(f, sympy.Piecewise):
        return f
    for expr, cond in f.args:
        if cond is sympy.true or bool(cond.subs(T, big)):
            return expr
    raise ValueError(f"no branch of {f} holds at {big}")


def _limit(f: sympy.Expr, side: int) -> sympy.Expr:
    big = sympy.Integer(side * 10**6)
    return sympy.limit(_branch(f, big), T, side * sympy.oo)


def _pieces(f: sympy.Expr) -> list[tuple[sympy.Expr, sympy.Set]]:
    """(expression, interval of t) for each branch; one piece over the reals when smooth."""
    if not isinstance(f, sympy.Piecewise):
        return [(f, sympy.S.Reals)]
    out: list[tuple[sympy.Expr, sympy.Set]] = []
    left: sympy.Set = sympy.S.Reals
    for expr, cond in f.args:
        where = left if cond is sympy.true else cond.as_set().intersect(left)
        out.append((expr, where))
        left = left - where
    return out


def _critical_values(expr: sympy.Expr) -> list[sympy.Expr]:
    """expr at the roots of its derivative, found by SymPy's nsolve from a grid of starts, and
    its limits at ±∞: where no closed form exists (SiLU′ peaks at t ≈ 2.3994)."""
    slope = sympy.diff(expr, T)
    values = [sympy.limit(expr, T, -sympy.oo), sympy.limit(expr, T, sympy.oo)]
    for start in range(-8, 9):
        try:
            root = sympy.nsolve(slope, T, start)
        except (ValueError, ZeroDivisionError, TypeError):
            continue
        if root.is_real:
            values.append(sympy.Float(sympy.N(expr.subs(T, root), 15), 6))
    return values


def _range(f: sympy.Expr) -> sympy.Set:
    total: sympy.Set = sympy.S.EmptySet
    for expr, where in _pieces(f):
        try:
            part = function_range(expr, T, where)
        except NotImplementedError:
            part = sympy.S.EmptySet
        if part is sympy.S.EmptySet and where is not sympy.S.EmptySet:
            # no closed form (SymPy gives up, or answers ∅): the extremes, found numerically
            values = _critical_values(expr)
            low, high = min(values, key=float), max(values, key=float)
            part = sympy.Interval(low, high, left_open=not low.is_finite or low.is_Float is False,
                                  right_open=not high.is_finite)  # fmt: skip
        total = total.union(part)
    return total


def _maximum(d: sympy.Expr) -> sympy.Expr:
    best: sympy.Expr | None = None
    for expr, where in _pieces(d):
        if not expr.has(T):
            m = expr
        else:
            try:
                m = maximum(expr, T, where)
            except NotImplementedError:
                m = max(_critical_values(expr), key=float)
        best = m if best is None else sympy.Max(best, m)
    assert best is not None
    return best


def row(name: str) -> Row:
    act = ACTIVATIONS[name]
    f = act.scalar(T)
    d = sympy.diff(f, T)
    form = derivative_form(name)
    lims = (_limit(f, -1), _limit(f, 1), _limit(d, -1), _limit(d, 1))
    sides = (("t → −∞", r"$t \to -\infty$", lims[2]), ("t → +∞", r"$t \to +\infty$", lims[3]))
    flat = [(w, x) for w, x, lim in sides if lim == 0]
    if len(flat) == 2:
        saturates, saturates_latex = "both sides", "both sides"
    else:
        saturates, saturates_latex = flat[0] if flat else ("no", "no")
    dead = [where for expr, where in _pieces(d) if expr == 0]
    if dead:  # f′ is 0 on a whole half-line, not only in the limit (ReLU for t ≤ 0)
        saturates = "f′ = 0 for " + " and ".join(_words(w) for w in dead)
        saturates_latex = "$f' = 0$ for " + " and ".join(f"${_condition(w)}$" for w in dead)
    kink = kink_latex = ""
    differentiable = True
    if isinstance(f, sympy.Piecewise):
        left = sympy.limit(_branch(d, sympy.Integer(-1)), T, 0)
        right = sympy.limit(_branch(d, sympy.Integer(1)), T, 0)
        if left != right:
            differentiable = False
            taken = d.subs(T, 0)
            kink = (
                f"kink at 0: f′(0⁻) = {left}, f′(0⁺) = {right}; gradproof (and PyTorch) "
                f"takes f′(0) = {taken}"
            )
            kink_latex = (
                rf"f'(0^-) = {sympy.latex(left)},\ f'(0^+) = {sympy.latex(right)};"
                rf"\ \text{{gradproof (and PyTorch) takes }} f'(0) = {sympy.latex(taken)}"
            )
    top = _maximum(d)
    names = {S: rf"{act.latex}(t)"}
    if form.via is not None:
        names[V] = rf"{ACTIVATIONS[form.via].latex}(t)"
    return Row(
        name=name,
        latex_name=act.latex,
        formula=_tex(_textbook(f)),
        derivative=_indicators(form.expr, names),
        output_range=sympy.latex(_range(f)),
        zero_centred=sympy.simplify(f.subs(T, -T) + f) == 0,
        saturates=saturates,
        saturates_latex=saturates_latex,
        limits=(_tex(lims[0]), _tex(lims[1]), _tex(lims[2]), _tex(lims[3])),
        differentiable=differentiable,
        kink=kink,
        kink_latex=kink_latex,
        derivative_max=sympy.latex(top),
        derivative_max_value=float(top),
    )


def _tex(e: sympy.Expr, names: dict[sympy.Symbol, str] | None = None) -> str:
    text = str(sympy.latex(e, symbol_names=names or {}))
    return text.replace(r"{\left(t \right)}", "(t)")


def _indicators(d: sympy.Expr, names: dict[sympy.Symbol, str]) -> str:
    """A piecewise derivative as indicators, as textbooks write ReLU′ = 𝟙[t > 0]."""
    if not isinstance(d, sympy.Piecewise):
        return _tex(d, names)
    terms = []
    for expr, where in _pieces(d):
        if expr == 0:
            continue
        cond = _condition(where)
        coef = "" if expr == 1 else _delimited(_tex(expr, names), expr) + " "
        terms.append(rf"{coef}\mathbb{{1}}[{cond}]")
    return " + ".join(terms) if terms else "0"


def _delimited(text: str, e: sympy.Expr) -> str:
    return rf"\left({text}\right)" if isinstance(e, sympy.Add) else text


def _condition(where: sympy.Set) -> str:
    if where == sympy.Interval.open(0, sympy.oo):
        return "t > 0"
    if where == sympy.Interval(-sympy.oo, 0):
        return r"t \le 0"
    return rf"t \in {sympy.latex(where)}"


def _words(where: sympy.Set) -> str:
    if where == sympy.Interval(-sympy.oo, 0):
        return "t ≤ 0"
    if where == sympy.Interval.open(0, sympy.oo):
        return "t > 0"
    return str(where)


def _textbook(e: sympy.Expr) -> sympy.Expr:
    """A two-branch piecewise on t > 0 as max(0, t) or max(αt, t) where that is what it is."""
    if isinstance(e, sympy.Piecewise) and len(e.args) == 2:
        (pos, c1), (neg, c2) = e.args
        linear = neg == 0 or (neg.is_Mul and neg.as_coeff_Mul()[1] == T
                                and 0 < neg.as_coeff_Mul()[0] < 1)  # fmt: skip
        if c1 == (T > 0) and c2 is sympy.true and pos == T and linear:
            return sympy.Max(neg, T, evaluate=False)
    return e


def table() -> list[Row]:
    return [row(n) for n, act in ACTIVATIONS.items() if act.in_table]


# -- printers ---------------------------------------------------------------------------------


def _yes(b: bool) -> str:
    return "yes" if b else "no"


def as_markdown(rows: list[Row]) -> str:
    head = (
        "| activation | f(t) | f′ | range | zero-centred | saturates (f′ → 0) | differentiable "
        "| max f′ |\n|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r.name} | ${r.formula}$ | ${r.derivative}$ | ${r.output_range}$ | "
        f"{_yes(r.zero_centred)} | {r.saturates} | "
        f"{_yes(r.differentiable) if r.differentiable else 'no: ' + r.kink} | "
        f"${r.derivative_max}$ |\n"
        for r in rows
    )
    note = (
        "\nComputed by SymPy from each formula (`gradproof activations`): f′ by `sympy.diff`, "
        f"{derivative_note(rows)}; the range by `function_range`; saturation from the limits "
        "of f′ at ±∞; the maximum of f′ over the reals.\n"
    )
    return "# Activation functions\n\n" + head + body + note


def derivative_note(rows: list[Row]) -> str:
    """How the f′ column is written, row by row, as `derivative_form` chose: in the function's
    own value f(t) where that is no longer than in t (on one branch only, for ELU), in another
    row's value where that is shorter (SiLU in σ(t)), else in t."""
    own: list[str] = []
    other: list[str] = []
    plain: list[str] = []
    for r in rows:
        form = derivative_form(r.name)
        if form.via is not None:
            other.append(f"{r.name}, in ${ACTIVATIONS[form.via].latex}(t)$")
        elif not form.in_output:
            plain.append(r.name)
        elif isinstance(form.expr, sympy.Piecewise):
            where = [_words(w) for expr, w in _pieces(form.expr) if expr.has(S)]
            own.append(f"{r.name} for {' and '.join(where)}")
        else:
            own.append(r.name)
    parts = []
    if own:
        parts.append(f"written in the function's own value f(t) where that is no longer than in t "
                     f"({', '.join(own)})")  # fmt: skip
    if other:
        parts.append(f"in another activation's value where that is shorter ({'; '.join(other)})")
    if plain:
        parts.append(f"{'otherwise ' if parts else ''}left in t ({', '.join(plain)})")
    said = ", ".join(parts[:-1]) + (", and " if len(parts) > 1 else "") + parts[-1]
    if any(r"\mathbb{1}[" in r.derivative for r in rows):
        said += r"; a piecewise f′ is written with indicators $\mathbb{1}[\cdot]$"
    return said


def as_latex(rows: list[Row]) -> str:
    """A LaTeX fragment: a longtable-free tabular that fits a page in landscape-free A4."""
    lines = [
        r"\begin{tabular}{lllllll}",
        r"activation & $f(t)$ & $f'$ & range & zero-centred & saturates & $\max f'$ \\ \hline",
    ]
    for r in rows:
        sat = r.saturates_latex
        name = r.name.replace("_", r"\_")
        lines.append(
            rf"{name} & ${r.formula}$ & ${r.derivative}$ & ${r.output_range}$ & "
            rf"{_yes(r.zero_centred)} & {sat} & ${r.derivative_max}$ \\"
        )
    lines.append(r"\end{tabular}")
    kinks = [r for r in rows if r.kink]
    if kinks:
        lines.append(r"\par\smallskip")
        for r in kinks:
            name = r.name.replace("_", r"\_")
            lines.append(rf"\noindent {name}, kink at 0: ${r.kink_latex}$\par")
    return "\n".join(lines) + "\n"


def as_json(rows: list[Row]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False)


def plot(rows: list[Row], path: Path) -> None:
    """Each function and its derivative on [−5, 5], with the derivative's maximum marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    xs = np.linspace(-5, 5, 801)
    cols = min(4, len(rows))
    nrows = (len(rows) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False,
                             constrained_layout=True)  # fmt: skip
    for ax, r in zip(axes.ravel(), rows, strict=False):
        f = ACTIVATIONS[r.name].scalar(T)
        modules = [{"erf": np.vectorize(math.erf)}, "numpy"]  # NumPy has no erf (GELU)
        fn = sympy.lambdify(T, f, modules)
        dn = sympy.lambdify(T, sympy.diff(f, T), modules)
        ax.plot(xs, np.broadcast_to(fn(xs), xs.shape), label="f")
        ax.plot(xs, np.broadcast_to(dn(xs), xs.shape), "--", label="f′")
        ax.axhline(r.derivative_max_value, color="grey", lw=0.6, ls=":")
        ax.set_title(f"{r.name}: max f′ = {r.derivative_max_value:.3g}", fontsize=9)
        ax.axhline(0, color="black", lw=0.4)
        ax.axvline(0, color="black", lw=0.4)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
    for ax in axes.ravel()[len(rows):]:
        ax.remove()
    fig.savefig(path)
    plt.close(fig)
