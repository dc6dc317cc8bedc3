"""The notes' initialization experiment: a deep MLP at initialization, scheme by scheme.

An MLP spec (depth layers of width n over a batch of B columns, one activation) is written as a
spec document and run by `numeric/` (the independent NumPy backprop), forward and backward. Per
layer the study reports the activations' mean and standard deviation, the fraction of saturated
units (the activation's derivative, from the activation table, below 1e-3) and of zero
activations, the variance ratio to the layer before, and the norm of ∂L/∂W. Too-small weights
collapse the activations to 0, too-large ones saturate tanh and sigmoid, Xavier and He keep the
variance (their rules are derived in `derive.init_theory`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from derive import expr as E
from derive.activations import ACTIVATIONS, derivative_expr
from derive.errors import OptionError, TooLargeError
from derive.evaluate import evaluate
from derive.init_theory import glorot, he

SATURATED = 1e-3  # a unit whose activation derivative is below this is saturated
ZERO = 1e-3  # an activation below this in magnitude is (near) zero
MAX_WIDTH, MAX_DEPTH, MAX_BATCH = 4096, 200, 4096
MAX_WORK = 4 * 10**10  # width² · depth · batch multiply-adds, forward and backward

STUDY_ACTIVATIONS = tuple(name for name, act in ACTIVATIONS.items() if act.in_table)


@dataclass(frozen=True)
class Scheme:
    """An initialization: the weights' standard deviation for a layer's fan-in and fan-out."""

    name: str
    words: str
    std: Callable[[int, int], float]


def _derived(rule: Callable[[], Any]) -> Callable[[int, int], float]:
    """The rule's std, derived on first use (not when the CLI starts)."""
    found: list[Any] = []

    def std(n_in: int, n_out: int) -> float:
        if not found:
            found.append(rule())
        return float(found[0].std(n_in, n_out))

    return std


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("small", "N(0, 0.01²): too small", lambda n_in, n_out: 0.01),
        Scheme("large", "N(0, 1): too large", lambda n_in, n_out: 1.0),
        Scheme("xavier", "N(0, 2/(n_in + n_out)): Glorot", _derived(glorot)),
        Scheme("he", "N(0, 2/n_in): He", _derived(he)),
    )
}


@dataclass
class LayerStats:
    layer: int
    mean: float
    std: float
    saturated: float  # fraction of units × examples with f′(a) < SATURATED
    zero: float  # fraction with |h| < ZERO
    variance_ratio: float | None  # Var(h_l) / Var(h_{l-1}); None for the first layer
    grad_norm: float  # ‖∂L/∂W_l‖_F
    values: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))


@dataclass
class Study:
    activation: str
    scheme: str
    depth: int
    width: int
    batch: int
    seed: int
    layers: list[LayerStats]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for layer in out["layers"]:
            layer.pop("values", None)
        return out


def mlp_document(activation: str, depth: int, width: int, batch: int) -> dict[str, Any]:
    """The spec (as a parsed TOML document) of a depth-layer MLP of one width over a batch."""
    variables: dict[str, Any] = {
        "X": {"shape": ["n", "B"], "role": "input"},
        "Y": {"shape": ["n", "B"], "role": "target"},
    }
    forward: dict[str, Any] = {}
    below = "X"
    for layer in range(1, depth + 1):
        variables[f"W{layer}"] = {"shape": ["n", "n"], "role": "param"}
        variables[f"b{layer}"] = {"shape": ["n", 1], "role": "param"}
        forward[f"a{layer}"] = f"W{layer} @ {below} + b{layer}"
        forward[f"h{layer}"] = f"{activation}(a{layer})"
        below = f"h{layer}"
    forward["L"] = f"mean(({below} - Y)**2)"
    return {
        "title": f"{depth}-layer {activation} MLP of width {width}",
        "dims": {"n": width, "B": batch},
        "vars": variables,
        "forward": forward,
    }


def check_size(depth: int, width: int, batch: int) -> None:
    for what, value, most in (
        ("--depth", depth, MAX_DEPTH),
        ("--width", width, MAX_WIDTH),
        ("--batch", batch, MAX_BATCH),
    ):
        if value < 1:
            raise OptionError(f"{what} must be at least 1, got {value}")
        if value > most:
            raise TooLargeError(f"too large: {what} {value} is over the most, {most}")
    work = width * width * depth * batch
    if work > MAX_WORK:
        raise TooLargeError(
            f"too large: width² · depth · batch = {work:.3g} multiply-adds is over {MAX_WORK:.0e}; "
            "lower --width, --depth or --batch"
        )


def run(
    activation: str, scheme: str, depth: int = 10, width: int = 256, batch: int = 128,
    seed: int = 0,
) -> Study:  # fmt: skip
    """The study of one activation under one initialization scheme."""
    from numeric.spec import spec_from_document
    from numeric.tape import Network

    if activation not in STUDY_ACTIVATIONS:
        raise OptionError(
            f"unknown activation {activation!r}; expected one of {', '.join(STUDY_ACTIVATIONS)}"
        )
    if scheme not in SCHEMES:
        raise OptionError(f"unknown --init {scheme!r}; expected one of {', '.join(SCHEMES)}, all")
    check_size(depth, width, batch)
    doc = mlp_document(activation, depth, width, batch)
    net = Network(spec_from_document(doc, doc["title"]))
    rng = np.random.default_rng(seed)
    std = SCHEMES[scheme].std(width, width)
    values: dict[str, np.ndarray] = {
        "X": rng.standard_normal((width, batch)),
        "Y": rng.standard_normal((width, batch)),
    }
    for layer in range(1, depth + 1):
        values[f"W{layer}"] = rng.standard_normal((width, width)) * std
        values[f"b{layer}"] = np.zeros((width, 1))
    forward, grads = net.backward(values)
    slope = _slope(activation)
    layers: list[LayerStats] = []
    previous: float | None = None
    for layer in range(1, depth + 1):
        a, h = forward[f"a{layer}"], forward[f"h{layer}"]
        variance = float(np.var(h))
        layers.append(
            LayerStats(
                layer=layer,
                mean=float(np.mean(h)),
                std=math.sqrt(variance),
                saturated=float(np.mean(slope(a, h) < SATURATED)),
                zero=float(np.mean(np.abs(h) < ZERO)),
                variance_ratio=None if previous is None or previous == 0 else variance / previous,
                grad_norm=float(np.linalg.norm(grads[f"W{layer}"])),
                values=h,
            )
        )
        previous = variance
    return Study(activation, scheme, depth, width, batch, seed, layers)


def _slope(activation: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """f′ as the activation table derives it, evaluated from a layer's input and output."""
    row = ACTIVATIONS[activation]
    shape = ("n", "B")
    a, h = E.Var("a", shape), E.Var("h", shape)
    param = row.param_value() if row.default_param is not None else None
    form = derivative_expr(activation, a, h, param)

    def slope(av: np.ndarray, hv: np.ndarray) -> np.ndarray:
        dims = {"n": av.shape[0], "B": av.shape[1]}
        return np.asarray(evaluate(form, {"a": av, "h": hv}, dims), dtype=float)

    return slope


def run_all(
    activation: str, schemes: Sequence[str], depth: int, width: int, batch: int, seed: int,
    progress: Callable[[str], None] | None = None,
) -> list[Study]:  # fmt: skip
    out = []
    for name in schemes:
        if progress is not None:
            progress(name)
        out.append(run(activation, name, depth, width, batch, seed))
    return out


# -- printers ---------------------------------------------------------------------------------


def as_table(studies: Sequence[Study]) -> str:
    """A plain-text table per scheme, for a terminal."""
    lines: list[str] = []
    for s in studies:
        lines.append(
            f"{s.activation}, init {s.scheme} ({SCHEMES[s.scheme].words}), depth {s.depth}, "
            f"width {s.width}, batch {s.batch}, seed {s.seed}"
        )
        lines.append(
            f"{'layer':>5}  {'mean':>10}  {'std':>10}  {'saturated':>9}  {'zero':>6}  "
            f"{'Var ratio':>9}  {'|dL/dW|':>10}"
        )
        for row in s.layers:
            ratio = "" if row.variance_ratio is None else f"{row.variance_ratio:.3g}"
            lines.append(
                f"{row.layer:>5}  {row.mean:>10.3g}  {row.std:>10.3g}  {row.saturated:>9.1%}  "
                f"{row.zero:>6.1%}  {ratio:>9}  {row.grad_norm:>10.3g}"
            )
        lines.append(verdict(s))
        lines.append("")
    return "\n".join(lines)


def verdict(s: Study) -> str:
    """One sentence on what the numbers show, in the notes' terms."""
    first, last = s.layers[0], s.layers[-1]
    if first.std > 0 and last.std < 1e-3 * first.std:
        return (
            f"activations collapse toward 0: the last layer's std is {last.std / first.std:.2g} "
            "of the first's, so ∂L/∂W = ∂L/∂h · zᵀ ≈ 0 (no learning)"
        )
    worst = max(s.layers, key=lambda r: r.saturated)
    if worst.saturated > 0.5 and s.activation in ("tanh", "sigmoid"):
        return (
            f"saturation: {worst.saturated:.0%} of the units of layer {worst.layer} have "
            f"{s.activation}′ < {SATURATED:g}, so ∂L/∂z = σ′ ⊙ (Wᵀ ∂L/∂h) ≈ 0 (no learning)"
        )
    ratios = [r.variance_ratio for r in s.layers if r.variance_ratio is not None]
    if ratios and all(q > 2 for q in ratios):
        growth = math.exp(sum(math.log(q) for q in ratios) / len(ratios))
        return (
            f"activations explode: the variance grows about {growth:.3g}x per layer, and the "
            "gradients with it"
        )
    if ratios and all(0.5 <= q <= 2 for q in ratios):
        return (
            f"the variance is kept: layer-to-layer ratio {min(ratios):.2f} to {max(ratios):.2f}"
        )
    return "the variance drifts: ratios " + ", ".join(f"{q:.2g}" for q in ratios)


def as_json(studies: Sequence[Study]) -> str:
    return json.dumps([s.to_dict() for s in studies], indent=2)


def plot(studies: Sequence[Study], path: Path) -> None:
    """Histograms of each layer's activations (a row per scheme) and ‖∂L/∂W‖ against depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depth = studies[0].depth
    shown = sorted({0, depth // 3, (2 * depth) // 3, depth - 1})
    rows = len(studies)
    fig = plt.figure(figsize=(2.7 * len(shown), 2.0 * rows + 3.2), constrained_layout=True)
    grid = fig.add_gridspec(rows + 1, len(shown), height_ratios=[1.0] * rows + [1.7])
    for i, s in enumerate(studies):
        for j, k in enumerate(shown):
            ax = fig.add_subplot(grid[i, j])
            row = s.layers[k]
            ax.hist(row.values.ravel(), bins=50, color=f"C{i}")
            ax.set_yticks([])
            ax.set_title(f"{s.scheme}: layer {row.layer}, std {row.std:.2g}", fontsize=8)
            ax.tick_params(labelsize=7)
    ax = fig.add_subplot(grid[rows, :])
    for i, s in enumerate(studies):
        norms = [max(r.grad_norm, 1e-300) for r in s.layers]
        label = f"{s.scheme}: {SCHEMES[s.scheme].words}"
        ax.semilogy([r.layer for r in s.layers], norms, marker="o", color=f"C{i}", label=label)
    ax.set_xlabel("layer")
    ax.set_ylabel("‖∂L/∂W‖ (log scale)")
    ax.set_title("gradient norm against depth", fontsize=9)
    ax.legend(fontsize=8, loc="best")
    fig.suptitle(
        f"{studies[0].activation} MLP at initialization: activations per layer (histograms)",
        fontsize=10,
    )
    fig.savefig(path)
    plt.close(fig)
