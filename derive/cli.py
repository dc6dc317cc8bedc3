"""The `gradproof` command: a thin layer over the API that prints results and picks exit codes.

Exit codes: 0 success; 1 a check ran and failed; 2 bad input (spec, names, options);
3 a check could not be carried out; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from derive import cli_common as opt
from derive.api import Network
from derive.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_CANNOT_CHECK,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
)
from derive.cli_grade import add_commands as add_grade_commands
from derive.cli_key import add_commands as add_key_commands
from derive.cli_notes import add_commands as add_notes_commands
from derive.errors import GradproofError
from derive.files import write_text_atomic
from derive.limits import DEFAULT, Limits, check_output, memory_error, read_bounded, run_bounded
from derive.web.serve import add_command as add_serve_command

DESCRIPTION = """\
Derive neural-network gradients symbolically, show them step by step as a textbook
would, and check them.

A network is a TOML spec file: dims, variables (inputs, targets, parameters) and
forward equations whose last line is the scalar loss. See examples/.
"""

EPILOG = """\
exit codes: 0 success, 1 a check failed, 2 bad input, 3 a check could not run,
130 interrupted.

limits: every command, loading and deriving included, runs within these limits
(the option that sets each, its default, what it bounds). Over one, it stops with
one line on stderr, "gradproof: error: too large: ...", naming the limit and the
option that raises it, and exits 2. These options go before the command, as in
gradproof --limit equations=5000 derive SPEC.
LIMITS_TABLE

examples:
  gradproof derive examples/seed_example2.toml
  gradproof derive examples/seed_example2.toml --wrt W1 --format latex -o w1.tex
  gradproof derive examples/mlp10.toml --format json
  gradproof codegen examples/seed_example2.toml -o seed2_grads.py
  gradproof verify examples/*.toml
  gradproof check examples/seed_example2.toml --wrt W2 --answer '2(\\hat{y}-y)z^T'
  gradproof key examples/hw_seed/assignment.toml -o key/
  gradproof sheet examples/hw_seed/assignment.toml -o sheet/
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"gradproof: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    options = [(DEFAULT.option(n) + ("N" if DEFAULT.option(n).endswith("=") else ""), value, what)
               for n, value, what in DEFAULT.describe()]  # fmt: skip
    width = max(len(o) for o, _, _ in options)
    table = "\n".join(f"  {o:<{width}} {v:>8}  {w}" for o, v, w in options)
    parser = _Parser(
        prog="gradproof",
        description=DESCRIPTION,
        epilog=EPILOG.replace("LIMITS_TABLE", table),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gradproof {opt.version()}")
    opt.add_number(
        parser, "--time-limit", float, DEFAULT.time_limit,
        "wall-clock deadline of the whole command", metavar="SECONDS",
    )  # fmt: skip
    opt.add_number(
        parser, "--memory-limit", float, DEFAULT.memory_limit,
        "address space the command may add to the loaded program, MiB", metavar="MB",
    )  # fmt: skip
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="raise or lower a size limit (repeatable; the names are listed below)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    add_notes_commands(sub)  # init-study, derive-init (derive/cli_notes.py)
    add_grade_commands(sub)  # grade (derive/cli_grade.py)
    add_key_commands(sub)  # key, sheet (derive/cli_key.py)
    add_serve_command(sub)  # serve (derive/web/serve.py)

    d = opt.add_command(
        sub,
        "derive",
        _run_derive,
        help="derive gradients step by step (markdown, LaTeX, HTML or JSON)",
        description="Derive the gradient of the loss with respect to each name, step by step.",
        epilog=(
            "By default: every intermediate and parameter, in the order backpropagation\n"
            "finds them. Gradients have the shape of their variable (denominator layout)."
        ),
    )
    opt.add_spec(d)
    d.add_argument(
        "--wrt",
        action="append",
        metavar="NAME",
        help="a variable or intermediate to differentiate with respect to (repeatable)",
    )
    opt.add_switches(d, ("--all", "every name, inputs and targets included"))
    opt.add_format(
        d,
        choices=("markdown", "latex", "html", "json"),
        help="output format: markdown with $...$ math, a LaTeX document, one HTML file (MathML, "
        "the graph inline, no script), or the derivation as JSON data (default: from the -o "
        "file's extension, .tex, .html, .json or .md, else markdown)",
    )
    opt.add_output(d)
    d.add_argument(
        "--graph",
        metavar="FILE.svg",
        help="also draw the network's computational graph (fan-outs marked) to FILE.svg; "
        "markdown output links to it",
    )
    opt.add_switches(
        d,
        ("--check", "also compare each gradient with entry-by-entry sympy.diff (at small dims: "
         "distinct sizes from 2 to 5 within the spec's own, or 1 for more than three chained "
         "activations)"),
    )  # fmt: skip

    c = opt.add_command(
        sub,
        "codegen",
        _run_codegen,
        help="generate an importable NumPy module computing the forward pass and gradients",
        description=(
            "Generate a readable NumPy module with forward(**arrays) and gradients(**arrays),\n"
            "from the symbolic gradients; the LaTeX of each gradient is in a comment beside it."
        ),
    )
    opt.add_spec(c)
    opt.add_output(c, "FILE.py", "the module to write", required=True)

    v = opt.add_command(
        sub,
        "verify",
        _run_verify,
        help="prove every gradient: sympy.diff per entry, numeric/ backprop, finite differences",
        description=(
            "One table per spec, one row per gradient. Columns: entry-by-entry sympy.diff\n"
            "(small dims), the generated NumPy module against numeric/'s independent backprop,\n"
            "against central finite differences, and against PyTorch autograd if installed."
        ),
        epilog="exit codes: 0 every cell passed, 1 some cell failed, 2 bad input.",
    )
    v.add_argument("specs", metavar="SPEC", nargs="+", help="spec files to verify")
    opt.add_switches(
        v, ("--json", "print JSON instead of tables"), ("--no-torch", "skip the PyTorch column")
    )
    v.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="run the generated module and numeric/ in this precision; float32 "
                   "holds them to 1e-4 of the largest entry (default float64)")  # fmt: skip

    k = opt.add_command(
        sub,
        "check",
        _run_check,
        help="grade a hand-written gradient typed in LaTeX",
        description=(
            "Grade a hand-written gradient: correct, incorrect (with the likely mistake and a\n"
            "counterexample) or invalid (cannot be read: unknown name, shapes that do not\n"
            "multiply, ...). It may be a full equation, \\frac{\\partial J}{\\partial W} = ..."
        ),
        epilog=(
            "exit codes: 0 correct, 1 incorrect, 2 invalid answer or bad input, 3 the check\n"
            "itself failed (a bug: please report it).\n\n"
            "example:\n"
            "  gradproof check examples/seed_example2.toml --wrt W2 --answer '2(\\hat{y}-y)z^T'"
        ),
    )
    opt.add_spec(k)
    k.add_argument("--wrt", required=True, metavar="NAME", help="the variable of the gradient")
    given = k.add_mutually_exclusive_group(required=True)
    given.add_argument("--answer", metavar="LATEX", help="the answer, in LaTeX")
    given.add_argument(
        "--answer-file", metavar="FILE", help="read the answer from FILE (- for standard input)"
    )
    opt.add_switches(
        k,
        ("--json", "print the result as JSON"),
        ("--lenient", "read two same-shape vectors side by side as the elementwise product "
         "(with a warning)"),
    )  # fmt: skip
    opt.add_timeout(k, 5.0, "seconds per check")
    return parser


MAX_ANSWER_FILE_BYTES = 1_000_000


def _read_answer(args: argparse.Namespace, limits: Limits) -> str:
    if args.answer is not None:
        text: str = args.answer
        return text
    path = Path(args.answer_file)
    try:
        if args.answer_file == "-":
            data = sys.stdin.buffer.read(MAX_ANSWER_FILE_BYTES + 1)
        else:
            data = read_bounded(
                path, MAX_ANSWER_FILE_BYTES, "the answer file", limits, "file_bytes"
            )
    except OSError as exc:
        raise GradproofError(f"{path}: cannot read the answer file ({exc.strerror})") from None
    if len(data) > MAX_ANSWER_FILE_BYTES:
        raise GradproofError(f"{path}: the answer file is over {MAX_ANSWER_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GradproofError(f"{path}: the answer is not UTF-8 text (byte {exc.start})") from None


def _run_check(args: argparse.Namespace, limits: Limits) -> int:
    from derive.answers.check import CORRECT, ERROR, INCORRECT, check

    opt.check_timeout(args.timeout)
    answer = _read_answer(args, limits)
    net = Network.from_file(args.spec, limits)
    # the grader's own deadline ends before the whole command's, so its worker is never orphaned
    left = limits.time_limit - (time.monotonic() - args.started) - 0.5
    timeout = max(0.1, min(args.timeout, left))
    result = check(net, args.wrt, answer, lenient=args.lenient, timeout=timeout)
    sys.stdout.write(result.to_json() if args.json else str(result) + "\n")
    if result.verdict == CORRECT:
        return EXIT_OK
    if result.verdict == INCORRECT:
        return EXIT_FAILED
    return EXIT_CANNOT_CHECK if result.verdict == ERROR else EXIT_BAD_INPUT


def _format_from_suffix(path: str | None) -> str:
    suffix = Path(path).suffix.lower() if path else ""
    return {".tex": "latex", ".json": "json", ".html": "html", ".htm": "html"}.get(
        suffix, "markdown"
    )


def _picture_link(graph: str | None, output: str | None) -> str | None:
    """The graph's SVG as a link from where the markdown goes (None: no graph drawn)."""
    if not graph:
        return None
    start = Path(output).resolve().parent if output else Path.cwd()
    return os.path.relpath(Path(graph).resolve(), start).replace(os.sep, "/")


def _zero_gradient_warnings(net: Network) -> list[str]:
    from derive.expr import Zero, names_in

    used = set().union(*(names_in(eq.expr) for eq in net.spec.equations))
    return [
        f"param {name!r} does not affect the loss: its gradient is zero"
        for name in net.spec.params
        if name in used and isinstance(net.derivation[name].final, Zero)
    ]


def _run_codegen(args: argparse.Namespace, limits: Limits) -> int:
    from derive.codegen import write_module

    net = Network.from_file(args.spec, limits)
    if not write_module(net.derivation, args.spec, args.output):
        return EXIT_OK  # the module went to stdout, a device or a pipe: no note after it
    params = ", ".join(net.spec.params) or "no parameters (all_gradients() has the rest)"
    print(f"wrote {args.output}: forward(), gradients() for {params}, all_gradients()")
    return EXIT_OK


def _run_verify(args: argparse.Namespace, limits: Limits) -> int:
    import numpy as np

    from derive import verify

    reports = []
    total = len(args.specs)
    live = sys.stderr.isatty()
    for i, path in enumerate(args.specs, 1):
        if live:  # a progress bar on a terminal, one line per spec in a log
            bar = "#" * (20 * i // total)
            print(f"\rverify [{bar:<20}] {i}/{total} {path}", end="", file=sys.stderr, flush=True)
        elif total > 1:
            print(f"verify {i}/{total}: {path}", file=sys.stderr, flush=True)
        # an overflow (exp of a large input) shows as a non-finite cell, FAIL, in the table:
        # NumPy's warnings about it would only bury the one-line report
        with np.errstate(all="ignore"):
            reports.append(
                verify.verify_spec(
                    path, use_torch=not args.no_torch, limits=limits, dtype=args.dtype
                )
            )
    if live:
        print(file=sys.stderr)
    if args.json:
        sys.stdout.write(verify.reports_json(reports))
    else:
        print("\n\n".join(verify.render_table(r) for r in reports))
    failed = [f"{r.spec}: {f}" for r in reports for f in r.failures()]
    for f in failed:
        print(f"gradproof: check failed: {f}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _run_derive(args: argparse.Namespace, limits: Limits) -> int:
    net = Network.from_file(args.spec, limits)
    for warning in [*net.spec.warnings, *_zero_gradient_warnings(net)]:
        print(f"gradproof: warning: {args.spec}: {warning}", file=sys.stderr)
    wrt = net.names if args.all else args.wrt
    names = net.resolve(wrt)
    fmt = args.format or _format_from_suffix(args.output)
    if fmt == "markdown":
        text = net.markdown(names, _picture_link(args.graph, args.output))
    else:
        text = {"latex": net.latex, "html": net.html, "json": net.json}[fmt](names)
    check_output(text, f"the {fmt} output", limits)
    if args.output:
        write_text_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    if args.graph:
        net.graph().save(args.graph)
    if not args.check:
        return EXIT_OK
    results = net.check_elementwise(names)
    for r in results:
        print(f"element-wise check: {r}", file=sys.stderr)
    return EXIT_OK if all(r.passed for r in results) else EXIT_FAILED


def _attach_dash_values(argv: list[str]) -> list[str]:
    """`--answer -2x` means the answer -2x, not an option: join it as --answer=-2x."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--answer" and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"--answer={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _limits(args: argparse.Namespace) -> Limits:
    limits = DEFAULT.with_values(args.limit)
    if not 0 < args.time_limit <= 86_400:
        raise GradproofError(f"--time-limit {args.time_limit:g}: expected seconds in (0, 86400]")
    if not 64 <= args.memory_limit <= 1_048_576:
        raise GradproofError(f"--memory-limit {args.memory_limit:g}: expected MiB in [64, 1048576]")
    return replace(limits, time_limit=args.time_limit, memory_limit=int(args.memory_limit))


def _error(message: str) -> None:
    print(f"gradproof: {message}", file=sys.stderr, flush=True)


def _report(exc: GradproofError) -> int:
    _error(f"error: {exc}")
    return exc.exit_code


def _run(args: argparse.Namespace, limits: Limits) -> int:
    """One command, every failure mapped to one line on stderr and an exit code."""
    try:
        code: int = args.run(args, limits)
        return code
    except GradproofError as exc:
        return _report(exc)
    except BrokenPipeError:
        return EXIT_OK
    except RecursionError:
        _error(
            "error: too large: the input is nested too deeply to process (the limit "
            "expression_depth); raise it with --limit expression-depth="
            f"{2 * limits.expression_depth}"
        )
        return EXIT_BAD_INPUT
    except MemoryError:
        return _report(memory_error(limits))
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if type(exc).__module__.startswith("numeric"):  # numeric/ is imported only by verify
            _error(f"error: numeric/: {exc}")
            return EXIT_CANNOT_CHECK
        if os.environ.get("GRADPROOF_DEBUG"):
            import traceback

            traceback.print_exc()
        detail = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
        _error(f"internal error: {detail} (please report it; GRADPROOF_DEBUG=1 shows a traceback)")
        return EXIT_CANNOT_CHECK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_attach_dash_values(list(sys.argv[1:] if argv is None else argv)))
    args.started = time.monotonic()
    try:
        limits = _limits(args)
        if getattr(args, "unbounded", False):  # serve: runs until stopped; each check is bounded
            return _run(args, limits)
        return run_bounded(lambda: _run(args, limits), limits)
    except GradproofError as exc:
        return _report(exc)
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # the watchdog writing the command's output: a full disk, a closed fd
        _error(f"error: standard output: cannot write it ({exc.strerror or exc})")
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
