"""The `gradproof key` and `gradproof sheet` commands: an assignment's answer key and sheet.

Registered on the main parser by `derive.cli.build_parser`. Exit codes as every command's: 0 the
files were written; 1 written, but some check of a gradient disagreed (named on stderr); 2 bad
input (an assignment or spec refused with one line); 3 the PDF could not be made.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from derive import cli_common as opt
from derive.cli_common import EXIT_FAILED, EXIT_OK
from derive.errors import GradproofError
from derive.limits import Limits, read_bounded

KEY_DESCRIPTION = """\
Write the answer key of an assignment into DIR: answer-key.tex, answer-key.md,
answer-key.html and, when latexmk or pdflatex is installed, answer-key.pdf (plus
network-*.svg, the pictures the markdown links to). Per question: the prompt and
points, the network's equations, shapes and picture, the chain-rule steps, the boxed
answer and one line of evidence: which independent checks of the gradient agreed
(entry-by-entry sympy.diff, numeric/ backprop, finite differences, torch autograd when
installed) and the largest relative error measured.

Given spec files instead of an assignment, the key has every gradient of each network."""

SHEET_DESCRIPTION = """\
Write the students' sheet of an assignment into DIR: sheet.tex, sheet.md, sheet.html
and, when latexmk or pdflatex is installed, sheet.pdf. The networks, their shapes and
pictures, the questions with their points, the due date, and a box on how to type an
answer (the notations gradproof check reads). No answers and no steps."""


def add_commands(sub: Any) -> None:
    """Add `key` and `sheet` to `sub` (the main parser's subparsers)."""
    k = opt.add_command(
        sub,
        "key",
        run_key,
        help="an assignment's answer key: LaTeX, markdown, HTML (MathML) and PDF",
        description=KEY_DESCRIPTION,
        epilog=(
            "exit codes: 0 written, 1 written but a check disagreed, 2 bad input,\n"
            "3 the PDF could not be made.\n\n"
            "examples:\n"
            "  gradproof key examples/hw_seed/assignment.toml -o key/\n"
            "  gradproof key examples/seed_example1.toml examples/seed_example2.toml -o key/"
        ),
    )
    k.add_argument(
        "inputs", metavar="FILE", nargs="+",
        help="an assignment's TOML file (with [[question]] tables), or one or more spec files",
    )  # fmt: skip
    _common(k)
    opt.add_switches(k, ("--no-torch", "leave torch out of the evidence"))
    s = opt.add_command(
        sub,
        "sheet",
        run_sheet,
        help="an assignment's sheet for students: no answers, no steps",
        description=SHEET_DESCRIPTION,
        epilog=(
            "exit codes: 0 written, 2 bad input, 3 the PDF could not be made.\n\n"
            "example:\n  gradproof sheet examples/hw_seed/assignment.toml -o sheet/"
        ),
    )
    opt.add_assignment(s)
    _common(s)


def _common(p: argparse.ArgumentParser) -> None:
    opt.add_folder(p)
    opt.add_switches(p, ("--no-pdf", "do not run TeX even when installed"))


def is_assignment(path: str, limits: Limits) -> bool:
    """Whether a TOML file is an assignment (it has [[question]] tables) rather than a spec.
    An unreadable file counts as an assignment, whose loader then says what is wrong."""
    try:
        raw = read_bounded(path, limits.file_bytes, "the file", limits, "file_bytes")
        return "question" in tomllib.loads(raw.decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, GradproofError):
        return True  # the loader reads it again and says what is wrong, in its own words


def _deadline(args: argparse.Namespace, limits: Limits) -> float:
    return float(args.started) + limits.time_limit - 1.0


def run_key(args: argparse.Namespace, limits: Limits) -> int:
    from derive.assignment import publish_key, publish_spec_key
    from derive.assignment.publish import Options

    options: Options = {
        "pdf": not args.no_pdf,
        "use_torch": not args.no_torch,
        "limits": limits,
        "deadline": _deadline(args, limits),
    }
    if len(args.inputs) == 1 and is_assignment(args.inputs[0], limits):
        done = publish_key(args.inputs[0], args.output, **options)
    else:
        done = publish_spec_key(args.inputs, args.output, **options)
    _said(args, done)
    for failure in done.failed_checks:
        print(f"gradproof: check failed: {failure}", file=sys.stderr)
    return EXIT_FAILED if done.failed_checks else EXIT_OK


def run_sheet(args: argparse.Namespace, limits: Limits) -> int:
    from derive.assignment import publish_sheet

    done = publish_sheet(
        args.assignment, args.output, pdf=not args.no_pdf, limits=limits,
        deadline=_deadline(args, limits),
    )  # fmt: skip
    _said(args, done)
    return EXIT_OK


def _said(args: argparse.Namespace, done: Any) -> None:
    from derive.document import tex_engine

    names = [p.name for p in done.files if p.suffix != ".svg"]
    pictures = [p.name for p in done.files if p.suffix == ".svg"]
    if done.pdf is not None:
        names.append(done.pdf.name)
    extra = f" (+ {', '.join(pictures)})" if pictures else ""
    print(f"wrote {Path(args.output)}: {', '.join(names)}{extra}")
    if done.pdf is None and not args.no_pdf and tex_engine() is None:
        print("no PDF: neither latexmk nor pdflatex is on PATH (the .tex is there to compile)")
