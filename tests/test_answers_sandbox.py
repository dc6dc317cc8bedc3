"""The check's bounds: a deadline enforced by killing the worker, a memory limit, bugs reported."""

from __future__ import annotations

import time

import numpy as np
import pytest

import derive
from derive.answers import check as check_module
from derive.answers.check import CORRECT, INVALID, check
from tests.conftest import EXAMPLES, run_cli

NET = derive.load(EXAMPLES / "seed_example2.toml")


def test_a_check_past_its_deadline_is_killed_and_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    def forever(*args: object, **kwargs: object) -> None:
        while True:
            time.sleep(0.05)

    monkeypatch.setattr(check_module, "grade", forever)
    started = time.perf_counter()
    result = check(NET, "W2", r"2(\hat{y}-y)z^T", timeout=1.0)
    assert time.perf_counter() - started < 3.0
    assert result.verdict == INVALID and result.method == "timeout"
    assert "did not finish within 1 s" in (result.diagnosis or "")


def test_a_check_that_needs_too_much_memory_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    def greedy(*args: object, **kwargs: object) -> None:
        np.ones((check_module.MEMORY_LIMIT // 8) * 2)

    monkeypatch.setattr(check_module, "grade", greedy)
    result = check(NET, "W2", "z", timeout=5.0)
    assert result.verdict == INVALID and result.method == "memory"


def test_a_bug_is_reported_as_ours_not_as_a_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(check_module, "grade", broken)
    result = check(NET, "W2", "z", timeout=5.0)
    assert result.verdict == "error" and "please report" in (result.diagnosis or "")


def test_same_verdict_in_process_and_in_the_sandbox() -> None:
    inside = check(NET, "W1", r"2 W^{(2)T}(\hat{y}-y)x^T", timeout=None)
    sandboxed = check(NET, "W1", r"2 W^{(2)T}(\hat{y}-y)x^T", timeout=5.0)
    assert inside.verdict == sandboxed.verdict == CORRECT
    assert inside.parsed == sandboxed.parsed


def test_cli_exit_codes_and_json() -> None:
    ok = run_cli(
        "check", "examples/seed_example2.toml", "--wrt", "W2", "--answer", r"2(\hat{y}-y)z^T"
    )
    assert ok.returncode == 0 and "verdict: correct" in ok.stdout
    wrong = run_cli(
        "check",
        "examples/seed_example2.toml",
        "--wrt",
        "W2",
        "--answer",
        r"-2(\hat{y}-y)z^T",
        "--json",
    )
    assert wrong.returncode == 1
    assert '"mistake": "sign"' in wrong.stdout and '"counterexample": {' in wrong.stdout
    bad = run_cli("check", "examples/seed_example2.toml", "--wrt", "W9", "--answer", "z")
    assert bad.returncode == 2 and "did you mean" in bad.stderr
