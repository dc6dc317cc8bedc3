"""Text into markdown and HTML: escaped by construction, never filtered.

Markdown: a character is backslash-escaped where the markdown grammar (CommonMark, with GitHub's
tables, strikethrough and task lists, and the $…$ math of GitHub, Jupyter and pandoc) can read it
as markup: everywhere for the characters that open or close markup inline (`_MARKUP`), and at the
start of a block for those that only mark a block there (a list, a quote, a heading, a rule). Any
punctuation may be escaped in CommonMark, so an escaped character always shows as itself; the rest
(letters, . , ; ? ' " / % and the like) is left as written, so the raw file stays readable. An
answer is a code span whose fence is longer than any run of backticks in it. HTML: `html.escape`,
answers in `<code>`. White space becomes one space, so one value stays one line, and every other
invisible character (controls, bidirectional overrides, zero-width ones) is shown as its code,
\\u202e.
"""

from __future__ import annotations

import html
import re
import unicodedata

# opens or closes markup wherever it stands: escapes, code, emphasis, links, HTML and entities,
# math, strikethrough, table cells, pandoc's superscripts and {attributes}, heading closers
# (@ too: GitHub links a@b.org without any markup)
_MARKUP = re.compile(r"([\\`*_\[\]<>&$~|^{}#@])")
# :name: is an emoji on GitHub, and GitHub and linkify make links of http://… and www.…
_LINKS = re.compile(r":(?=[A-Za-z0-9_+/-])|(?<=www)\.", re.IGNORECASE)
# a block's first characters: a bullet, a quote, a setext line or rule, a definition, an
# ordered list's number (its . or ) is escaped); an indented code block cannot form (one_line)
_BLOCK_MARK = re.compile(r"^(\d{0,9})([-+=>:]|(?<=\d)[.)])")
_INVISIBLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def one_line(text: str) -> str:
    """Text on one line with nothing hidden in it."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_shown(c) for c in text)


def _shown(c: str) -> str:
    if c.isspace():
        return " "
    if unicodedata.category(c) in _INVISIBLE:
        return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"
    return c


def md_text(text: str, block_start: bool = False) -> str:
    """Plain text for markdown: shows as typed, forms no markup; `block_start` when the text
    begins a paragraph, a list item or a heading (where - + * = > # : and 1. or 1) mark a block)."""
    out = _MARKUP.sub(r"\\\1", one_line(text))
    out = _LINKS.sub(lambda m: "\\" + m.group(0), out)
    if block_start:
        out = out.lstrip(" ")  # 4 spaces would start code; markdown never shows leading spaces
        out = _BLOCK_MARK.sub(lambda m: m.group(1) + "\\" + m.group(2), out, count=1)
    return out


def md_code(text: str) -> str:
    """A code span showing text as typed (LaTeX is shown, not rendered)."""
    body = one_line(text)
    runs = [len(m) for m in re.findall(r"`+", body)]
    fence = "`" * (max(runs, default=0) + 1)
    if not body.strip():
        return md_text(body) if body else "(empty)"
    pad = " " if body.startswith("`") or body.endswith("`") or body.startswith(" ") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def html_text(text: str) -> str:
    return html.escape(one_line(text), quote=True)


def html_code(text: str) -> str:
    return f"<code>{html_text(text)}</code>" if text else "<em>(empty)</em>"


def md_parts(parts: list[tuple[str, str]], block_start: bool = False) -> str:
    """("text", ...) and ("math", LaTeX) pieces (a prompt): text escaped, math as code."""
    return "".join(
        md_text(s, block_start and i == 0) if kind == "text" else md_code(s)
        for i, (kind, s) in enumerate(parts)
    )


def html_parts(parts: list[tuple[str, str]]) -> str:
    return "".join(html_text(s) if kind == "text" else html_code(s) for kind, s in parts)
