"""A markdown renderer as a test oracle: markdown-it (CommonMark) with GitHub's tables,
strikethrough, task lists and links of bare URLs, $…$ math and footnotes, so a test can see what a
reader's renderer makes of our markdown instead of looking for substrings in it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

_MD = (
    MarkdownIt("gfm-like", {"linkify": True, "html": True})
    .use(dollarmath_plugin)
    .use(tasklists_plugin)
    .use(footnote_plugin)
)


def render(markdown: str) -> str:
    return _MD.render(markdown)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def tags_and_text(markdown: str) -> tuple[list[str], str]:
    """The HTML tags the markdown renders to, and its visible text."""
    parser = _Tags()
    parser.feed(render(markdown))
    return parser.tags, "".join(parser.text)  # HTMLParser has turned &amp; back into &


def elements(markdown: str) -> list[tuple[str, dict[str, str | None]]]:
    """Each HTML element the markdown renders to, with its attributes."""
    parser = _Tags()
    parser.feed(render(markdown))
    return parser.attrs


def shows_as_typed(markdown: str, typed: str) -> bool:
    """Whether markdown renders to one plain paragraph reading `typed` (white space folded)."""
    tags, text = tags_and_text(markdown)
    return tags == ["p"] and _fold(text) == _fold(typed)


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
