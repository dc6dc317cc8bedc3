"""The steps are data (`derive.steps`): every printer renders the same records, and the JSON
output carries them with their LaTeX alongside."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

import derive
from derive import mathml as M
from derive.document.latex import step_lines, where_lines
from derive.report import to_json
from derive.steps import CHAIN, CHAIN_FORM, EDGES, FINAL, GENERAL, LOCAL, steps

EXAMPLES = sorted(Path(__file__).resolve().parents[1].glob("examples/*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_format_renders_the_same_steps(path: Path) -> None:
    net = derive.load(path)
    deriv = net.derivation
    names = deriv.default_names()
    data = json.loads(to_json(deriv, names))
    for g in data["gradients"]:
        name = g["wrt"]
        kinds = [s["kind"] for s in g["step_data"]]
        assert kinds[-1] == FINAL
        assert set(kinds) <= {CHAIN, EDGES, GENERAL, LOCAL, CHAIN_FORM, FINAL}
        assert len(g["step_data"]) == len(g["steps"]) and g["steps"] == step_lines(deriv, name)
        assert len(g["where_data"]) == len(g["where"]) and g["where"] == where_lines(deriv, name)
        assert len(M.step_rows(deriv, name)) == len(g["steps"])
        assert len(M.where_rows(deriv, name)) == len(g["where"])
        known = {*deriv.spec.names(), deriv.spec.loss}
        for s in g["step_data"]:
            for product in s.get("products", []):
                assert all(p["of"] in known and p["wrt"] in known for p in product)
        assert "sympy" not in g["step_data"][-1]  # the final form is the gradient's "sympy"


def test_the_seed_example_steps_read_as_the_notes_write_them() -> None:
    net = derive.load(Path(__file__).resolve().parents[1] / "examples/seed_example2.toml")
    found = steps(net.derivation, "W1")
    assert [s.kind for s in found] == [CHAIN, EDGES, LOCAL, FINAL]
    chain = found[0].products[0]
    # ∂J/∂ŷ · ∂ŷ/∂z · ∂z/∂h ... down to W1: each link's lower name is the next link's upper
    assert chain[0].upper is None
    assert all(a.lower == b.upper for a, b in itertools.pairwise(chain))
    assert chain[-1].lower == "W1"
    assert net.gradient("W1").step_data == found
