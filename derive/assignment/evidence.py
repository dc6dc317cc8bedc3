"""One line of evidence per gradient of a key: which independent checks agreed, the largest error.

The checks are `derive.verify`'s, run once per network: entry-by-entry `sympy.diff` at small
dims, the generated NumPy module against `numeric/`'s own backprop, against central finite
differences, and against PyTorch autograd when torch is installed. The line names only checks
that ran, and a check that was asked for but could not run under "not run"; a check the key's
author left out (`use_torch=False`, `gradproof key --no-torch`) is not named at all, so such a
key reads the same on every machine, whether torch is installed there or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from derive.verify import COLUMNS, Cell, SpecReport, verify_spec

NAMES = {
    "symbolic": "symbolic vs element-by-element sympy.diff",
    "gen_vs_numeric": "numeric/ backprop",
    "gen_vs_fd": "finite differences",
    "gen_vs_torch": "torch autograd",
}


@dataclass(frozen=True)
class Evidence:
    """The checks of one gradient: those that passed, failed or could not run, the worst error."""

    agreed: tuple[str, ...]
    failed: tuple[str, ...]
    skipped: tuple[str, ...]  # "torch autograd (not installed)"
    largest_error: float | None

    @property
    def passed(self) -> bool:
        return not self.failed and bool(self.agreed)

    def line(self) -> str:
        head = "Checked: " + (", ".join(self.agreed) + " agree" if self.agreed else "no check ran")
        parts = [head]
        if self.failed:
            parts.append("DISAGREE: " + ", ".join(self.failed))
        if self.largest_error is not None:
            parts.append(f"largest relative error {self.largest_error:.1e}")
        if self.skipped:
            parts.append("not run: " + ", ".join(self.skipped))
        return "; ".join(parts) + "."


def evidence_of(report: SpecReport, name: str, left_out: frozenset[str] = frozenset()) -> Evidence:
    """The evidence of one gradient from its row of `report`; the columns in `left_out` (of
    `COLUMNS`) were not asked for, and are not named."""
    row = next((r for r in report.rows if r.wrt == name), None)
    if row is None:
        return Evidence((), (), ("every check (not a name the generated module computes)",), None)
    agreed: list[str] = []
    failed: list[str] = []
    skipped: list[str] = []
    errors: list[float] = []
    for column in COLUMNS:
        if column in left_out:
            continue
        cell: Cell = row.cells[column]
        label = NAMES[column]
        if cell.status == "n/a":
            skipped.append(f"{label} ({cell.note})" if cell.note else label)
            continue
        (failed if cell.failed else agreed).append(label)
        if cell.error is not None:
            errors.append(cell.error)
    return Evidence(tuple(agreed), tuple(failed), tuple(skipped), max(errors, default=None))


class EvidenceCache:
    """`verify_spec` once per spec file; with `use_torch=False` the torch column is neither run
    nor named."""

    def __init__(self, use_torch: bool = True) -> None:
        self.use_torch = use_torch
        self.left_out = frozenset() if use_torch else frozenset({"gen_vs_torch"})
        self.reports: dict[Path, SpecReport] = {}

    def __call__(self, spec: Path, name: str) -> Evidence:
        key = spec.resolve()
        if key not in self.reports:
            import numpy as np

            with np.errstate(all="ignore"):  # an overflow is a failed cell, said in the line
                self.reports[key] = verify_spec(key, use_torch=self.use_torch)
        return evidence_of(self.reports[key], name, self.left_out)
