"""`make demo`: the commands it prints run as printed, and what it rewrites of the committed
reports/seed/ comes out as committed whether torch is installed or not."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from derive import cli, demo
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


def demo_commands(program: str) -> list[list[str]]:
    """The arguments of each `$(BIN)/<program>` line of the Makefile's `demo` recipe."""
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    return [shlex.split(line)[1:] for line in recipe.splitlines()
            if line.startswith(f"\t$(BIN)/{program} ")]  # fmt: skip


def _measured(text: str) -> str:
    # the largest error is measured on the machine that wrote the file (BLAS may move a digit)
    return re.sub(r"(largest relative error )[0-9.e+\\-]+", r"\1#", text)


@pytest.mark.parametrize("torch", ["absent", "installed"])
def test_make_demo_rewrites_the_committed_key_as_it_is_with_or_without_torch(
    torch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if torch == "absent":
        monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    elif importlib.util.find_spec("torch") is None:
        pytest.skip("torch is optional; .ci/run installs torch==2.13.0")
    monkeypatch.chdir(ROOT)
    (args,) = [a for a in demo_commands("gradproof") if a[0] == "key"]
    assert args[args.index("-o") + 1] == "reports/seed/"
    args[args.index("-o") + 1] = str(tmp_path)
    # in this process (its fork inherits the missing torch); the PDF is the .tex compiled
    assert cli.main([*args, "--no-pdf"]) == 0, capsys.readouterr().err
    for name in ("answer-key.md", "answer-key.tex", "answer-key.html"):
        fresh = (tmp_path / name).read_text()
        assert _measured(fresh) == _measured((ROOT / "reports" / "seed" / name).read_text()), name
        assert "torch" not in fresh, name  # never claimed, and nothing said that varies
