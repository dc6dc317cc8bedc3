"""Generated NumPy code: importable, readable, keeps the dtype, proved by `gradproof verify`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import derive
import numeric
from derive import expr as E
from derive import rules
from derive.codegen import write_module
from derive.verify import load_generated, verify_spec
from tests.conftest import EXAMPLES, ROOT, run_cli
from tests.test_elementwise import EXTRA

ALL_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.toml"))


def generated(tmp_path: Path, name: str) -> tuple[derive.Network, object]:
    net = derive.load(EXAMPLES / name)
    target = tmp_path / f"{Path(name).stem}_grads.py"
    write_module(net.derivation, f"examples/{name}", target)
    return net, load_generated(target)


def test_seed_example2_module_is_the_golden_file(tmp_path: Path) -> None:
    net = derive.load(EXAMPLES / "seed_example2.toml")
    target = tmp_path / "seed2_grads.py"
    write_module(net.derivation, "examples/seed_example2.toml", target)
    golden = ROOT / "tests" / "golden" / "seed2_grads.py"
    text = target.read_text().replace(str(target), "seed2_grads.py")
    assert text == golden.read_text()


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_generated_matches_numeric_backprop(tmp_path: Path, name: str) -> None:
    _, module = generated(tmp_path, name)
    nnet = numeric.load_network(EXAMPLES / name)
    values = numeric.random_values(nnet, np.random.default_rng(3))
    _, expected = nnet.backward(values)
    got = module.all_gradients(**values)  # type: ignore[attr-defined]
    for key, value in got.items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-9, atol=1e-12, err_msg=key)
    fwd = module.forward(**values)  # type: ignore[attr-defined]
    assert float(fwd[nnet.loss][0, 0]) == pytest.approx(nnet.loss_value(values), rel=1e-12)


def test_float32_in_float32_out(tmp_path: Path) -> None:
    _, module = generated(tmp_path, "two_sigmoid_layers.toml")
    nnet = numeric.load_network(EXAMPLES / "two_sigmoid_layers.toml", dtype=np.float32)
    values = numeric.random_values(nnet, np.random.default_rng(0))
    grads = module.gradients(**values)  # type: ignore[attr-defined]
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_a_1d_array_is_refused_on_entry_with_its_name_and_both_shapes(
    tmp_path: Path, name: str
) -> None:
    # a 1-D vector would otherwise broadcast (x of shape (n,) against b of shape (h, 1)) into a
    # raw NumPy error deep inside, or worse into a wrong shape without one
    net, module = generated(tmp_path, name)
    nnet = numeric.load_network(EXAMPLES / name)
    values = numeric.random_values(nnet, np.random.default_rng(0))
    for var in net.spec.variables.values():
        declared = "(" + ", ".join(map(str, var.shape)) + ")"
        flat = values[var.name].ravel()
        for entry in ("forward", "gradients", "all_gradients"):
            with pytest.raises(ValueError) as caught:
                getattr(module, entry)(**{**values, var.name: flat})
            said = str(caught.value)
            assert said.startswith(f"{var.name}: expected an array of shape {declared}"), said
            assert f"got {flat.shape}" in said, said
            if any(isinstance(d, str) for d in var.shape):
                assert f"= {values[var.name].shape}" in said, said  # the sizes, from the others


def test_the_shape_check_says_which_dim_disagrees_and_where_it_was_read(tmp_path: Path) -> None:
    _, module = generated(tmp_path, "seed_example2.toml")
    rng = np.random.default_rng(0)
    shapes = {"x": (3, 1), "y": (2, 1), "W1": (4, 3), "b1": (4, 1), "W2": (2, 4), "b2": (2, 1)}
    values = {k: rng.standard_normal(v) for k, v in shapes.items()}
    with pytest.raises(ValueError) as caught:
        module.gradients(**{**values, "W2": rng.standard_normal((2, 5))})  # type: ignore[attr-defined]
    assert str(caught.value) == (
        "W2: expected an array of shape (m, h) = (2, 4), got (2, 5); m = 2 as in y; h = 4 as in W1"
    )
    with pytest.raises(ValueError, match=r"^x: .* got \(3,\); n = 3 as in W1; pass a 1-D array a "
                       r"as x=a\.reshape\(-1, 1\)$"):  # fmt: skip
        module.gradients(**{**values, "x": values["x"].ravel()})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"^b2: expected an array of shape \(m, 1\) = \(2, 1\), "
                       r"got \(2, 1, 1\)"):  # fmt: skip
        module.gradients(**{**values, "b2": values["b2"][..., None]})  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match=r"^x: expected a 2-D NumPy array of shape \(n, 1\) = "
                       r"\(3, 1\), got list$"):  # fmt: skip
        module.gradients(**{**values, "x": [1.0, 2.0, 3.0]})  # type: ignore[attr-defined]
    # the sizes are the arrays' own, not the spec's numbers: any consistent sizes pass
    bigger = {"x": (7, 1), "y": (5, 1), "W1": (6, 7), "b1": (6, 1), "W2": (5, 6), "b2": (5, 1)}
    grads = module.gradients(**{k: rng.standard_normal(v) for k, v in bigger.items()})  # type: ignore[attr-defined]
    assert {k: g.shape for k, g in grads.items()} == {k: bigger[k] for k in grads}


def test_sigmoid_does_not_overflow(tmp_path: Path) -> None:
    _, module = generated(tmp_path, "sigmoid_layer.toml")
    nnet = numeric.load_network(EXAMPLES / "sigmoid_layer.toml")
    values = numeric.random_values(nnet, np.random.default_rng(0))
    values["b"] = np.array([[1000.0], [-1000.0]])
    with np.errstate(all="raise"):
        grads = module.gradients(**values)  # type: ignore[attr-defined]
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_verify_passes_every_example(name: str) -> None:
    report = verify_spec(EXAMPLES / name, use_torch=False)
    assert report.passed, report.failures()
    assert report.rows


def test_a_planted_wrong_rule_is_caught_with_its_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    # the activation rule forgets the activation's derivative (sigma' dropped)
    def wrong(node: E.Expr, G: E.Expr, ctx: rules.RuleContext) -> rules.Contribution:
        return [(node.children[0], G)]

    monkeypatch.setattr(rules.RULES, "_back_Apply", wrong)
    report = verify_spec(EXAMPLES / "sigmoid_layer.toml", use_torch=False)
    assert not report.passed
    row = {r.wrt: r for r in report.rows}["W"]
    assert row.cells["symbolic"].failed
    assert row.cells["gen_vs_numeric"].failed
    assert row.cells["gen_vs_fd"].failed


def test_verify_cli_json_and_exit_code() -> None:
    proc = run_cli("verify", "examples/seed_example2.toml", "--json", "--no-torch")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data[0]["passed"] and not data[0]["failures"]
    assert {r["wrt"] for r in data[0]["rows"]} == {"yhat", "W2", "b2", "z", "W1", "b1"}


def test_codegen_cli_writes_an_importable_module(tmp_path: Path) -> None:
    out = tmp_path / "mlp10_grads.py"
    proc = run_cli("codegen", "examples/mlp10.toml", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    module = load_generated(out)
    assert "W1" in module.WRT
    assert "Generated by gradproof" in out.read_text()


TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.skipif(not TORCH, reason="torch is optional; .ci/run installs torch==2.13.0")
@pytest.mark.parametrize("name", ["relu_residual.toml", "batch_norm.toml", "leaky_relu.toml"])
def test_torch_autograd_agrees(name: str) -> None:
    report = verify_spec(EXAMPLES / name, use_torch=True)
    cells = [row.cells["gen_vs_torch"] for row in report.rows]
    assert all(c.status == "pass" for c in cells), [c.text() for c in cells]


@pytest.mark.parametrize("name", sorted(EXTRA))
def test_verify_passes_the_extra_test_networks(name: str, tmp_path: Path) -> None:
    spec = tmp_path / f"{name}.toml"
    spec.write_text(EXTRA[name])
    report = verify_spec(spec, use_torch=TORCH)
    assert report.passed, report.failures()


def test_dead_code_and_frees_come_from_the_statements_not_their_text() -> None:
    from derive.codegen import Stmt, _drop_unused, _with_frees

    def st(target: str, value: str, *reads: str, op: str = "=") -> Stmt:
        return Stmt((target,), op, value, frozenset(reads))

    # `T` is a spec name here, and `.T` in a value is a transpose, not a read of it
    body = [st("T", "x * 2.0", "x"), st("a", "W.T @ x", "W", "x"), st("g", "a.T", "a")]
    kept = _drop_unused(body, ["T"])
    assert [s.targets for s in kept] == [("a",), ("g",)]
    # an update reads its target; a statement that only assigns a name does not keep it alive
    body = [st("a", "x.copy()", "x"), st("a", "2.0", "a", op="*="), st("g", "x", "x")]
    assert [s.text for s in _drop_unused(body, ["a"])] == ["g = x"]
    lines = _with_frees([st("a", "W @ x", "W", "x"), st("g", "a.T", "a")], keep={"g", "W", "x"})
    assert lines == ["a = W @ x", "g = a.T", "del a"]


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_verify_passes_every_example_in_float32(name: str) -> None:
    report = verify_spec(EXAMPLES / name, use_torch=False, dtype="float32")
    assert report.passed, report.failures()


def test_float32_mode_refuses_a_result_computed_in_float64() -> None:
    from derive.verify import _compare_single

    reference = np.ones((2, 2))
    assert _compare_single(reference.astype(np.float32), reference).status == "pass"
    assert _compare_single(reference, reference).failed  # upcast to float64: not float32 code
    assert _compare_single((reference * 1.001).astype(np.float32), reference).failed
