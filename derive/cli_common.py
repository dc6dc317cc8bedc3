"""What the command files share: exit codes, the version, and every option more than one command
takes, each declared once (`derive.cli`, `derive.cli_grade`, `derive.cli_key`, `derive.cli_notes`).

A helper keeps an option's name, metavar and type in one place; the help text stays with the
command when it says something of that command ("print JSON instead of tables").
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from derive.errors import OptionError
from derive.limits import Limits

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CANNOT_CHECK, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
FORMATS = ("markdown", "latex", "json")
MAX_TIMEOUT = 600  # seconds: a check that needs longer is refused, not waited for

Run = Callable[[argparse.Namespace, Limits], int]


def version() -> str:
    """The installed gradproof's version, or "(not installed)" when run from a bare checkout."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("gradproof")
    except PackageNotFoundError:
        return "(not installed)"


def add_command(
    sub: Any, name: str, run: Run, *, help: str, description: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand of `sub` (the main parser's subparsers) that `run` carries out: `help` is its
    line in `gradproof --help`; its description and epilog print with their line breaks kept."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def shown(value: object) -> str:
    """A default as the help prints it: 120.0 as 120, 1e-08 as 1e-08, integers in full."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_number(
    parser: argparse.ArgumentParser,
    flag: str,
    kind: type[int] | type[float],
    default: float,
    what: str,
    metavar: str | None = None,
) -> None:
    """A numeric option whose help ends with its default, "(default 120)"."""
    parser.add_argument(
        flag, type=kind, default=default, metavar=metavar, help=f"{what} (default {shown(default)})"
    )


def add_switches(parser: argparse.ArgumentParser, *switches: tuple[str, str]) -> None:
    """On/off options, each a (flag, help) pair, off unless given."""
    for flag, help in switches:
        parser.add_argument(flag, action="store_true", help=help)


def add_spec(parser: argparse.ArgumentParser) -> None:
    """The network's spec file, the command's first argument."""
    parser.add_argument("spec", metavar="SPEC", help="the network's TOML spec file")


def add_assignment(parser: argparse.ArgumentParser) -> None:
    """The assignment's TOML file, the command's first argument."""
    parser.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment's TOML file")


def add_output(
    parser: argparse.ArgumentParser,
    metavar: str = "FILE",
    help: str = "write to FILE instead of stdout",
    required: bool = False,
) -> None:
    """-o/--output: by default a file that replaces standard output."""
    parser.add_argument("-o", "--output", metavar=metavar, required=required, help=help)


def add_folder(parser: argparse.ArgumentParser) -> None:
    """-o/--output DIR, required: the folder a command writes its files into."""
    add_output(parser, "DIR", "the folder to write", required=True)


def add_format(
    parser: argparse.ArgumentParser,
    help: str | None = None,
    default: str | None = None,
    choices: tuple[str, ...] = FORMATS,
) -> None:
    """--format markdown|latex|json (or the command's own `choices`)."""
    parser.add_argument("--format", choices=choices, default=default, help=help)


def add_timeout(parser: argparse.ArgumentParser, default: float, what: str) -> None:
    """--timeout S: the seconds one check may take (checked by `check_timeout`)."""
    add_number(parser, "--timeout", float, default, what, metavar="S")


def check_timeout(seconds: float) -> None:
    """Refuse a --timeout outside (0, 600] seconds."""
    if not 0 < seconds <= MAX_TIMEOUT:
        raise OptionError(f"--timeout {seconds:g}: expected seconds in (0, {MAX_TIMEOUT}]")
