"""A document's files in a folder: each format's file, the pictures it links to, and the PDF.

The PDF is made by latexmk or, without it, pdflatex (run twice), in a temporary folder, with
shell escape off and a deadline; a document that does not compile is an error naming TeX's first
complaint (a bug of ours: every part is escaped by its writer).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from derive.document.model import Document
from derive.errors import GradproofError, VerificationError
from derive.files import write_text_atomic
from derive.graph_svg import network_svg
from derive.limits import DEFAULT, Limits, check_output

SUFFIXES = {"latex": ".tex", "markdown": ".md", "html": ".html", "json": ".json"}
TEX_SECONDS = 60.0


def write_files(
    doc: Document,
    folder: str | Path,
    formats: Sequence[str] = ("latex", "markdown", "html"),
    limits: Limits = DEFAULT,
) -> list[Path]:
    """Write `doc.kind` + each format's suffix into folder (made if missing), and the SVG of
    each figure when markdown (which links to them) is among the formats."""
    from derive.document import WRITERS

    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, no permission, a read-only disk
        raise GradproofError(f"{out}: cannot make the output folder ({exc.strerror})") from None
    texts: list[tuple[Path, str]] = []
    for fmt in formats:
        writer: Callable[[Document], str] = WRITERS[fmt]
        text = writer(doc)
        check_output(text, f"the {fmt} {doc.kind}", limits)
        texts.append((out / f"{doc.kind}{SUFFIXES[fmt]}", text))
    if "markdown" in formats:
        for fig in doc.figures():
            if fig.file:  # "": a picture drawn inline only (LaTeX, HTML), no file to link
                texts.append((out / fig.file, network_svg(fig.spec)))
    written = []
    for path, text in dict(texts).items():
        write_text_atomic(path, text)
        written.append(path)
    return written


def tex_engine() -> list[str] | None:
    """The command that makes a PDF here: latexmk, else pdflatex, else None."""
    latexmk = shutil.which("latexmk")
    if latexmk:
        return [latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-quiet"]
    pdflatex = shutil.which("pdflatex")
    if pdflatex:
        return [pdflatex, "-interaction=nonstopmode", "-halt-on-error"]
    return None


def _reproducible_env() -> dict[str, str]:
    """TeX's environment with a fixed creation date (unless one is set), so that the same
    document gives the same PDF bytes and a committed PDF changes only when its content does."""
    env = dict(os.environ)
    env.setdefault("SOURCE_DATE_EPOCH", "0")
    env.setdefault("FORCE_SOURCE_DATE", "1")
    return env


def build_pdf(tex: Path, seconds: float = TEX_SECONDS) -> Path | None:
    """tex compiled into a PDF beside it; None when no TeX engine is installed."""
    engine = tex_engine()
    if engine is None:
        return None
    runs = 1 if engine[0].endswith("latexmk") else 2  # pdflatex: a second run for the layout
    with tempfile.TemporaryDirectory(prefix="gradproof-tex-") as tmp:
        work = Path(tmp) / "doc.tex"
        shutil.copyfile(tex, work)
        for _ in range(runs):
            try:
                proc = subprocess.run(
                    [*engine, "-no-shell-escape", work.name],
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=seconds,
                    stdin=subprocess.DEVNULL,
                    env=_reproducible_env(),
                )
            except subprocess.TimeoutExpired:
                raise VerificationError(f"{tex}: TeX did not finish in {seconds:g} s") from None
            if proc.returncode != 0:
                log = Path(tmp) / "doc.log"
                text = log.read_text(errors="replace") if log.exists() else proc.stdout
                first = next((ln for ln in text.splitlines() if ln.startswith("!")), "no message")
                raise VerificationError(f"{tex}: does not compile: {first.strip()}")
        pdf = tex.with_suffix(".pdf")
        shutil.copyfile(Path(tmp) / "doc.pdf", pdf)
    return pdf
