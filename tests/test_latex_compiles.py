"""Every generated LaTeX document compiles with pdflatex (amsmath, amssymb) and stays inside the
page margins: no overfull line wider than 10 pt, read from pdflatex's log."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES as EXAMPLES_DIR
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


HOSTILE_TEXT = "50% of $x & #y_1 {z} \\input{/etc/hostname} ^^5cinput ~ < > | \" ' ` \\\\ é ⊙"


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed (.ci/run installs it)")
def test_a_title_with_every_special_character_compiles_as_text(tmp_path: Path) -> None:
    import derive

    spec = (EXAMPLES_DIR / "seed_example2.toml").read_text().splitlines()
    spec[0] = f"title = {json.dumps(HOSTILE_TEXT)}"
    spec[1] = f"description = {json.dumps(HOSTILE_TEXT + chr(10) + chr(10) + 'second paragraph')}"
    net = derive.Network.from_toml("\n".join(spec))
    log = compile_latex(tmp_path, net.latex())
    assert "/etc/hostname" not in log  # read as text, never as a file to input
    assert not (tmp_path / "doc.log").read_text(errors="replace").count("(/etc/")


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed (.ci/run installs it)")
def test_the_notes_second_half_compiles_inside_the_margins(tmp_path: Path) -> None:
    seed = EXAMPLES_DIR.parent / "reports" / "seed"
    for figure in ("activations.png", "init_tanh.png", "init_relu.png"):
        shutil.copy(seed / figure, tmp_path / figure)
    log = compile_latex(tmp_path, (seed / "vanishing.tex").read_text())
    wide = [float(pt) for pt, _ in OVERFULL.findall(log) if float(pt) > MARGIN_PT]
    assert not wide, wide
