"""Answer keys and sheets (`gradproof key`, `gradproof sheet`, `derive.assignment.key/sheet`).

The seed assignment's key and sheet, and a key of every network the tests know: the LaTeX
compiles inside the margins, the HTML is well-formed XML with its math in MathML, every boxed
answer is read back as `correct` by the project's own check, the sheet holds no gradient, the
"how to type" box promises only what the reader reads, and hostile assignment text comes out as
text in every format.
"""

from __future__ import annotations

import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import derive
from derive.answers.check import CORRECT, grade
from derive.answers.reader import Reader
from derive.assignment import load, publish_key, publish_sheet
from derive.assignment.documents import build_sheet, build_spec_key
from derive.assignment.evidence import Evidence, EvidenceCache
from derive.assignment.typing_help import example_answer, notations
from derive.document import WRITERS
from derive.document.latex import final_latex
from derive.document.model import Document, Final, Steps, Where
from derive.mathml import MathmlPrinter
from tests.conftest import EXAMPLES, ROOT, run_cli
from tests.networks import network_files
from tests.test_latex_compiles import MARGIN_PT, OVERFULL, PDFLATEX, compile_latex

HW = EXAMPLES / "hw_seed" / "assignment.toml"
XHTML = "{http://www.w3.org/1999/xhtml}"
MATHML = "{http://www.w3.org/1998/Math/MathML}"
needs_tex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex is not installed (.ci/run installs it)"
)


def no_evidence(spec: Path, name: str) -> Evidence:
    return Evidence((), (), ("not run in this test",), None)


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed")
    publish_key(HW, out, pdf=False, use_torch=False)
    publish_sheet(HW, out, pdf=False)
    return out


@pytest.fixture(scope="module")
def every_network() -> Document:
    """A key of every gradient of every example and test network (no evidence: it is slow)."""
    return build_spec_key(network_files(), no_evidence)


def finals(doc: Document) -> list[Final]:
    return [b.content for b in doc.walk() if hasattr(b, "content") and isinstance(b.content, Final)]


def wide_lines(log: str, text: str) -> list[tuple[float, str]]:
    lines = text.splitlines()
    return [(float(pt), lines[int(at) - 1][:100]) for pt, at in OVERFULL.findall(log)
            if float(pt) > MARGIN_PT]  # fmt: skip


# -- the files ------------------------------------------------------------------------------


def test_key_and_sheet_write_every_format(seed: Path) -> None:
    for stem in ("answer-key", "sheet"):
        for suffix in (".tex", ".md", ".html"):
            assert (seed / f"{stem}{suffix}").stat().st_size > 1000
    md = (seed / "answer-key.md").read_text()
    for picture in ("network-seed_example1.svg", "network-seed_example2.svg"):
        assert f"]({picture})" in md
        ET.parse(seed / picture)  # the linked picture is there and is SVG
    assert "\\boxed{" in md and "Evidence" in md


@needs_tex
@pytest.mark.parametrize("stem", ["answer-key", "sheet"])
def test_seed_latex_compiles_inside_the_margins(seed: Path, tmp_path: Path, stem: str) -> None:
    text = (seed / f"{stem}.tex").read_text()
    log = compile_latex(tmp_path, text)
    assert not wide_lines(log, text)
    assert "\\begin{picture}" in text  # the network is drawn in the PDF too


@needs_tex
def test_a_key_of_every_network_compiles_inside_the_margins(
    every_network: Document, tmp_path: Path
) -> None:
    text = WRITERS["latex"](every_network)
    log = compile_latex(tmp_path, text)
    assert not wide_lines(log, text)


def _xml(text: str) -> ET.Element:
    return ET.fromstring(text.replace("<!DOCTYPE html>", "", 1))


def _check_html(text: str) -> ET.Element:
    root = _xml(text)  # well-formed, or this raises
    assert root.tag == f"{XHTML}html"
    assert not list(root.iter(f"{XHTML}script"))  # no script needed, none there
    assert "http" not in "".join(e.get("src", "") + e.get("href", "") for e in root.iter())
    maths = list(root.iter(f"{MATHML}math"))
    assert maths
    # LaTeX appears only where it is shown as typed (code); every formula is MathML
    for element in root.iter():
        if element.tag in (f"{XHTML}code", f"{XHTML}style") or element.tag.startswith(MATHML):
            continue
        for piece in (element.text, element.tail):
            assert not re.search(r"\\(frac|partial|hat|odot|begin)", piece or ""), piece
    return root


def test_html_is_well_formed_with_math_in_mathml(seed: Path, every_network: Document) -> None:
    for stem in ("answer-key", "sheet"):
        _check_html((seed / f"{stem}.html").read_text())
    root = _check_html(WRITERS["html"](every_network))
    assert len(list(root.iter("{http://www.w3.org/2000/svg}svg"))) == len(network_files())


def test_json_writer(seed: Path) -> None:
    data = json.loads(WRITERS["json"](derive.assignment.key(HW, use_torch=False)))
    assert data["kind"] == "answer-key"
    kinds = {b["type"] for s in data["blocks"] if s["type"] == "section" for b in s["blocks"]}
    assert {"forward", "steps", "where", "final", "table", "figure"} <= kinds


# -- what the documents say -----------------------------------------------------------------


def test_every_boxed_answer_is_read_back_as_correct(every_network: Document) -> None:
    hw_key = derive.assignment.key(HW, use_torch=False)
    answers = finals(every_network) + finals(hw_key)
    assert len(finals(hw_key)) == len(load(HW).questions)
    failures = []
    for f in answers:
        printed = final_latex(f.deriv, f.name)
        result = grade(f.deriv, f.name, printed)
        if result.verdict != CORRECT:
            failures.append((f.deriv.spec.source, f.name, printed, result.diagnosis))
    assert not failures, failures


def test_the_key_has_one_line_of_evidence_per_gradient(seed: Path) -> None:
    md = (seed / "answer-key.md").read_text()
    lines = [re.sub(r"\\(.)", r"\1", ln) for ln in md.splitlines() if ln.startswith("**Evidence")]
    assert len(lines) == len(load(HW).questions)
    for line in lines:
        assert "sympy" in line and "numeric/ backprop" in line and "finite differences" in line
        assert "largest relative error" in line and "DISAGREE" not in line


def test_evidence_names_a_check_that_could_not_run_and_never_one_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = EXAMPLES / "seed_example1.toml"
    monkeypatch.setitem(sys.modules, "torch", None)  # torch not installed
    asked = EvidenceCache(use_torch=True)(spec, "w1")
    assert asked.passed and "torch" not in " ".join(asked.agreed)
    assert asked.line().endswith("; not run: torch autograd (torch not installed).")
    left_out = EvidenceCache(use_torch=False)(spec, "w1")
    assert left_out.agreed == asked.agreed and not left_out.skipped
    assert "torch" not in left_out.line() and "not run" not in left_out.line()


def test_the_sheet_holds_no_gradient_and_no_step(seed: Path) -> None:
    hw = load(HW)
    doc = build_sheet(hw)
    assert not [
        b for b in doc.walk() if isinstance(getattr(b, "content", None), (Steps, Where, Final))
    ]
    tex, md, html = ((seed / f"sheet{s}").read_text() for s in (".tex", ".md", ".html"))
    for q in hw.questions:
        deriv = q.network.derivation
        latex = final_latex(deriv, q.wrt)
        mathml = MathmlPrinter.for_spec(deriv.spec).doprint(deriv[q.wrt].final)
        assert latex not in tex and latex not in md, (q.id, latex)
        assert mathml not in html, q.id
    for text in (tex, md, html):
        assert "boxed" not in text and "Evidence" not in text
    assert "Due 2026-12-15" in html and "How to type your answer" in html


def test_the_typing_box_lists_only_what_the_reader_reads() -> None:
    nets = [derive.load(p) for p in network_files()]
    by_spec = {id(n.spec): n for n in nets}
    items = notations([n.spec for n in nets])
    assert len(items) > len(nets)
    for item in items:
        reader = Reader(by_spec[id(item.spec)].derivation)
        for example in item.examples:
            reader.read(example_answer(example, item.spec))  # raises AnswerError if not read


# -- hostile text and bad input -------------------------------------------------------------

HOSTILE = r"50% \input{/etc/hostname} {z} <script>alert(1)</script> & #x_1 ~ ^^5c |`'\"\\"


def _hostile_assignment(folder: Path) -> Path:
    for name in ("seed_example1.toml", "seed_example2.toml"):
        (folder / name).write_text((EXAMPLES / name).read_text())
    hostile = json.dumps(HOSTILE)
    prompt = json.dumps(r"Derive $\input{/etc/passwd}</math><script>x</script>$ & " + HOSTILE)
    path = folder / "hostile.toml"
    path.write_text(
        f"title = {hostile}\ncourse = {hostile}\ndue = 2026-12-15\n"
        f'[[question]]\nid = "q-1_a.b"\nspec = "seed_example1.toml"\nwrt = "w1"\npoints = 1\n'
        f"prompt = {prompt}\n"
        f'[[question]]\nid = "q2"\nspec = "seed_example2.toml"\nwrt = "W2"\npoints = 1\n'
    )
    return path


def test_hostile_text_comes_out_as_text_in_every_format(tmp_path: Path) -> None:
    path = _hostile_assignment(tmp_path)
    out = tmp_path / "out"
    publish_key(path, out, pdf=False, use_torch=False)
    publish_sheet(path, out, pdf=False)
    for stem in ("answer-key", "sheet"):
        html = (out / f"{stem}.html").read_text()
        root = _check_html(html)
        assert not list(root.iter(f"{XHTML}script"))
        assert "<script>alert(1)</script>" in "".join(root.itertext())  # shown, as text
        md = (out / f"{stem}.md").read_text()
        outside_code = re.sub(r"(?<!\\)(`+).*?\1", "", md)  # code spans show text, no markup
        assert not re.search(r"(?<!\\)<", outside_code) and "\\<script\\>" in md
        tex = (out / f"{stem}.tex").read_text()
        shown = tex.replace("\\allowbreak{}", "")
        assert "\\input{" not in tex and "\\textbackslash{}input\\{/etc/hostname\\}" in shown
        if PDFLATEX is not None:
            (tmp_path / stem).mkdir()
            log = compile_latex(tmp_path / stem, tex)
            assert "(/etc/" not in log  # printed as text, never opened as a file to input
            assert not wide_lines(log, tex)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t.replace('wrt = "w1"', 'wrt = "w9"'), "wrt"),
        (lambda t: t.replace('id = "q2"', 'id = "q1"'), "id"),
        (lambda t: t.replace("points = 2", "points = -2", 1), "points"),
        (lambda t: t.replace('title = "', 'title = "a\\u0007', 1), "title"),
        (lambda t: t.replace("../seed_example1.toml", "missing.toml", 1), "spec"),
    ],
)
@pytest.mark.parametrize("command", ["key", "sheet"])
def test_a_bad_assignment_is_one_line_and_exit_2(
    tmp_path: Path, change: object, field: str, command: str
) -> None:
    folder = tmp_path / "hw"
    folder.mkdir()
    text = change(HW.read_text())  # type: ignore[operator]
    path = folder / "assignment.toml"
    path.write_text(text.replace("../", str(EXAMPLES) + "/"))
    proc = run_cli(command, str(path), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{field}:" in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_an_output_folder_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    proc = run_cli("sheet", str(HW), "-o", str(tmp_path / "taken"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot make the output folder" in proc.stderr


@pytest.mark.parametrize(
    ("options", "limit"),
    [
        (["--limit", "output-bytes=1000"], "output-bytes="),
        (["--time-limit", "0.5"], "--time-limit"),
    ],
)
def test_key_and_sheet_are_bounded(tmp_path: Path, options: list[str], limit: str) -> None:
    for command in ("key", "sheet"):
        proc = run_cli(*options, command, str(HW), "-o", str(tmp_path / command))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "too large" in proc.stderr and limit in proc.stderr


def test_without_tex_the_command_says_so_in_one_line(tmp_path: Path) -> None:
    import subprocess

    env = dict(os.environ, PATH=str(tmp_path / "empty"))
    proc = subprocess.run(
        [sys.executable, "-m", "derive.cli", "sheet", str(HW), "-o", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "no PDF: neither latexmk nor pdflatex is on PATH" in proc.stdout
    assert not (tmp_path / "o" / "sheet.pdf").exists()


@needs_tex
def test_the_key_command_writes_a_pdf_of_spec_files(tmp_path: Path) -> None:
    specs = [str(EXAMPLES / "seed_example2.toml"), str(EXAMPLES / "sigmoid_layer.toml")]
    proc = run_cli("key", *specs, "-o", str(tmp_path), "--no-torch", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "answer-key.pdf" in proc.stdout
    assert (tmp_path / "answer-key.pdf").read_bytes().startswith(b"%PDF")
    md = (tmp_path / "answer-key.md").read_text()
    assert md.count("**Evidence") == len(derive.load(specs[0]).resolve(None)) + len(
        derive.load(specs[1]).resolve(None)
    )


def test_the_committed_seed_key_and_sheet_are_current(seed: Path) -> None:
    # reports/seed/ is written by `make demo`; a stale committed copy is a bug. The evidence
    # lines hold errors measured on the machine that wrote them, so they are left out.
    committed = ROOT / "reports" / "seed"
    for name in ("sheet.md", "sheet.tex", "sheet.html", "answer-key.md", "answer-key.tex"):
        fresh, kept = ((d / name).read_text().splitlines() for d in (seed, committed))
        strip = [ln for ln in fresh if "Evidence" not in ln]
        assert strip == [ln for ln in kept if "Evidence" not in ln], name


def test_documents_show_in_jupyter() -> None:
    doc = derive.assignment.sheet(HW)
    assert doc._repr_html_().startswith('<div class="gradproof-document"><style>')
    assert "\nbody {" not in doc._repr_html_() and ".gradproof-document table" in doc._repr_html_()
    _xml(doc._repr_html_())
    assert doc._repr_markdown_().startswith("# Homework 1")
