"""What one `gradproof grade` may read and spend, in one table (the whole command's time and
memory are `derive.limits.Limits`, as for every command)."""

from __future__ import annotations

from dataclasses import dataclass

from derive.errors import TooLargeError

OPTIONS = {
    "submissions_bytes": "--max-submissions-bytes",
    "submissions": "--max-submissions",
    "check_seconds": "--timeout",
}


@dataclass(frozen=True)
class GradeLimits:
    """The defaults; each one the CLI can raise names its option in `OPTIONS`."""

    submissions_bytes: int = 100_000_000  # the submissions file (at most this + 1 bytes read)
    submissions: int = 1_000_000  # rows in it
    answer_chars: int = 20_000  # one answer (the reader's own limit: longer is invalid)
    record_lines: int = 200  # physical lines one CSV record may span (a quote left open)
    check_seconds: float = 5.0  # one check, killed at this deadline: verdict timeout
    check_memory_mib: int = 4096  # address space one worker may add (as `gradproof check`)

    def too_large(self, name: str, what: str, measured: float, source: str) -> TooLargeError:
        limit = getattr(self, name)
        option = OPTIONS.get(name, "")
        how = f"; raise it with {option} {int(max(2 * limit, measured * 1.1))}" if option else ""
        return TooLargeError(
            f"{source}: too large: {what} ({measured:g} > {limit:g}, the limit {name}){how}"
        )


GRADE_DEFAULT = GradeLimits()
