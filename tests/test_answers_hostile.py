"""Hostile answers: each gets a verdict (mostly `invalid`) within the limit; no hang, no crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import derive
from derive.answers.check import INVALID, check
from tests.conftest import EXAMPLES, run_cli

NET = derive.load(EXAMPLES / "seed_example2.toml")
LIMIT = 3.0  # seconds per check in these tests; the default is 5
NESTED = 10_000

HOSTILE = {
    "one_megabyte": "x" * 1_000_000,
    "ten_thousand_parentheses": "(" * NESTED + "z" + ")" * NESTED,
    "ten_thousand_fracs": r"\frac{1}{" * NESTED + "2" + "}" * NESTED,
    "deep_braces": "{" * NESTED + "z" + "}" * NESTED,
    "huge_power_of_a_sum": r"(\hat{y}+y)^{10000}",
    "power_tower": "10^{10^{10}}",
    "factorial": "1000000!",
    "input_file": r"\input{/etc/passwd}",
    "write18": r"\immediate\write18{touch PWNED}",
    "python_import": "__import__('os').system('touch PWNED')",
    "python_eval": "eval('2*z')",
    "python_lambda": "(lambda: 1)()",
    "python_dunder": "().__class__.__bases__[0].__subclasses__()",
    "null_byte": "2(\\hat{y}-y)z^T\x00",
    "bidi_override": "2(\\hat{y}-y)\u202ez^T",
    "emoji": "2(\\hat{y}-y)z^T 🙂",
    "recursive_macro": r"\def\x{\x}\x",
    "newcommand": r"\newcommand{\z}{z}\z^T",
    "big_bmatrix": r"\begin{bmatrix}"
    + r"\\".join(["&".join(["1"] * 100)] * 100)
    + r"\end{bmatrix}",
    "long_number": "9" * 10_000,
    "float_overflow": "1e999",
    "zero_power_negative": "0^{-1} z^T",
    "division_by_zero": r"\frac{1}{0} z^T",
    "huge_negative_power": r"(\hat{y}-y)^{-1000} z^T",
    "exponent_tower_on_a_name": "z^{z^{z^{z}}}",
    "nested_sqrt": r"\sqrt{" * 500 + "z" + "}" * 500,
    "empty": "",
    "blank": "   \t\n ",
    "dollars_only": "$$",
    "closing_braces_first": "}}}}{{{{",
    "unbalanced_left": r"\left( 2(\hat{y}-y)z^T",
    "backslashes": "\\\\\\\\\\\\",
    "comment_sign": r"2(\hat{y}-y)z^T % trailing",
    "partial_without_name": r"\frac{\partial J}{\partial} = 0",
    "nabla_alone": r"\nabla",
    "indicator_unclosed": r"\mathbb{1}[z > 0",
    "five_thousand_terms": "+".join(["z^T"] * 5000),
    "three_thousand_factors": " ".join(["z"] * 3000),
    "operatorname_unclosed": r"\operatorname{",
    "primes": "'" * 1000,
    "carets": "^^^^",
    "underscores": "_ _ _",
    "deep_sigma": r"\sigma(" * 500 + "z" + ")" * 500,
    "max_unclosed": r"\max(0,",
    "latin1_junk": bytes(range(128, 256)).decode("latin-1"),
    "exp_overflow": r"2(\hat{y}-y)z^T \exp(1000)",
    "log_of_negative": r"2(\hat{y}-y)z^T \log(-1)",
    "huge_layer_index": "W^{(99999999999999999999)}",
    "near_the_length_limit": "+".join(["2(\\hat{y}-y)z^T"] * 1_250),
}


def test_the_suite_has_forty_or_more_inputs() -> None:
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_answer_gets_a_verdict_in_time(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # anything written by accident would land here
    started = time.perf_counter()
    result = check(NET, "W2", HOSTILE[name], timeout=LIMIT)
    elapsed = time.perf_counter() - started
    assert elapsed < LIMIT + 2.0, f"{name} took {elapsed:.1f} s"
    assert result.verdict in ("invalid", "incorrect", "correct")
    if result.verdict == INVALID:
        assert (
            result.diagnosis
            and "\n" not in result.diagnosis
            and "Traceback" not in result.diagnosis
        )
    assert not list(tmp_path.iterdir()), "a file was created"


def test_a_long_valid_answer_is_still_graded() -> None:
    # 1,250 copies of the gradient, just under the 20,000-character limit: a wrong factor (1250)
    result = check(NET, "W2", HOSTILE["near_the_length_limit"], timeout=LIMIT)
    assert result.verdict == "incorrect" and result.mistake == "factor"


@pytest.mark.parametrize(
    "name",
    [
        "one_megabyte",
        "ten_thousand_parentheses",
        "python_import",
        "null_byte",
        "power_tower",
        "latin1_junk",
    ],
)
def test_cli_gives_one_line_and_exit_2(name: str, tmp_path: Path) -> None:
    answer = tmp_path / "answer.tex"
    answer.write_text(HOSTILE[name], encoding="utf-8")
    proc = run_cli(
        "check",
        "examples/seed_example2.toml",
        "--wrt",
        "W2",
        "--answer-file",
        str(answer),
        "--json",
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert '"verdict": "invalid"' in proc.stdout
