"""Why a gradient vanishes: each parameter's gradient as the notes factor it, measured.

For a layer h = σ(W z + b) the notes write ∂L/∂W = (∂L/∂h ⊙ σ′(W z + b)) zᵀ and name four ways it
is 0: ∂L/∂h = 0 (an optimum or a saddle: fine), z = 0 (dead inputs or dead ReLUs), W = 0 above
(nothing propagates back) and σ′ = 0 (saturation). This module finds those factors in a spec (the
layer's input z, its activation and pre-activation, the layer output h, and the weights above
that ∂L/∂h flows back through), measures each at the network's values with `numeric/`, and names
the factor responsible when a gradient is (near) zero.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from derive import expr as E
from derive.activations import ACTIVATIONS, derivative_expr
from derive.errors import OptionError, SpecError
from derive.evaluate import evaluate
from derive.limits import DEFAULT, Limits, read_bounded
from derive.spec import Spec
from derive.targets import concrete_shape, draw_value

SATURATED = 1e-3  # f′ below this: a saturated (or, for ReLU, dead) unit
TOLERANCE = 1e-8  # a gradient, input or weight norm at most this is (near) zero
MOSTLY = 0.9  # this share of units saturated explains a (near) zero gradient

OPTIMUM, DEAD_INPUTS = "optimum", "zero_input"
ZERO_WEIGHTS, SATURATION = "zero_weights", "saturation"
CASES = {
    OPTIMUM: "∂L/∂h = 0: an optimum or a saddle point was reached (fine)",
    DEAD_INPUTS: "z = 0: every input of the layer is 0 (dead inputs or dead ReLUs below)",
    ZERO_WEIGHTS: "W = 0: the weights above are 0, so the gradient does not propagate back",
    SATURATION: "σ′ = 0: the activation's derivative is 0 (saturated units)",
}


@dataclass(frozen=True)
class Layer:
    """Where a parameter sits: the layer h = f(P z + ...) it belongs to."""

    param: str
    linear: str  # the equation holding P z (the pre-activation, or the layer itself)
    input: E.Expr | None  # z, for a weight; None for a bias
    activation: str | None
    pre: E.Expr | None  # the activation's argument
    output: str  # the layer's output h
    above: str | None  # the weights ∂L/∂h flows back through (the next layer's W)
    number: int
    param_value: Any = None  # the activation's parameter (leaky ReLU's slope), if any


@dataclass
class Factor:
    role: str  # upstream, slope, input, weights_above
    latex: str
    norm: float
    share: float  # upstream/input/weights: share of zero entries; slope: share saturated
    words: str


@dataclass
class ParamReport:
    param: str
    latex: str
    layer: int
    grad_norm: float
    factorization: str
    factors: list[Factor] = field(default_factory=list)
    case: str | None = None
    words: str = ""

    @property
    def vanishes(self) -> bool:
        return self.case is not None


def layers_of(spec: Spec) -> list[Layer]:
    """The layer of each parameter that multiplies (or is added to) a layer's input."""
    out: list[Layer] = []
    numbers: dict[str, int] = {}
    for eq in spec.equations:
        for p in spec.params:
            found = _use_of(eq.expr, p)
            if found is None:
                continue
            kind, z = found
            activation, pre, output, param = None, None, eq.name, None
            if isinstance(eq.expr, E.Apply):
                activation, pre, param = eq.expr.fn, eq.expr.children[0], eq.expr.param
            else:
                for later in spec.equations:
                    e = later.expr
                    if isinstance(e, E.Apply) and e.children[0] == E.Var(eq.name, e.shape):
                        activation, pre, output, param = e.fn, e.children[0], later.name, e.param
                        break
            above = _weights_above(spec, output)
            number = numbers.setdefault(eq.name, len(numbers) + 1)
            out.append(Layer(p, eq.name, z if kind == "weight" else None, activation, pre,
                             output, above, number, param))  # fmt: skip
    return out


def _use_of(e: E.Expr, p: str) -> tuple[str, E.Expr] | None:
    """("weight", z) where e holds P z, ("bias", 1) where it adds P, else None."""
    for n in E.walk_nodes(e):
        if isinstance(n, E.MatMul):
            kids = list(n.children)
            for i, k in enumerate(kids):
                if isinstance(k, E.Var) and k.name == p and i + 1 < len(kids):
                    rest = kids[i + 1 :]
                    return "weight", rest[0] if len(rest) == 1 else E.matmul(*rest)
        if isinstance(n, E.Add) and any(isinstance(t, E.Var) and t.name == p for t in n.children):
            return "bias", E.Const(1)
    return None


def _weights_above(spec: Spec, output: str) -> str | None:
    for eq in spec.equations:
        for n in E.walk_nodes(eq.expr):
            if isinstance(n, E.MatMul):
                kids = list(n.children)
                for i, k in enumerate(kids[1:], 1):
                    if isinstance(k, E.Var) and k.name == output:
                        left = kids[i - 1]
                        if isinstance(left, E.Var) and left.name in spec.params:
                            return left.name
    return None


# -- values -------------------------------------------------------------------------------------


def load_values(path: Path, spec: Spec, limits: Limits = DEFAULT) -> dict[str, np.ndarray]:
    """The arrays of an .npz file (no pickles), each a variable of the spec with its shape."""
    import io
    import zipfile

    data = read_bounded(str(path), limits.file_bytes * 64, "the values file", limits, "file_bytes")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k], dtype=float) for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise SpecError(str(path), f"not a NumPy .npz file of arrays ({exc})") from None
    dims = spec.dims
    for name, a in arrays.items():
        if name not in spec.variables:
            raise SpecError(str(path), f"{name!r} is not a variable of {spec.source}")
        want = tuple(d if isinstance(d, int) else dims[d] for d in spec.shape_of(name))
        if a.ndim == 1 and want[1] == 1:
            a = a.reshape(-1, 1)
            arrays[name] = a
        if a.shape != want:
            raise SpecError(str(path), f"{name} has shape {a.shape}, expected {want}")
        if not np.all(np.isfinite(a)):
            raise SpecError(str(path), f"{name} has non-finite entries")
    return arrays


def _normalization_scales(spec: Spec) -> set[str]:
    """The parameters that scale a standardized value (the γ of γ ⊙ Ẑ + β)."""
    out: set[str] = set()
    for eq in spec.equations:
        for n in E.walk_nodes(eq.expr):
            if isinstance(n, E.Hadamard | E.ScalarMul) and any(
                isinstance(c, E.Standardize) for c in n.children
            ):
                out |= {c.name for c in n.children if isinstance(c, E.Var)}
    return out


def initial_values(spec: Spec, scheme: str, seed: int) -> dict[str, np.ndarray]:
    """Inputs and targets drawn as `numeric.random_values` does; weights by the scheme."""
    from derive.init_study import SCHEMES

    if scheme not in SCHEMES:
        raise OptionError(f"unknown --init {scheme!r}; expected one of {', '.join(SCHEMES)}")
    rng = np.random.default_rng(seed)
    values: dict[str, np.ndarray] = {}
    scales = _normalization_scales(spec)
    for name, v in spec.variables.items():
        shape = concrete_shape(v.shape, spec.dims)
        if v.role == "param" and shape[1] > 1:
            values[name] = rng.standard_normal(shape) * SCHEMES[scheme].std(shape[1], shape[0])
        elif v.role == "param" and name in scales:
            values[name] = np.ones(shape)  # a batch norm's γ starts at 1 (Ioffe & Szegedy)
        elif v.role == "param":
            values[name] = np.zeros(shape)
        else:
            values[name] = draw_value(v, shape, rng)
    return values


# -- the report ---------------------------------------------------------------------------------


def diagnose(
    spec: Spec, values: dict[str, np.ndarray], tol: float = TOLERANCE
) -> list[ParamReport]:
    """Every parameter's gradient, its factors measured, and the cause when it is (near) 0."""
    from numeric.spec import read_spec
    from numeric.tape import Network as NumericNetwork

    missing = sorted(set(spec.variables) - set(values))
    if missing:
        raise OptionError(f"no value for {', '.join(missing)} (give every variable, or use --init)")
    net = NumericNetwork(read_spec(spec.source, dict(spec.dims)))
    forward, grads = net.backward(values)
    dims = dict(spec.dims)
    latex = spec.latex_of
    reports: dict[str, ParamReport] = {}
    for layer in layers_of(spec):
        g = grads[layer.param]
        rep = ParamReport(layer.param, latex(layer.param), layer.number, _norm(g),
                          _factorization(spec, layer))  # fmt: skip
        upstream = grads[layer.output]
        rep.factors.append(
            Factor("upstream", rf"\partial {latex(spec.loss)} / \partial {latex(layer.output)}",
                   _norm(upstream), _zero_share(upstream, tol),
               f"∂L/∂{layer.output}, the gradient from above")
        )  # fmt: skip
        slope: np.ndarray | None = None
        if layer.activation is not None and layer.pre is not None:
            out_var = E.Var(layer.output, layer.pre.shape)
            d = derivative_expr(layer.activation, layer.pre, out_var, layer.param_value)
            slope = np.asarray(evaluate(d, forward, dims), dtype=float)
            rep.factors.append(
                Factor("slope", rf"{ACTIVATIONS[layer.activation].latex}'", _norm(slope),
                       float(np.mean(np.abs(slope) < SATURATED)),
                       f"{layer.activation}′ of layer {layer.number}, at {_plain(layer.pre)}")
            )  # fmt: skip
        z: np.ndarray | None = None
        if layer.input is not None:
            z = np.asarray(evaluate(layer.input, forward, dims), dtype=float)
            rep.factors.append(
                Factor("input", _printed(spec, layer.input), _norm(z), _zero_share(z, tol),
                       f"{_plain(layer.input)}, the input of layer {layer.number}")
            )  # fmt: skip
        above: np.ndarray | None = None
        if layer.above is not None:
            above = values[layer.above]
            rep.factors.append(
                Factor("weights_above", latex(layer.above), _norm(above), _zero_share(above, tol),
                       f"{layer.above}, the weights it flows back through")
            )  # fmt: skip
        if rep.grad_norm <= tol:
            rep.case, rep.words = _cause(layer, rep, z, slope, upstream, above, reports, tol)
        reports[layer.param] = rep
    return list(reports.values())


def _cause(
    layer: Layer, rep: ParamReport, z: np.ndarray | None, slope: np.ndarray | None,
    upstream: np.ndarray, above: np.ndarray | None, done: dict[str, ParamReport], tol: float,
) -> tuple[str, str]:  # fmt: skip
    name = f"∂L/∂{rep.param}"
    if z is not None and _norm(z) <= tol:
        return DEAD_INPUTS, f"{name} ≈ 0: every input of layer {layer.number} is 0 (z = 0)"
    if slope is not None:
        share = float(np.mean(np.abs(slope) < SATURATED))
        if share >= MOSTLY:
            what = "dead (ReLU′ = 0)" if ACTIVATIONS[layer.activation or ""].kinked else "saturated"
            return SATURATION, (
                f"{name} ≈ 0: {share:.0%} of the units of layer {layer.number} are {what} "
                f"(σ′ < {SATURATED:g})"
            )
    if _norm(upstream) <= tol:
        if above is not None and _norm(above) <= tol:
            return ZERO_WEIGHTS, (
                f"{name} ≈ 0: the weights {layer.above} above layer {layer.number} are 0, so "
                "nothing propagates back (W = 0)"
            )
        higher = done.get(layer.above or "")
        if higher is not None and higher.case is not None:
            return higher.case, f"{name} ≈ 0: the gradient from above is 0, because " + (
                higher.words.split(": ", 1)[-1]
            )
        if above is None:
            return OPTIMUM, (
                f"{name} ≈ 0: ∂L/∂{layer.output} = 0, the output already fits (an optimum or a "
                "saddle point: fine)"
            )
        return OPTIMUM, f"{name} ≈ 0: ∂L/∂{layer.output} = 0 (an optimum or a saddle point)"
    return "cancel", f"{name} ≈ 0 though no factor is 0: the factors cancel at these values"


def _factorization(spec: Spec, layer: Layer) -> str:
    latex = spec.latex_of
    up = rf"\frac{{\partial {latex(spec.loss)}}}{{\partial {latex(layer.output)}}}"
    inner = up
    if layer.activation is not None and layer.pre is not None:
        inner = rf"\left({up} \odot {ACTIVATIONS[layer.activation].latex}'"
        inner += rf"({_printed(spec, layer.pre)})\right)"
    if layer.input is None:
        return inner
    return rf"{inner} \left({_printed(spec, layer.input)}\right)^{{T}}"


def _printed(spec: Spec, e: E.Expr) -> str:
    from derive.latex import printer_for

    return printer_for(spec).doprint(e)


def _plain(e: E.Expr) -> str:
    from derive.sympy_form import ascii_form

    return ascii_form(e)


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(a))


def _zero_share(a: np.ndarray, tol: float) -> float:
    return float(np.mean(np.abs(a) <= tol))


# -- printers -----------------------------------------------------------------------------------


def as_text(reports: list[ParamReport]) -> str:
    lines: list[str] = []
    for r in reports:
        head = f"∂L/∂{r.param}  (layer {r.layer})  |grad| = {r.grad_norm:.3g}"
        lines.append(head)
        for f in r.factors:
            share = "saturated" if f.role == "slope" else "zero"
            lines.append(f"    {f.words:<52} |.| = {f.norm:<10.3g} {f.share:>6.1%} {share}")
        if r.case is not None:
            lines.append(f"  -> {r.words}")
    vanished = [r for r in reports if r.case is not None]
    lines.append(
        f"{len(vanished)} of {len(reports)} parameter gradients are (near) zero"
        + (f" (|grad| <= {TOLERANCE:g})" if vanished else "")
    )
    return "\n".join(lines) + "\n"


def as_json(reports: list[ParamReport]) -> str:
    return json.dumps([asdict(r) for r in reports], indent=2, ensure_ascii=False)


def plot(reports: list[ParamReport], path: Path) -> None:
    """Each parameter's gradient norm and its factors' norms (log scale), zeros marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    roles = ["gradient", "upstream", "slope", "input", "weights_above"]
    table: dict[str, list[float]] = {}
    for role in roles:
        table[role] = [
            r.grad_norm if role == "gradient"
            else next((f.norm for f in r.factors if f.role == role), np.nan)
            for r in reports
        ]  # fmt: skip
    positive = [h for hs in table.values() for h in hs if np.isfinite(h) and h > 0]
    floor = (min(positive) if positive else 1.0) / 1e3
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(reports)), 3.8), constrained_layout=True)
    width = 0.16
    for k, role in enumerate(roles):
        xs = np.arange(len(reports)) + (k - 2) * width
        heights = [h if np.isfinite(h) and h > 0 else floor for h in table[role]]
        shown = [np.isfinite(h) for h in table[role]]
        ax.bar(xs[shown], np.array(heights)[shown], width, label=role.replace("_", " "),
               color=f"C{k}")  # fmt: skip
        for x, h in zip(xs, table[role], strict=True):
            if np.isfinite(h) and h <= 0:
                ax.text(x, floor * 1.5, "0", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(bottom=floor, top=(max(positive) if positive else 1.0) * 4)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(reports)))
    ax.set_xticklabels([f"{r.param}\n{'≈ 0: ' + r.case if r.case else ''}" for r in reports],
                       fontsize=8)  # fmt: skip
    ax.set_ylabel("Frobenius norm (log scale)")
    ax.set_title("each parameter's gradient and its factors", fontsize=10)
    ax.legend(fontsize=8, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.savefig(path)
    plt.close(fig)


def to_dict(reports: list[ParamReport]) -> list[dict[str, Any]]:
    return [asdict(r) for r in reports]
