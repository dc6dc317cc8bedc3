"""The notes' second half as a document: reports/seed/vanishing.{md,tex} and its figures.

Written by `make demo` (derive/demo.py): the activation table, the four ways a gradient vanishes
(each shown by a state of the notes' two-layer sigmoid network and what `gradproof diagnose`
says about it), the initialization experiment with its figures, and the Xavier/He derivation.
Every number and formula in it is computed when it is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derive import activation_table, init_study, init_theory, vanishing
from derive.api import Network
from derive.document.latex import tex_text as _tex
from derive.files import write_text_atomic

CASE_SPEC = "two_sigmoid_layers"
STUDY = {"depth": 10, "width": 256, "batch": 128, "seed": 0}


@dataclass
class Case:
    title: str
    change: str  # what was done to the healthy state, in words
    param: str
    words: str  # what diagnose says


def vanishing_cases(examples: Path) -> list[Case]:
    """The notes' four zero-gradient cases, each made by changing one thing in a healthy state."""
    from numeric.tape import load_network

    spec = Network.from_file(examples / f"{CASE_SPEC}.toml").spec

    def said(values: dict[str, np.ndarray], param: str) -> str:
        r = next(x for x in vanishing.diagnose(spec, values) if x.param == param)
        return r.words or f"|∂L/∂{param}| = {r.grad_norm:.3g}: not zero"

    def healthy() -> dict[str, np.ndarray]:
        return vanishing.initial_values(spec, "xavier", 0)

    def optimum() -> dict[str, np.ndarray]:
        v = healthy()
        v["y"] = load_network(spec.source).forward(v)["yhat"]
        return v

    def with_zero(name: str) -> Callable[[], dict[str, np.ndarray]]:
        def make() -> dict[str, np.ndarray]:
            v = healthy()
            v[name] = np.zeros_like(v[name])
            return v

        return make

    def saturated() -> dict[str, np.ndarray]:
        v = healthy()
        v["W1"] = v["W1"] * 1e4
        return v

    plan = [
        ("∂L/∂h = 0: an optimum (good)", "the target y set to the network's output", optimum,
         "W2"),
        ("z = 0: no input (bad)", "the input x set to 0", with_zero("x"), "W1"),
        ("W = 0: nothing propagates back (bad)", "the weights W2 set to 0", with_zero("W2"),
         "W1"),
        ("σ′ = 0: saturation (bad)", "the weights W1 multiplied by 10⁴", saturated, "W1"),
    ]  # fmt: skip
    return [Case(title, change, p, said(make(), p)) for title, change, make, p in plan]


def write(out_dir: Path, examples: Path) -> list[Path]:
    """Write vanishing.md, vanishing.tex and the figures they show; returns the paths."""
    rows = activation_table.table()
    activation_table.plot(rows, out_dir / "activations.png")
    studies = {
        act: init_study.run_all(act, list(init_study.SCHEMES), **STUDY)  # type: ignore[arg-type]
        for act in ("tanh", "relu")
    }
    for act, found in studies.items():
        init_study.plot(found, out_dir / f"init_{act}.png")
    cases = vanishing_cases(examples)
    rules = init_theory.rules()
    md = markdown(rows, cases, studies, rules)
    tex = latex(rows, cases, studies, rules)
    write_text_atomic(out_dir / "vanishing.md", md)
    write_text_atomic(out_dir / "vanishing.tex", tex)
    return [out_dir / "vanishing.md", out_dir / "vanishing.tex"]


def _study_md(found: list[init_study.Study]) -> list[str]:
    lines = []
    for s in found:
        last = s.layers[-1]
        ratios = [r.variance_ratio for r in s.layers if r.variance_ratio is not None]
        lines.append(
            f"| {s.activation} | {s.scheme} | {s.layers[0].std:.3g} | {last.std:.3g} | "
            f"{max(r.saturated for r in s.layers):.0%} | {max(r.zero for r in s.layers):.0%} | "
            f"{min(ratios):.2g} – {max(ratios):.2g} | {s.layers[0].grad_norm:.2g} | "
            f"{init_study.verdict(s)} |"
        )
    return lines


def markdown(
    rows: list[activation_table.Row], cases: list[Case],
    studies: dict[str, list[init_study.Study]], rules: list[init_theory.Rule],
) -> str:  # fmt: skip
    out = [
        "# Vanishing gradients, activations and initialization",
        "",
        "The second half of the notes, computed by gradproof (`make demo` writes this file).",
        "",
        "## Why a gradient vanishes",
        "",
        "For h = σ(W z + b): ∂L/∂W = (∂L/∂h ⊙ σ′(W z + b)) zᵀ and ∂L/∂z = Wᵀ(∂L/∂h ⊙ σ′(·)). "
        f"Each case below changes one thing in a healthy state of `examples/{CASE_SPEC}.toml` "
        "(Xavier weights, seed 0) and shows what `gradproof diagnose` says.",
        "",
        "| case | state | diagnose says |",
        "|---|---|---|",
        *[f"| {c.title} | {c.change} | {c.words} |" for c in cases],
        "",
        activation_table.as_markdown(rows).replace("# Activation functions", "## Activations"),
        "![each activation and its derivative](activations.png)",
        "",
        "## Weight initialization",
        "",
        f"A {STUDY['depth']}-layer MLP of width {STUDY['width']} over a batch of "
        f"{STUDY['batch']}, run by `numeric/` at initialization (`gradproof init-study`).",
        "",
        "| activation | init | std layer 1 | std last | most saturated | most zero "
        "| Var ratio | ‖∂L/∂W⁽¹⁾‖ | what it shows |",
        "|---|---|---|---|---|---|---|---|---|",
        *[line for found in studies.values() for line in _study_md(found)],
        "",
        *[f"![{act}: activations and gradient norms per scheme](init_{act}.png)\n"
          for act in studies],
        "",
        init_theory.as_markdown(rules).replace("# Weight initialization, derived",
                                               "## Xavier and He, derived"),
    ]  # fmt: skip
    return "\n".join(out) + "\n"


def latex(
    rows: list[activation_table.Row], cases: list[Case],
    studies: dict[str, list[init_study.Study]], rules: list[init_theory.Rule],
) -> str:  # fmt: skip
    out = [
        r"\documentclass[10pt]{article}",
        r"\usepackage[margin=1.8cm]{geometry}",
        r"\usepackage{amsmath,amssymb,graphicx}",
        r"\title{Vanishing gradients, activations and initialization}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        r"\section*{Why a gradient vanishes}",
        _tex(
            "For h = σ(W z + b): ∂L/∂W = (∂L/∂h ⊙ σ′(W z + b)) zᵀ. Each case changes one thing "
            f"in a healthy state of {CASE_SPEC} and shows what gradproof diagnose says."
        ),
        r"\begin{itemize}",
        *[rf"\item \textbf{{{_tex(c.title)}}}: {_tex(c.change)}. {_tex(c.words)}" for c in cases],
        r"\end{itemize}",
        r"\section*{Activations}",
        r"{\footnotesize\setlength{\tabcolsep}{4pt}",
        activation_table.as_latex(rows),
        r"}",
        r"\begin{center}\includegraphics[width=\textwidth]{activations.png}\end{center}",
        r"\section*{Weight initialization}",
        _tex(
            f"A {STUDY['depth']}-layer MLP of width {STUDY['width']} over a batch of "
            f"{STUDY['batch']}, run by numeric/ at initialization (gradproof init-study)."
        ),
        r"\begin{itemize}",
        *[rf"\item {s.activation}, {s.scheme}: {_tex(init_study.verdict(s))}"
          for found in studies.values() for s in found],
        r"\end{itemize}",
        *[rf"\begin{{center}}\includegraphics[width=0.9\textwidth]{{init_{act}.png}}\end{{center}}"
          for act in studies],
        init_theory.as_latex(rules).replace(r"\section*{Weight initialization, derived}",
                                            r"\section*{Xavier and He, derived}"),
        r"\end{document}",
    ]  # fmt: skip
    return "\n".join(out) + "\n"
