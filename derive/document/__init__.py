"""Documents (answer keys, sheets) built once and written in every format by one registry.

doc = derive.assignment.key(hw)                     # a Document (derive.document.model)
text = WRITERS["html"](doc)                         # or "latex", "markdown", "json"
paths = write_files(doc, "out/", ["latex", "html"])  # answer-key.tex, answer-key.html, ...
"""

from __future__ import annotations

from collections.abc import Callable

from derive.document.html import write_html
from derive.document.json_writer import write_json
from derive.document.latex import write_latex
from derive.document.markdown import write_markdown
from derive.document.model import Document
from derive.document.output import SUFFIXES, build_pdf, tex_engine, write_files

WRITERS: dict[str, Callable[[Document], str]] = {
    "latex": write_latex,
    "markdown": write_markdown,
    "html": write_html,
    "json": write_json,
}

__all__ = ["SUFFIXES", "WRITERS", "Document", "build_pdf", "tex_engine", "write_files"]
