"""The Python API: load or build a network, derive its gradients, print them; Jupyter-friendly.

`derive.load("examples/seed_example2.toml").gradient("W2").text` is `2*(yhat - y)*z.T`. Networks
and gradients have `_repr_latex_`, so a notebook shows them typeset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import sympy

from derive import report
from derive.chain_rule import Derivation, derive_gradients
from derive.document import latex as rows_latex
from derive.document.model import Document
from derive.elementwise import ElementwiseResult, elementwise_check
from derive.errors import UnknownVariableError
from derive.expr import Expr, Shape
from derive.latex import printer_for
from derive.limits import DEFAULT, Limits, check_expression
from derive.spec import Spec, load_spec, parse_spec, spec_from_dict
from derive.steps import Step
from derive.sympy_form import ascii_form, to_sympy


class GradientResult:
    """∂loss/∂wrt: the matrix expression, its LaTeX, its steps, and SymPy forms."""

    def __init__(self, derivation: Derivation, wrt: str, limits: Limits = DEFAULT) -> None:
        self._d = derivation
        self.wrt = wrt
        self._limits = limits
        self._g = derivation[wrt]

    @property
    def shape(self) -> Shape:
        return self._g.shape

    @property
    def expr(self) -> Expr:
        """The final form: upstream gradients substituted, forward intermediates kept as names."""
        return self._g.final

    @property
    def local(self) -> Expr:
        """The form in terms of the upstream gradients ∂J/∂u (what a backward pass computes)."""
        return self._g.local

    @property
    def latex(self) -> str:
        return rows_latex.final_latex(self._d, self.wrt)

    @property
    def steps(self) -> list[str]:
        """Right-hand sides of ∂J/∂wrt = ... = ..., in LaTeX."""
        return rows_latex.step_lines(self._d, self.wrt)

    @property
    def step_data(self) -> list[Step]:
        """The steps as data (`derive.steps.Step`): kind, partials or expression."""
        return [step for step, _ in rows_latex.rendered_steps(self._d, self.wrt)]

    @property
    def where(self) -> list[str]:
        """The local factors and upstream gradients the steps use, in LaTeX."""
        return rows_latex.where_lines(self._d, self.wrt)

    @property
    def text(self) -> str:
        """SymPy-syntax text with ascii names, e.g. 2*(yhat - y)*z.T."""
        return ascii_form(self._g.final)

    @property
    def sympy(self) -> sympy.Basic:
        """A SymPy matrix expression (MatrixSymbols over symbolic dims)."""
        return to_sympy(self._g.final)

    def expanded(self) -> Expr:
        """The gradient with every forward intermediate replaced by its definition."""
        e = self._d.expanded(self.wrt)
        check_expression(e, f"the expanded gradient with respect to {self.wrt}", self._limits)
        return e

    def expanded_latex(self) -> str:
        return printer_for(self._d.spec).doprint(self.expanded())

    def __repr__(self) -> str:
        return f"<gradient d{self._d.spec.loss}/d{self.wrt} = {self.text}>"

    def _repr_latex_(self) -> str:
        lines = rows_latex.aligned_steps(self._d, self.wrt)
        return "$$\\begin{aligned}" + " \\\\ ".join(lines) + "\\end{aligned}$$"


class NetworkGraph:
    """An SVG picture of a network's computational graph."""

    def __init__(self, svg: str) -> None:
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | Path) -> None:
        from derive.files import write_text_atomic

        write_text_atomic(path, self.svg)


class Network:
    """A validated network and its derivation (computed once, on first use)."""

    def __init__(self, spec: Spec, limits: Limits = DEFAULT) -> None:
        self.spec = spec
        self.limits = limits

    @classmethod
    def from_file(cls, path: str | Path, limits: Limits = DEFAULT) -> Network:
        return cls(load_spec(path, limits), limits)

    @classmethod
    def from_toml(cls, text: str, source: str = "<toml>", limits: Limits = DEFAULT) -> Network:
        return cls(parse_spec(text, source, limits), limits)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "<code>", limits: Limits = DEFAULT
    ) -> Network:
        return cls(spec_from_dict(data, source, limits), limits)

    @cached_property
    def derivation(self) -> Derivation:
        """The reverse pass; TooLargeError if any gradient exceeds the expression limits."""
        deriv = derive_gradients(self.spec)
        for name, g in deriv.gradients.items():
            check_expression(g.final, f"the gradient with respect to {name}", self.limits)
            check_expression(g.local, f"the local form of the gradient of {name}", self.limits)
        return deriv

    @property
    def names(self) -> list[str]:
        """Every name the gradient can be taken with respect to (all but the loss)."""
        return list(self.derivation.gradients)

    def gradient(self, wrt: str) -> GradientResult:
        return GradientResult(self.derivation, wrt, self.limits)

    def gradients(self, wrt: Iterable[str] | None = None) -> dict[str, GradientResult]:
        """Gradients by name: the given ones, or the intermediates and parameters."""
        chosen = self.resolve(wrt)
        return {n: self.gradient(n) for n in chosen}

    def resolve(self, wrt: Iterable[str] | None) -> list[str]:
        if wrt is None:
            return self.derivation.default_names()
        chosen = list(wrt)
        for name in chosen:
            if name not in self.derivation.gradients:
                self.derivation[name]  # raises UnknownVariableError with a hint
                raise UnknownVariableError(f"no variable {name!r}")
        return chosen

    def latex(self, wrt: Sequence[str] | None = None) -> str:
        """A complete LaTeX document (amsmath, amssymb) with every step."""
        return report.to_latex_document(self.derivation, self.resolve(wrt))

    def markdown(self, wrt: Sequence[str] | None = None, picture: str | None = None) -> str:
        """Markdown with $...$ math; `picture` is the path of the graph's SVG, to show it."""
        return report.to_markdown(self.derivation, self.resolve(wrt), picture)

    def html(self, wrt: Sequence[str] | None = None) -> str:
        """One HTML file, math as MathML and the graph inline (no script, works offline)."""
        return report.to_html(self.derivation, self.resolve(wrt))

    def json(self, wrt: Sequence[str] | None = None) -> str:
        """The derivation as data: per gradient its forms, steps and where-lines."""
        return report.to_json(self.derivation, self.resolve(wrt))

    def document(self, wrt: Sequence[str] | None = None, picture: str = "") -> Document:
        """The derivation as a document (`derive.document`): any writer of `WRITERS` writes
        it, and a notebook shows it as HTML."""
        return report.document(self.derivation, self.resolve(wrt), picture)

    def graph(self) -> NetworkGraph:
        """The computational graph as a picture (SVG; displays in Jupyter)."""
        from derive.graph_svg import network_svg

        return NetworkGraph(network_svg(self.spec))

    def check_elementwise(
        self, wrt: Sequence[str] | None = None, dims: Mapping[str, int] | None = None
    ) -> list[ElementwiseResult]:
        """Compare each gradient with entry-by-entry `sympy.diff` at small concrete dims."""
        return elementwise_check(self.derivation, self.resolve(wrt), dims=dims)

    def __repr__(self) -> str:
        return f"<network {self.spec.title!r}: loss {self.spec.loss}, params {self.spec.params}>"

    def _repr_latex_(self) -> str:
        return (
            "$$\\begin{aligned}"
            + " \\\\ ".join(rows_latex.equations_latex(self.spec))
            + ("\\end{aligned}$$")
        )


def load(path: str | Path, limits: Limits = DEFAULT) -> Network:
    """Load and validate a spec file within the size `limits` (time, memory: `run_bounded`)."""
    return Network.from_file(path, limits)


def network(data: Mapping[str, Any]) -> Network:
    """Build a network in code from the same structure as a spec file's TOML."""
    return Network.from_dict(data)
