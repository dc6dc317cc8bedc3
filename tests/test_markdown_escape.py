"""Text in our markdown shows as typed: rendered by a CommonMark renderer with GitHub's
extensions (tests/markdown_oracle.py), each hostile string is one plain paragraph, cell, item or
heading reading exactly what was typed, and the escaping leaves ordinary prose unescaped."""

from __future__ import annotations

import pytest

from derive.document.escape import md_text
from derive.document.markdown import write_markdown
from derive.document.model import BulletList, Document, Paragraph, Section, Table, Text
from tests.markdown_oracle import elements, render, shows_as_typed, tags_and_text

HOSTILE = [
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "[x](javascript:alert(1))",
    "![p](http://evil.example/p.png)", "<http://evil.example>", "http://evil.example/x",
    "www.evil.example", "mail me: someone@evil.example", "&lt;b&gt; &amp; &#x41;",
    "*em* _em_ **strong** __strong__", "`code` ``code``", "~~gone~~ ~sub~ ^sup^",
    "$x^2$ $$y$$", "\\(x\\) \\[y\\]", "a | b | c", "{#id .class}", ":smile: :+1:",
    "[^1] footnote", "# heading", "## heading ##", "> quote", "- item", "+ item", "* item",
    "1. first", "1) first", "123456789. nine digits", "---", "***", "___", "===", "- [ ] task",
    ": definition", "    indented code", "```fence", "~~~fence", "a\\", "trailing  ",
    "\\*not em\\*", "x_1 + y_2", "<!-- comment -->", "[ref]: http://evil.example",
    "ŷ = W⁽²⁾z", "\u202eevil", "tab\there", "line\nbreak",
]  # fmt: skip


def _typed(text: str) -> str:
    """What a reader should see: the text with white space folded, invisible codes shown."""
    from derive.document.escape import one_line

    return one_line(text).strip()


@pytest.mark.parametrize("text", HOSTILE)
def test_a_paragraph_shows_as_typed(text: str) -> None:
    md = md_text(text, block_start=True)
    assert shows_as_typed(md, _typed(text)), (text, md, render(md))


@pytest.mark.parametrize("text", HOSTILE)
def test_every_part_of_a_document_shows_as_typed(text: str) -> None:
    doc = Document(
        text,
        ((Text(text),),),
        (
            Paragraph((Text(text),)),
            BulletList(((Text(text),),)),
            Table(((Text(text),),), (((Text(text),),),)),
            Section((Text(text),), (Paragraph((Text("after " + text),)),)),
        ),
    )
    md = write_markdown(doc)
    tags, shown = tags_and_text(md)
    allowed = {"h1", "h2", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td"}
    assert set(tags) <= allowed, (text, md)
    assert not any(attrs for _, attrs in elements(md)), (text, md)
    assert shown.count(_typed(text)) >= 6, (text, md, shown)


def test_prose_stays_readable() -> None:
    plain = (
        "Gradients are in denominator layout: each has the shape of its variable. Due "
        "2026-12-15, 6 questions (11 points)."
    )
    assert md_text(plain, block_start=True) == plain
    assert md_text("Question q1 (2 points): ") == "Question q1 (2 points): "


def test_only_the_block_start_escapes_block_marks() -> None:
    assert md_text("- a - b", block_start=True) == "\\- a - b"
    assert md_text("- a - b") == "- a - b"
    assert md_text("2. two", block_start=True) == "2\\. two"
    assert md_text("2. two") == "2. two"
