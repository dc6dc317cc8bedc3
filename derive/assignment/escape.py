"""Text from submissions into markdown and HTML: escaped by construction, never filtered.

Markdown: every ASCII punctuation character is backslash-escaped (CommonMark lets any of them be,
so no markup, link or raw HTML can form), and an answer is a code span whose fence is longer than
any run of backticks in it (nothing inside a code span is markup). HTML: `html.escape`, answers in
`<code>`. White space becomes one space, so one value stays one line, and every other invisible
character (controls, bidirectional overrides, zero-width ones) is shown as its code, \\u202e.
"""

from __future__ import annotations

import html
import re
import unicodedata

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
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


def md_text(text: str) -> str:
    """Plain text for markdown: shows as typed, forms no markup."""
    return _PUNCTUATION.sub(r"\\\1", one_line(text))


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


def md_parts(parts: list[tuple[str, str]]) -> str:
    """("text", ...) and ("math", LaTeX) pieces (a prompt): text escaped, math as code."""
    return "".join(md_text(s) if kind == "text" else md_code(s) for kind, s in parts)


def html_parts(parts: list[tuple[str, str]]) -> str:
    return "".join(html_text(s) if kind == "text" else html_code(s) for kind, s in parts)
