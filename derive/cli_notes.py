"""The commands for the notes' second half: `activations`, `diagnose`, `init-study`, `derive-init`.

Registered on the main parser by `derive.cli.build_parser`; each prints through the same exit
codes (0 success, 2 bad input) and errors as the other commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from derive import cli_common as opt
from derive.cli_common import EXIT_OK
from derive.errors import OptionError
from derive.files import write_text_atomic
from derive.init_study import SCHEMES, STUDY_ACTIVATIONS
from derive.limits import Limits, check_output


def add_commands(sub: Any) -> None:
    """Add the subcommands to `sub` (the main parser's subparsers)."""
    s = opt.add_command(
        sub,
        "init-study",
        _run_init_study,
        help="the notes' initialization experiment: activations and gradients of a deep MLP",
        description=(
            "Run a deep MLP (one activation, depth layers of one width, over a batch) at\n"
            "initialization with numeric/'s backprop, once per scheme, and report per layer\n"
            "the activations' mean and std, the share of saturated units (f'(a) < 1e-3) and of\n"
            "zero activations, the variance ratio to the layer before and |dL/dW|."
        ),
        epilog=(
            "schemes: small N(0, 0.01^2); large N(0, 1); xavier N(0, 2/(n_in + n_out)); he\n"
            "N(0, 2/n_in) (the last two derived by `gradproof derive-init`).\n\n"
            "example:\n"
            "  gradproof init-study --activation tanh --depth 10 --width 256 --init all "
            "--plot init.png"
        ),
    )
    s.add_argument(
        "--activation",
        default="tanh",
        choices=STUDY_ACTIVATIONS,
        help="the hidden layers' activation (default tanh)",
    )
    opt.add_number(s, "--depth", int, 10, "number of layers")
    opt.add_number(s, "--width", int, 256, "units per layer")
    opt.add_number(s, "--batch", int, 128, "examples per batch")
    _scheme_option(s, "all", "initialization scheme (default: all four)", "all")
    opt.add_number(s, "--seed", int, 0, "random seed")
    _json_and_plot(
        s,
        json="print JSON instead of tables",
        plot="also draw histograms and gradient norms (.png, .svg, .pdf)",
    )

    d = opt.add_command(
        sub,
        "derive-init",
        _run_derive_init,
        help="derive Xavier and He initialization with SymPy, step by step",
        description=(
            "Derive Var(z) = n_in Var(w) Var(x) for zero-mean independent weights and inputs,\n"
            "its backward counterpart with n_out, hence Var(w) = 1/n_in, 1/n_out, Glorot's\n"
            "2/(n_in + n_out), and He's 2/n_in from E[ReLU(z)^2] = Var(z)/2 (an integral over\n"
            "the normal density, computed by SymPy)."
        ),
    )
    _document_options(d)

    g = opt.add_command(
        sub,
        "diagnose",
        _run_diagnose,
        help="why a gradient vanishes: each gradient factored as in the notes, factors measured",
        description=(
            "Evaluate the network at given or generated values and, for every parameter,\n"
            "show its gradient factored as the notes write it, (dL/dh * f'(W z + b)) z^T, with\n"
            "the size of each factor: the gradient from above, the activation's derivative, the\n"
            "layer's input and the weights above. When a gradient is (near) zero, name the\n"
            "cause in the notes' four cases: dL/dh = 0 (an optimum: fine), z = 0 (dead inputs),\n"
            "W = 0 (nothing propagates back), f' = 0 (saturated units)."
        ),
        epilog=(
            "exit codes: 0 no gradient vanishes, 1 some gradient is (near) zero, 2 bad input.\n\n"
            "example:\n  gradproof diagnose examples/two_sigmoid_layers.toml --init large --seed 1"
        ),
    )
    opt.add_spec(g)
    given = g.add_mutually_exclusive_group()
    given.add_argument(
        "--values", metavar="FILE.npz", help="the values of every variable (a NumPy .npz file)"
    )
    _scheme_option(
        given, "xavier",
        "generate the weights by this scheme, biases 0, inputs N(0, 1) (default xavier)",
    )  # fmt: skip
    opt.add_number(g, "--seed", int, 0, "random seed for --init")
    g.add_argument("--tol", type=float, default=1e-8, help="a norm at most this is zero (1e-8)")
    _json_and_plot(g, json="print JSON", plot="also draw the factors' sizes (.png, .svg, .pdf)")

    a = opt.add_command(
        sub,
        "activations",
        _run_activations,
        help="the notes' activation table, every column computed by SymPy",
        description=(
            "The activation table: formula, derivative in textbook form, output range, zero-\n"
            "centred or not, where it saturates (f' -> 0), differentiable or not (and the value\n"
            "taken at a kink), and the derivative's maximum, each computed by SymPy from the\n"
            "formula of derive/activations.py."
        ),
    )
    _document_options(a)
    _plot_option(a, "also draw each function and its derivative")


def _document_options(parser: argparse.ArgumentParser) -> None:
    opt.add_format(parser, default="markdown")
    opt.add_output(parser)


def _plot_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--plot", metavar="FILE", help=help)


def _json_and_plot(parser: argparse.ArgumentParser, json: str, plot: str) -> None:
    """--json and --plot FILE of a measuring command (init-study, diagnose)."""
    opt.add_switches(parser, ("--json", json))
    _plot_option(parser, plot)


def _scheme_option(
    parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup,
    default: str,
    help: str,
    *extra: str,
) -> None:
    """--init: one of the initialization schemes of derive.init_study (or an `extra` choice)."""
    parser.add_argument("--init", default=default, choices=(*SCHEMES, *extra), help=help)


def _emit(text: str, output: str | None, limits: Limits) -> None:
    check_output(text, output or "the output", limits)
    if output:
        write_text_atomic(Path(output), text)
        print(f"written: {output}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _run_init_study(args: argparse.Namespace, limits: Limits) -> int:
    from derive import init_study as S

    schemes = list(S.SCHEMES) if args.init == "all" else [args.init]
    S.check_size(args.depth, args.width, args.batch)
    tty = sys.stderr.isatty() and not args.json

    def progress(name: str) -> None:
        if tty:
            print(f"init-study: {args.activation}, init {name} ...", file=sys.stderr, flush=True)

    studies = S.run_all(
        args.activation, schemes, args.depth, args.width, args.batch, args.seed, progress
    )
    _emit(S.as_json(studies) if args.json else S.as_table(studies), None, limits)
    if args.plot:
        _plot(lambda: S.plot(studies, Path(args.plot)), args.plot)
    return EXIT_OK


def _run_derive_init(args: argparse.Namespace, limits: Limits) -> int:
    from derive import init_theory as T

    found = T.rules()
    printer = {"markdown": T.as_markdown, "latex": T.as_latex, "json": T.as_json}[args.format]
    _emit(printer(found), args.output, limits)
    return EXIT_OK


def _run_diagnose(args: argparse.Namespace, limits: Limits) -> int:
    from derive import vanishing as V
    from derive.api import Network

    if not args.tol > 0:
        raise OptionError(f"--tol must be positive, got {args.tol}")
    spec = Network.from_file(args.spec, limits).spec
    if args.values:
        values = V.load_values(Path(args.values), spec, limits)
        missing = sorted(set(spec.variables) - set(values))
        if missing:
            raise OptionError(f"{args.values}: no value for {', '.join(missing)}")
    else:
        values = V.initial_values(spec, args.init, args.seed)
    reports = V.diagnose(spec, values, args.tol)
    _emit(V.as_json(reports) if args.json else V.as_text(reports), None, limits)
    if args.plot:
        _plot(lambda: V.plot(reports, Path(args.plot)), args.plot)
    return 1 if any(r.vanishes for r in reports) else EXIT_OK


def _plot(draw: Callable[[], None], path: str) -> None:
    if Path(path).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise OptionError(f"--plot {path}: expected a .png, .svg or .pdf file")
    try:
        draw()
    except ImportError:
        raise OptionError("--plot needs matplotlib: pip install 'gradproof[plots]'") from None
    print(f"written: {path}", file=sys.stderr)


def _run_activations(args: argparse.Namespace, limits: Limits) -> int:
    from derive import activation_table as A

    rows = A.table()
    printer = {"markdown": A.as_markdown, "latex": A.as_latex, "json": A.as_json}[args.format]
    _emit(printer(rows), args.output, limits)
    if args.plot:
        _plot(lambda: A.plot(rows, Path(args.plot)), args.plot)
    return EXIT_OK
