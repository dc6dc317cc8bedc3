"""Classification networks: softmax, log-softmax and the cross-entropies derive to the textbook
ŷ − y, pass every independent check, generate code that stays finite at logits of ±1000 in
float32, and are graded; and every example prints its gradients as a textbook does."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import derive
from derive.answers.check import grade
from derive.codegen import write_module
from derive.steps import GENERAL, steps
from derive.verify import verify_spec
from numeric import load_network, random_values
from tests.conftest import EXAMPLES

TORCH = importlib.util.find_spec("torch") is not None
CLASSIFIERS = ["softmax_regression", "classifier_two_layer"]


def _module(net: derive.Network, path: Path) -> ModuleType:
    write_module(net.derivation, "spec.toml", path)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_softmax_cross_entropy_derives_to_yhat_minus_y(name: str) -> None:
    net = derive.load(EXAMPLES / f"{name}.toml")
    z = "Z" if name == "classifier_two_layer" else "z"
    hat = r"\hat{Y} - Y" if z == "Z" else r"\hat{y} - y"
    assert net.gradient(z).latex == rf"\frac{{1}}{{B}} ({hat})"
    kinds = [s.kind for s in steps(net.derivation, z)]
    assert GENERAL in kinds  # the softmax Jacobian's general form is shown before Σ y = 1
    assert any("sums to 1" in n for n in net.derivation[z].notes)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_pass_every_column(name: str) -> None:
    report = verify_spec(EXAMPLES / f"{name}.toml", use_torch=TORCH)
    assert report.passed, report.failures()


def test_without_sum_to_one_the_exact_gradient_is_printed(tmp_path: Path) -> None:
    text = (EXAMPLES / "softmax_regression.toml").read_text().replace(', values = "onehot"', "")
    path = tmp_path / "soft.toml"
    path.write_text(text)
    net = derive.load(path)
    printed = net.gradient("z").latex
    assert r"\mathbf{1}_{k}^{T} y" in printed and not net.derivation["z"].notes
    assert verify_spec(path, use_torch=TORCH).passed
    # ŷ − y is then wrong: y's columns need not sum to 1
    assert grade(net.derivation, "z", r"\frac{1}{B}(\hat y - y)").verdict == "incorrect"


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_generated_code_is_stable_at_huge_logits_in_float32(name: str, tmp_path: Path) -> None:
    net = derive.load(EXAMPLES / f"{name}.toml")
    mod = _module(net, tmp_path / f"gen_{name}.py")
    numeric = load_network(EXAMPLES / f"{name}.toml")
    values = random_values(numeric, np.random.default_rng(0))
    big = {k: (v * 1000 if k in ("W", "W2") else v) for k, v in values.items()}  # logits ~ ±1000
    g64 = mod.gradients(**{k: v.astype(np.float64) for k, v in big.items()})
    g32 = mod.gradients(**{k: v.astype(np.float32) for k, v in big.items()})
    reference = load_network(EXAMPLES / f"{name}.toml", dtype=np.float32).backward(
        {k: v.astype(np.float32) for k, v in big.items()}
    )[1]
    for key, value in g32.items():
        assert value.dtype == np.float32 and np.all(np.isfinite(value)), key
        assert np.allclose(value, g64[key], rtol=1e-3, atol=1e-3), key
        assert np.allclose(value, reference[key], rtol=1e-3, atol=1e-3), key


ANSWERS = [
    (r"\frac{1}{B}(\hat y - y)", "correct", ""),
    (r"(\operatorname{softmax}(z) - y)/B", "correct", ""),
    (r"\hat y - y", "incorrect", "factor"),
    (r"\frac{1}{B}(y - \hat y)", "incorrect", "sign"),
    (r"-\frac{1}{B} y \odot (1 - \hat y)", "incorrect", "softmax_jacobian"),
]


@pytest.mark.parametrize(("answer", "verdict", "mistake"), ANSWERS)
def test_softmax_answers_are_graded(answer: str, verdict: str, mistake: str) -> None:
    net = derive.load(EXAMPLES / "softmax_regression.toml")
    r = grade(net.derivation, "z", answer)
    assert (r.verdict, r.mistake or "") == (verdict, mistake), r.diagnosis


def test_missing_one_over_b_is_named_by_the_batch_size() -> None:
    net = derive.load(EXAMPLES / "softmax_regression.toml")
    r = grade(net.derivation, "W", r"(\hat y - y) x^T")
    assert r.mistake == "factor" and r.diagnosis is not None and "B" in r.diagnosis


def test_binary_cross_entropy_with_logits_gives_sigma_minus_y(tmp_path: Path) -> None:
    path = tmp_path / "logits.toml"
    path.write_text(
        '[dims]\nn = 3\nB = 4\n[vars]\nx = { shape = ["n", "B"], role = "input" }\n'
        'y = { shape = [1, "B"], role = "target", range = [0, 1] }\n'
        'w = { shape = ["n", 1], role = "param" }\n[forward]\nz = "w.T @ x"\n'
        'L = "bce_with_logits(z, y) / B"\n'
    )
    net = derive.load(path)
    assert grade(net.derivation, "z", r"\frac{1}{B}(\sigma(z) - y)").verdict == "correct"
    assert grade(net.derivation, "w", r"\frac{1}{B} x (\sigma(w^T x) - y)^T").verdict == "correct"
    assert verify_spec(path, use_torch=TORCH).passed


def test_logistic_regression_prints_x_times_p_minus_y() -> None:
    net = derive.load(EXAMPLES / "logistic_regression.toml")
    assert net.gradient("w").latex == "x (p - y)"
    assert net.gradient("p").latex == r"-\frac{y}{p} + \frac{1 - y}{1 - p}"
    chain = net.derivation["w"].chain_form
    assert chain is not None  # the chain as the chain rule wrote it is still a step
    assert grade(net.derivation, "w", net.gradient("w").latex).verdict == "correct"


# a coefficient 1 or −1 printed as a factor ("1 x", "-1 W"), not 1 − h, 10^{-5} or \frac{1}{B}
UNIT_FACTOR = re.compile(r"(?<![\w{^.])-?1 (?=[A-Za-z\\(])(?!\\cdot)")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_no_printed_gradient_has_a_unit_coefficient(path: Path) -> None:
    net = derive.load(path)
    deriv = net.derivation
    for name in deriv.default_names():
        g = net.gradient(name)
        for line in [g.latex, *g.steps]:
            found = UNIT_FACTOR.search(line)
            assert found is None, (name, line[max(0, found.start() - 30) : found.end() + 30])


def test_the_unit_coefficient_pattern_catches_what_it_must() -> None:
    assert UNIT_FACTOR.search(r"1 o + 1 W_{2}^{T} (h - y)")
    assert UNIT_FACTOR.search(r"-1 x^{T}")
    for fine in (r"(1 - h^{2})", r"10^{-5} x", r"\frac{1}{B} X", r"\mathbf{1}_{B} x", "0.1 W"):
        assert not UNIT_FACTOR.search(fine), fine


def test_an_l1_penalty_adds_lambda_sign() -> None:
    path = Path(__file__).resolve().parent / "networks" / "l1_penalty.toml"
    net = derive.load(path)
    assert net.gradient("W").latex == r"\lambda \operatorname{sign}(W) + 2 (\hat{y} - y) x^{T}"
    assert verify_spec(path, use_torch=TORCH).passed
    assert grade(net.derivation, "W", r"2(\hat y - y)x^T + \lambda\,\mathrm{sgn}(W)").verdict == (
        "correct"
    )
    assert grade(net.derivation, "W", r"2(\hat y - y)x^T + \lambda W").verdict == "incorrect"


def test_logistic_code_uses_the_textbook_form_and_stays_finite_when_saturated(
    tmp_path: Path,
) -> None:
    net = derive.load(EXAMPLES / "logistic_regression.toml")
    mod = _module(net, tmp_path / "gen_logistic.py")
    source = (tmp_path / "gen_logistic.py").read_text()
    body = source[source.index("def gradients") : source.index("def all_gradients")]
    assert "grad_p" not in body  # x (p − y) needs no ∂L/∂p, which is infinite where p = 1
    with np.errstate(all="raise"):
        got = mod.gradients(x=np.full((3, 1), 100.0), y=np.array([[0.3]]),
                            w=np.full((3, 1), 10.0), b=np.array([[0.0]]))  # fmt: skip
    assert np.allclose(got["w"], 70.0) and np.allclose(got["b"], 0.7)
