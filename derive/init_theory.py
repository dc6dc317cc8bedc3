"""Xavier (Glorot) and He initialization, derived by SymPy rather than quoted.

A layer computes z_j = Σ_i w_ji x_i over n_in inputs. With the weights and the inputs independent
and of mean zero, the variance of one term is a product of variances, the n_in terms add, and
asking that the variance neither grow nor shrink from layer to layer fixes Var(w). The backward
pass gives the same with n_out; Glorot's compromise satisfies both on average; He's rule comes
from E[ReLU(z)²] = Var(z)/2, computed here as an integral over the normal density.

Every result is a SymPy expression, every step a LaTeX line; nothing below is typed as an answer.
`gradproof init-study` measures the results (tests/test_init.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sympy

N_IN, N_OUT = sympy.symbols("n_in n_out", positive=True, integer=True)
VAR_W, VAR_X, VAR_Z, VAR_D = sympy.symbols("v_w v_x v_z v_delta", positive=True)
MEAN_W, MEAN_X = sympy.symbols("mu_w mu_x", real=True)
INDEX = sympy.Symbol("i", integer=True, positive=True)
Z = sympy.Symbol("z", real=True)

_NAMES = {
    N_IN: r"n_{\mathrm{in}}",
    N_OUT: r"n_{\mathrm{out}}",
    VAR_W: r"\operatorname{Var}(w)",
    VAR_X: r"\operatorname{Var}(x)",
    VAR_Z: r"\operatorname{Var}(z)",
    VAR_D: r"\operatorname{Var}(\delta)",
    MEAN_W: r"\operatorname{E}[w]",
    MEAN_X: r"\operatorname{E}[x]",
}


def tex(e: sympy.Expr) -> str:
    return str(sympy.latex(e, symbol_names=_NAMES))


@dataclass(frozen=True)
class Step:
    """One line of the derivation: what is done, and the equation it gives."""

    text: str
    latex: str


@dataclass
class Rule:
    """A derived initialization rule: Var(w) as a SymPy expression, with its steps."""

    name: str
    variance: sympy.Expr
    steps: list[Step] = field(default_factory=list)

    @property
    def latex(self) -> str:
        return rf"\operatorname{{Var}}(w) = {tex(self.variance)}"

    def std(self, n_in: int, n_out: int) -> float:
        """The weights' standard deviation for a layer of that fan-in and fan-out."""
        value = self.variance.subs({N_IN: n_in, N_OUT: n_out})
        return float(sympy.sqrt(value))


def solve_for_var_w(
    why: str, lhs: sympy.Expr, rhs: sympy.Expr, lhs_latex: str | None = None
) -> tuple[sympy.Expr, Step]:
    """Var(w) from the condition lhs = rhs, and the step that asks it: `why`, then
    lhs = rhs ⇒ Var(w) = …; `lhs_latex` shows lhs in a form of its own (the average fan)."""
    (solution,) = sympy.solve(sympy.Eq(lhs, rhs), VAR_W)
    shown = tex(lhs) if lhs_latex is None else lhs_latex
    return solution, Step(
        why,
        rf"{shown} = {tex(rhs)} \;\Rightarrow\; \operatorname{{Var}}(w) = {tex(solution)}",
    )


def forward_variance() -> tuple[sympy.Expr, list[Step]]:
    """Var(z) for z = Σ w_i x_i with w, x independent and zero-mean: n_in Var(w) Var(x)."""
    steps: list[Step] = []
    # one term: Var(wx) = E[w²x²] − E[wx]² = E[w²]E[x²] − E[w]²E[x]² by independence
    second_w, second_x = VAR_W + MEAN_W**2, VAR_X + MEAN_X**2
    one = sympy.expand(second_w * second_x - MEAN_W**2 * MEAN_X**2)
    steps.append(
        Step(
            "one term, w and x independent: E[w²x²] = E[w²] E[x²] and E[w²] = Var(w) + E[w]²",
            rf"\operatorname{{Var}}(w x) = {tex(one)}",
        )
    )
    one = one.subs({MEAN_W: 0, MEAN_X: 0})
    steps.append(
        Step("both of mean zero", rf"\operatorname{{Var}}(w x) = {tex(one)}")
    )
    total = sympy.summation(one, (INDEX, 1, N_IN))
    steps.append(
        Step(
            "the n_in terms are independent, so their variances add",
            rf"\operatorname{{Var}}(z) = \sum_{{i=1}}^{{{tex(N_IN)}}} "
            rf"\operatorname{{Var}}(w_i x_i) = {tex(total)}",
        )
    )
    return total, steps


def keep_forward() -> Rule:
    """Var(z) = Var(x): the activations keep their variance layer after layer (LeCun)."""
    total, steps = forward_variance()
    solution, asked = solve_for_var_w(
        "ask that the variance neither grow nor shrink forward: Var(z) = Var(x)", total, VAR_X
    )
    return Rule("forward (LeCun)", solution, [*steps, asked])


def keep_backward() -> Rule:
    """∂L/∂x_i = Σ_j w_ji δ_j over n_out outputs: Var(w) = 1/n_out keeps the gradients' size."""
    one = VAR_W * VAR_D
    total = sympy.summation(one, (INDEX, 1, N_OUT))
    solution, asked = solve_for_var_w(
        "ask that the gradients keep their variance backward", total, VAR_D
    )
    steps = [
        Step(
            "backward, the gradient of an input sums over the n_out units it feeds: "
            "∂L/∂x_i = Σ_j w_ji δ_j, the same argument with n_out",
            rf"\operatorname{{Var}}\Big(\frac{{\partial L}}{{\partial x_i}}\Big) = "
            rf"{tex(total)}",
        ),
        asked,
    ]
    return Rule("backward", solution, steps)


def glorot() -> Rule:
    """Both conditions cannot hold unless n_in = n_out; Glorot asks for their average."""
    forward, backward = keep_forward(), keep_backward()
    average = (1 / forward.variance + 1 / backward.variance) / 2
    solution, asked = solve_for_var_w(
        "both hold only when n_in = n_out; Glorot and Bengio (2010) ask that n Var(w) "
        "equal one for the average fan n = (n_in + n_out)/2",
        average * VAR_W,
        sympy.Integer(1),
        lhs_latex=rf"\frac{{{tex(N_IN)} + {tex(N_OUT)}}}{{2}} \operatorname{{Var}}(w)",
    )
    steps = [*forward.steps, *backward.steps, asked]
    return Rule("Xavier (Glorot)", sympy.simplify(solution), steps)


def relu_second_moment() -> tuple[sympy.Expr, Step]:
    """E[ReLU(z)²] for z ~ N(0, Var(z)), by integrating over the normal density: Var(z)/2."""
    density = sympy.exp(-(Z**2) / (2 * VAR_Z)) / sympy.sqrt(2 * sympy.pi * VAR_Z)
    moment = sympy.simplify(sympy.integrate(Z**2 * density, (Z, 0, sympy.oo)))
    step = Step(
        "ReLU keeps the positive half: for z of mean zero, normal, E[ReLU(z)²] is the integral "
        "of z² over z > 0 (SymPy)",
        rf"\operatorname{{E}}[\operatorname{{ReLU}}(z)^2] = \int_0^\infty z^2 "
        rf"\frac{{e^{{-z^2 / 2 {tex(VAR_Z)}}}}}{{\sqrt{{2\pi {tex(VAR_Z)}}}}}\,dz = {tex(moment)}",
    )
    return moment, step


def he() -> Rule:
    """A ReLU layer halves the second moment, so Var(w) = 2/n_in (He et al. 2015)."""
    moment, moment_step = relu_second_moment()
    # the next layer's pre-activation sums n_in terms w h with E[h²] = E[ReLU(z)²]
    nxt = N_IN * VAR_W * moment
    solution, asked = solve_for_var_w("ask that Var(z') = Var(z)", nxt, VAR_Z)
    steps = [
        moment_step,
        Step(
            "the next pre-activation sums n_in terms w h with E[w] = 0, so its variance is "
            "n_in Var(w) E[h²] (h = ReLU(z) is not zero-mean, but w is)",
            rf"\operatorname{{Var}}(z') = {tex(N_IN)} \operatorname{{Var}}(w) "
            rf"\operatorname{{E}}[h^2] = {tex(nxt)}",
        ),
        asked,
    ]
    return Rule("He (Kaiming)", solution, steps)


def rules() -> list[Rule]:
    """The derived rules, in the order the notes and a lecture take them."""
    return [keep_forward(), keep_backward(), glorot(), he()]


# -- printers ---------------------------------------------------------------------------------


def as_markdown(found: list[Rule]) -> str:
    lines = ["# Weight initialization, derived", ""]
    for rule in found:
        lines += [f"## {rule.name}: ${rule.latex}$", ""]
        for k, step in enumerate(rule.steps, 1):
            lines += [f"{k}. {step.text}:", "", f"   $${step.latex}$$", ""]
    return "\n".join(lines)


def as_latex(found: list[Rule]) -> str:
    """A LaTeX fragment (sections and align* blocks), for \\input into a document."""
    from derive.document.latex import tex_text

    out = [r"\section*{Weight initialization, derived}"]
    for rule in found:
        out.append(rf"\subsection*{{{rule.name}: ${rule.latex}$}}")
        out.append(r"\begin{enumerate}")
        for step in rule.steps:
            out.append(rf"\item {tex_text(step.text)}: \[ {step.latex} \]")
        out.append(r"\end{enumerate}")
    return "\n".join(out) + "\n"


def as_json(found: list[Rule]) -> str:
    return json.dumps(
        [
            {
                "name": r.name,
                "variance": str(r.variance),
                "latex": r.latex,
                "steps": [{"text": s.text, "latex": s.latex} for s in r.steps],
            }
            for r in found
        ],
        indent=2,
        ensure_ascii=False,
    )
