"""The document writers on their own: one small document with every part, in every format.

Text is escaped by construction (a table of characters and what each writer makes of them); math
comes from the printers; every writer of the registry handles every part.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import derive
from derive import expr as E
from derive.document import WRITERS
from derive.document.latex import tex_code, tex_text
from derive.document.model import (
    Box,
    BulletList,
    Code,
    Document,
    Equation,
    Figure,
    Final,
    Forward,
    Math,
    Paragraph,
    Section,
    Steps,
    Strong,
    Symbol,
    Table,
    Text,
    Where,
    symbol_of,
)
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def doc() -> Document:
    net = derive.load(EXAMPLES / "seed_example2.toml")
    spec, deriv = net.spec, net.derivation
    w2 = E.Var("W2", spec.shape_of("W2"))
    parts = (
        Paragraph((Text("a & b "), Strong("bold"), Code(r"\hat{y}"), Math(spec, w2))),
        Equation(Forward(spec)),
        Table(((Text("name"),), (Text("shape"),)), (((Math(spec, w2),), (Text("m × h"),)),)),
        Figure(spec, "network.svg", (Text("the graph"),)),
        BulletList(((Text("one"),), (Code("x^T"),))),
        Box("A box", (Paragraph((Text("inside"),)),)),
        Section(
            (Text("gradient"),),
            (
                Equation(Steps(deriv, "W2")),
                Equation(Where(deriv, "W2")),
                Equation(Final(deriv, "W2")),
            ),
            level=2,
        ),
    )
    return Document("Title <1>", ((Text("sub"),),), (Section((Text("S"),), parts),), "test")


def test_the_registry_has_the_four_formats() -> None:
    assert sorted(WRITERS) == ["html", "json", "latex", "markdown"]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_every_writer_writes_every_part(doc: Document, fmt: str) -> None:
    text = WRITERS[fmt](doc)
    assert "inside" in text and "one" in text
    if fmt == "json":
        data = json.loads(text)
        assert data["title"] == "Title <1>"
    if fmt == "html":
        root = ET.fromstring(text.replace("<!DOCTYPE html>", ""))
        assert root.find(".//{http://www.w3.org/2000/svg}svg") is not None
        assert "Title &lt;1&gt;" in text
    if fmt == "latex":
        assert "\\begin{picture}" in text and "\\boxed{" in text and "Title \\textless{}" in text
    if fmt == "markdown":
        assert "](network.svg)" in text and "\\boxed{" in text and "Title \\<1\\>" in text


def test_walk_and_figures(doc: Document) -> None:
    kinds = [type(b).__name__ for b in doc.walk()]
    assert kinds.count("Section") == 2 and "Box" in kinds and len(doc.figures()) == 1


# (text, what tex_text makes of it): every character TeX reads as markup is a command printing it
TEX_TEXT = [
    ("50%", r"50\%"),
    ("$x$", r"\$x\$"),
    ("#", r"\#"),
    ("a_b", r"a\_\allowbreak{}b"),
    ("{}", r"\{\allowbreak{}\}\allowbreak{}"),
    ("\\input", r"\textbackslash{}\allowbreak{}input"),
    ("^^5c", r"\^{}\^{}5c"),
    ("~", r"\~{}"),
    ("a\nb\tc\x07d", "a b c d"),
    ("é", r"\'{e}"),
    ("ŷ", r"\^{y}"),
    ("ï", r"\"{\i}"),
    ("σ", r"$\sigma$"),
    ("w₁", r"w\textsubscript{1}"),
    ("x²", r"x\textsuperscript{2}"),
    ("→", r"$\to$"),
    ("😀", "?"),
    ("\u202e", " "),
]


@pytest.mark.parametrize(("text", "tex"), TEX_TEXT)
def test_tex_text(text: str, tex: str) -> None:
    assert tex_text(text) == tex


def test_tex_code_breaks_only_after_brackets_and_separators() -> None:
    assert tex_code(r"W_2 x^{T}") == r"\texttt{W\_2 x\^{}\{T\}\allowbreak{}}"


# a prompt's $…$ span: math when it reads as a name or ∂A/∂B by the spec's name grammar
SYMBOLS = [
    (r"\frac{\partial J}{\partial w_1}", Symbol("J", "w_1")),
    (r"\frac{\partial \mathcal{J}(W)}{\partial W^{(2)}}", Symbol(r"\mathcal{J}(W)", "W^{(2)}")),
    (r" W^{(2)} ", Symbol(None, "W^{(2)}")),
    (r"\input{/etc/passwd}", None),
    (r"\frac{\partial J}{\partial \input{x}}", None),
    (r"x</math><script>", None),
    (r"\def\x{y}", None),
    ("^^5cinput", None),
]


@pytest.mark.parametrize(("typed", "symbol"), SYMBOLS)
def test_symbol_of(typed: str, symbol: Symbol | None) -> None:
    assert symbol_of(typed) == symbol


def test_a_derivation_document_writes_every_format(tmp_path: Path) -> None:
    # gradproof derive's report is a Document: every writer takes it, and a picture without a
    # file (drawn inline by LaTeX and HTML) writes no SVG and no link in markdown
    from derive.document import write_files

    net = derive.load(EXAMPLES / "seed_example2.toml")
    doc = net.document()
    written = write_files(doc, tmp_path, ["latex", "markdown", "html", "json"])
    assert sorted(p.name for p in written) == [
        "derivation.html", "derivation.json", "derivation.md", "derivation.tex",
    ]  # fmt: skip
    assert "![" not in (tmp_path / "derivation.md").read_text()
    assert "\\begin{picture}" in (tmp_path / "derivation.tex").read_text()
    assert "<svg" in (tmp_path / "derivation.html").read_text()
    with_picture = net.document(picture="graph.svg")
    write_files(with_picture, tmp_path / "linked", ["markdown"])
    assert (tmp_path / "linked" / "graph.svg").exists()
    assert "](graph.svg)" in (tmp_path / "linked" / "derivation.md").read_text()
    steps = json.loads((tmp_path / "derivation.json").read_text())
    found = [b for s in steps["blocks"] for g in s.get("blocks", []) for b in g.get("blocks", [g])]
    kinds = {b["type"] for b in found}
    assert {"steps", "where", "forward"} <= kinds
    recorded = [b for b in found if b["type"] in ("steps", "where")]
    assert recorded and all(len(b["data"]) == len(b["rows"]) for b in recorded)
    assert any(b["data"] for b in recorded if b["type"] == "where")
