"""`make demo`: the commands it prints run as printed."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from derive import demo
from tests.conftest import ROOT


def test_the_printed_check_commands_run_as_printed_and_give_the_printed_verdict(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # where `make demo` runs
    demo.print_sample_checks()
    lines = capsys.readouterr().out.splitlines()
    commands = [(i, ln) for i, ln in enumerate(lines) if not ln.startswith("  ")]
    assert len(commands) == len(demo.SAMPLE_ANSWERS)
    for (i, command), (wrt, answer) in zip(commands, demo.SAMPLE_ANSWERS, strict=True):
        words = shlex.split(command)
        spec = "examples/seed_example2.toml"
        assert words[1:] == ["check", spec, "--wrt", wrt, "--answer", answer]
        if shutil.which(words[0]) is None:
            pytest.skip(f"{words[0]} is not installed here (make demo installs it)")
        printed_verdict = lines[i + 1].strip()
        proc = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert proc.stdout.splitlines()[0] == printed_verdict, (command, proc.stderr)
        expected_exit = {"verdict: correct": 0, "verdict: incorrect": 1, "verdict: invalid": 2}
        assert proc.returncode == expected_exit[printed_verdict], (command, proc.stderr)
