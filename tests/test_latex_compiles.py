"""Every generated LaTeX document compiles with pdflatex (amsmath, amssymb) and stays inside the
page margins: no overfull line wider than 10 pt, read from pdflatex's log."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.networks import load_network, network_ids

PDFLATEX = shutil.which("pdflatex")
OVERFULL = re.compile(r"Overfull \\hbox \(([\d.]+)pt too wide\)[^\n]*lines? (\d+)")
MARGIN_PT = 10.0


def compile_latex(tmp_path: Path, text: str) -> str:
    """Compile a document in tmp_path; pdflatex's log."""
    assert PDFLATEX is not None
    tex = tmp_path / "doc.tex"
    tex.write_text(text)
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
    return (tmp_path / "doc.log").read_text(errors="replace")


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed (.ci/run installs it)")
@pytest.mark.parametrize("name", network_ids())
def test_latex_document_compiles_inside_the_margins(tmp_path: Path, name: str) -> None:
    net = load_network(name)
    text = net.latex(net.names)  # every name: inputs and targets too
    log = compile_latex(tmp_path, text)
    lines = text.splitlines()
    wide = [
        (float(pt), lines[int(at) - 1][:120])
        for pt, at in OVERFULL.findall(log)
        if float(pt) > MARGIN_PT
    ]
    assert not wide, wide
