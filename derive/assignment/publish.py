"""The answer key and the sheet of an assignment, in Python: documents, and files on request.

hw = derive.assignment.load("examples/hw_seed/assignment.toml")
doc = derive.assignment.key(hw)                       # a Document; shows itself in Jupyter
derive.assignment.key(hw, out="keys/", pdf=True)      # and answer-key.{tex,md,html,pdf}
publish_key(hw, "keys/")                              # the files written, failed checks
derive.assignment.sheet("examples/hw_seed/assignment.toml", out="sheets/")
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, Unpack

from derive.assignment.documents import build_key, build_sheet, build_spec_key
from derive.assignment.evidence import EvidenceCache
from derive.assignment.model import Assignment, load
from derive.document.model import Document
from derive.document.output import TEX_SECONDS, build_pdf, tex_engine, write_files
from derive.limits import DEFAULT, Limits

FORMATS = ("latex", "markdown", "html")


@dataclass
class Published:
    """A document, the files written, and whether its every gradient's checks agreed."""

    document: Document
    files: list[Path] = field(default_factory=list)
    pdf: Path | None = None
    failed_checks: list[str] = field(default_factory=list)  # "q3 (W2): finite differences"

    def _repr_html_(self) -> str:
        return self.document._repr_html_()

    def _repr_markdown_(self) -> str:
        return self.document._repr_markdown_()


def _assignment(hw: Assignment | str | Path, limits: Limits) -> Assignment:
    return hw if isinstance(hw, Assignment) else load(hw, limits)


def _write(doc: Document, out: str | Path | None, o: _Settings, failed: list[str]) -> Published:
    if out is None:
        return Published(doc, [], None, failed)
    formats = list(dict.fromkeys([*o.formats, *(["latex"] if o.pdf else [])]))
    files = write_files(doc, out, formats, o.limits)
    made = None
    if o.pdf and tex_engine() is not None:
        seconds = TEX_SECONDS if o.deadline is None else max(1.0, o.deadline - time.monotonic())
        made = build_pdf(Path(out) / f"{doc.kind}.tex", min(seconds, TEX_SECONDS))
    return Published(doc, files, made, failed)


class Options(TypedDict, total=False):
    """How a key or a sheet is made: `formats` to write (with `out`), `pdf` (when a TeX engine
    is installed), `use_torch` (the key's torch column), `limits`, and a `deadline` on
    `time.monotonic()` for the PDF."""

    formats: Sequence[str]
    pdf: bool
    use_torch: bool
    limits: Limits
    deadline: float | None


@dataclass(frozen=True)
class _Settings:
    formats: Sequence[str] = FORMATS
    pdf: bool = False
    use_torch: bool = True
    limits: Limits = DEFAULT
    deadline: float | None = None


def key(hw: Assignment | str | Path, out: str | Path | None = None,
        **options: Unpack[Options]) -> Document:  # fmt: skip
    """The answer key of an assignment (a file or a loaded `Assignment`) as a Document; with
    `out`, also written there (each of `formats`, the pictures, and the PDF when `pdf` and a
    TeX engine is installed). `publish_key` also returns the files and any failed check."""
    return publish_key(hw, out, **options).document


def sheet(hw: Assignment | str | Path, out: str | Path | None = None,
          **options: Unpack[Options]) -> Document:  # fmt: skip
    """The students' sheet as a Document (no answers, no steps); with `out`, also written."""
    return publish_sheet(hw, out, **options).document


def spec_key(specs: Sequence[str | Path], out: str | Path | None = None,
             **options: Unpack[Options]) -> Document:  # fmt: skip
    """A key of every gradient of each spec's network, as a Document; with `out`, written."""
    return publish_spec_key(specs, out, **options).document


def publish_key(hw: Assignment | str | Path, out: str | Path | None = None,
                **options: Unpack[Options]) -> Published:  # fmt: skip
    """The answer key of an assignment (a file or a loaded `Assignment`); written into `out`
    when given (each format, the pictures, and the PDF when `pdf` and a TeX engine is here)."""
    o = _Settings(**options)
    a = _assignment(hw, o.limits)
    cache = EvidenceCache(o.use_torch)
    doc = build_key(a, cache)
    failed = [
        f"{q.id} ({q.wrt}): {', '.join(e.failed)}"
        for q in a.questions
        if (e := cache(q.spec, q.wrt)).failed
    ]
    return _write(doc, out, o, failed)


def publish_spec_key(specs: Sequence[str | Path], out: str | Path | None = None,
                     **options: Unpack[Options]) -> Published:  # fmt: skip
    """A key of every gradient of each spec's network."""
    from derive.api import Network

    o = _Settings(**options)
    cache = EvidenceCache(o.use_torch)
    nets = [Network.from_file(p, o.limits) for p in specs]
    doc = build_spec_key(specs, cache, nets)
    failed = [
        f"{p} ({name}): {', '.join(e.failed)}"
        for p, net in zip(specs, nets, strict=True)
        for name in net.resolve(None)
        if (e := cache(Path(p), name)).failed
    ]
    return _write(doc, out, o, failed)


def publish_sheet(hw: Assignment | str | Path, out: str | Path | None = None,
                  **options: Unpack[Options]) -> Published:  # fmt: skip
    """The students' sheet of an assignment: no answers, no steps (`use_torch` is unused)."""
    o = _Settings(**options)
    return _write(build_sheet(_assignment(hw, o.limits)), out, o, [])
