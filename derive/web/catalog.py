"""The networks a server offers, by id: loaded once at start-up, with what the page shows of each.

Clients name a network by its id (the spec file's stem, made unique), never by a path. Each entry
holds the derivation (inherited by every forked worker, so a check does not load or derive
again), the equations and names as MathML, the graph as SVG, and the hint and derivation of each
gradient, computed on first request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from derive import mathml as M
from derive.api import Network
from derive.chain_rule import Derivation
from derive.document.latex import final_latex
from derive.errors import GradproofError
from derive.graph_svg import network_svg
from derive.limits import DEFAULT, Limits
from derive.spec import fmt_shape

MAX_NETWORKS = 200
_ID_CHARS = re.compile(r"[^a-z0-9_-]+")


def bundled_examples() -> list[Path]:
    """The examples shipped beside the package (a source checkout or an editable install)."""
    folder = Path(__file__).resolve().parents[2] / "examples"
    if not folder.is_dir():
        return []
    # the notes' Example 1 and 2 first, as the notes begin with them
    return sorted(folder.glob("*.toml"), key=lambda p: (not p.stem.startswith("seed_"), p.stem))


@dataclass
class Entry:
    """One network of the catalog."""

    id: str
    network: Network
    path: str
    _hints: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def derivation(self) -> Derivation:
        return self.network.derivation

    @property
    def offered(self) -> list[str]:
        """The gradients the page lists: intermediates and parameters, in backward order."""
        return self.derivation.default_names()

    def knows(self, wrt: str) -> bool:
        return wrt in self.derivation.gradients

    def summary(self) -> dict[str, Any]:
        spec = self.network.spec
        return {"id": self.id, "title": spec.title, "gradients": self.offered}

    @cached_property
    def detail(self) -> dict[str, Any]:
        spec = self.network.spec
        p = M.MathmlPrinter.for_spec(spec)
        names = []
        for name in spec.names():
            names.append(
                {
                    "name": name,
                    "role": spec.role_of(name),
                    "shape": fmt_shape(spec.shape_of(name)),
                    "mathml": M.math(p.name(name), "inline"),
                }
            )
        gradients = [
            {
                "wrt": wrt,
                "shape": fmt_shape(self.derivation[wrt].shape),
                "mathml": M.math(p.name(wrt), "inline"),
                "question": M.math(M.mrow(p.grad(wrt), M.mo("=")), "inline"),
            }
            for wrt in self.offered
        ]
        return {
            "id": self.id,
            "title": spec.title,
            "description": spec.description,
            "dims": dict(spec.dims),
            "layout": "denominator: a gradient has the shape of its variable",
            "equations": M.equations_mathml(spec),
            "names": names,
            "gradients": gradients,
            "graph": f"/api/networks/{self.id}/graph.svg",
        }

    @cached_property
    def graph_svg(self) -> str:
        return network_svg(self.network.spec)

    def hint(self, wrt: str) -> dict[str, Any]:
        """The first step of the chain rule for ∂J/∂wrt, without the answer."""
        hint: dict[str, Any] = self._explained(wrt)["hint"]
        return hint

    def derivation_of(self, wrt: str) -> dict[str, Any]:
        """Every step, the factors they use, and the final form (LaTeX too)."""
        steps: dict[str, Any] = self._explained(wrt)["derivation"]
        return steps

    def _explained(self, wrt: str) -> dict[str, Any]:
        if wrt not in self._hints:
            self._hints[wrt] = self._explain(wrt)
        return self._hints[wrt]

    def _explain(self, wrt: str) -> dict[str, Any]:
        deriv = self.derivation
        spec = deriv.spec
        p = M.MathmlPrinter.for_spec(spec)
        rows = M.step_rows(deriv, wrt)
        lhs = p.grad(wrt)
        steps = [M.math(M.equation(lhs if i == 0 else M.mrow(), row)) for i, row in enumerate(rows)]
        g = deriv[wrt]
        if len(rows) > 1:
            hint = {
                "text": "Start from the chain rule: the gradient flows back through these "
                "factors (work out each, then multiply in the order shown).",
                "mathml": steps[0],
            }
        else:
            consumers = sorted({e.consumer for e in g.edges})
            eqs = [
                M.math(M.equation(p.name(c), p.doprint(spec.equation(c).expr))) for c in consumers
            ]
            hint = {
                "text": "This name appears directly in the equation below: differentiate "
                "that equation with respect to it (the result has the shape of the variable).",
                "mathml": eqs[0] if eqs else steps[0],
            }
        derivation = {
            "steps": steps,
            "where": [M.math(row) for row in M.where_rows(deriv, wrt)],
            "latex": final_latex(deriv, wrt),
            "shape": fmt_shape(g.shape),
        }
        return {"hint": {"wrt": wrt, **hint}, "derivation": {"wrt": wrt, **derivation}}


class Catalog:
    """The networks, by id, in the order given."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = {e.id: e for e in entries}

    def get(self, network_id: str) -> Entry | None:
        return self.entries.get(network_id)

    def __len__(self) -> int:
        return len(self.entries)


def _slug(stem: str) -> str:
    return _ID_CHARS.sub("-", stem.lower()).strip("-")[:60] or "network"


def load_catalog(paths: list[Path], limits: Limits = DEFAULT) -> Catalog:
    """Load and derive each spec (a SpecError or TooLargeError names the file); ids made unique."""
    if not paths:
        raise GradproofError(
            "no networks to serve: give spec files (gradproof serve SPEC.toml ...); the bundled "
            "examples are only found in a source checkout"
        )
    if len(paths) > MAX_NETWORKS:
        raise GradproofError(f"{len(paths)} spec files given; at most {MAX_NETWORKS} are served")
    entries: list[Entry] = []
    taken: set[str] = set()
    for path in paths:
        network = Network.from_file(path, limits)
        _ = network.derivation  # derive now: a spec that cannot be derived fails at start-up
        base = _slug(path.stem)
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}-{n}", n + 1
        taken.add(ident)
        entries.append(Entry(ident, network, str(path)))
    return Catalog(entries)
