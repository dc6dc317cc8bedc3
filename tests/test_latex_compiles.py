"""Every generated LaTeX document compiles with pdflatex (amsmath, amssymb)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import derive
from tests.conftest import EXAMPLES

PDFLATEX = shutil.which("pdflatex")


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed (.ci/run installs it)")
@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_latex_document_compiles(tmp_path: Path, name: str) -> None:
    net = derive.load(EXAMPLES / name)
    tex = tmp_path / "doc.tex"
    tex.write_text(net.latex(net.names))  # every name: inputs and targets too
    assert PDFLATEX is not None
    proc = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [line for line in proc.stdout.splitlines() if line.startswith("!")]
    assert proc.returncode == 0, errors
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
