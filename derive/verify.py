"""`gradproof verify`: one table per spec, one row per gradient, each proved independent ways.

Columns: the symbolic element-wise check (sympy.diff entry by entry, small dims), the generated
NumPy module against numeric/'s backprop, the generated module against central finite
differences, and against PyTorch autograd when torch is installed. The generated module is
written to a real file and imported; numeric/ shares no code or rules with derive/.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import numeric
from derive.api import Network
from derive.codegen import write_module
from derive.elementwise import elementwise_check, small_dims
from derive.errors import VerificationError
from derive.limits import DEFAULT, Limits
from derive.torch_check import torch_gradients

GENERATED_VS_NUMERIC_RTOL = 1e-9
FD_RTOL = 1e-5
FD_EPS = 1e-6
FD_NOISE = 64.0  # roundoff of one loss evaluation, in units of eps * |loss|
FLOOR = 1e-10
# --dtype float32: the generated module and numeric/ run in float32; each is held to float32's
# precision, entry by entry relative to the gradient's largest entry (a float32 sum of terms
# of size M is exact only to about eps32 · M)
FLOAT32_RTOL = 1e-4
KINK_MARGIN = 1e-4
FULL_FD_MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Cell:
    """One check of one gradient: pass/fail, the error measured and the tolerance."""

    status: str  # "pass", "FAIL" or "n/a"
    error: float | None = None
    tol: float | None = None
    note: str = ""

    def text(self) -> str:
        if self.status == "n/a":
            return f"n/a ({self.note})" if self.note else "n/a"
        err = "" if self.error is None else f" {self.error:.1e}"
        tol = "" if self.tol is None else f" <= {self.tol:.0e}"
        return f"{self.status}{err}{tol if self.status == 'pass' else ''}" + (
            f" ({self.note})" if self.note else ""
        )

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


@dataclass
class Row:
    wrt: str
    shape: tuple[int, int]
    cells: dict[str, Cell]


@dataclass
class SpecReport:
    spec: str
    title: str
    dims: dict[str, int]
    elementwise_dims: dict[str, int]
    point_moves: int
    dtype: str = "float64"
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(c.failed for r in self.rows for c in r.cells.values())

    def failures(self) -> list[str]:
        return [f"{r.wrt}: {k}" for r in self.rows for k, c in r.cells.items() if c.failed]


COLUMNS = ("symbolic", "gen_vs_numeric", "gen_vs_fd", "gen_vs_torch")
HEADERS = {
    "symbolic": "sympy.diff per entry",
    "gen_vs_numeric": "generated vs numeric/",
    "gen_vs_fd": "generated vs finite diff.",
    "gen_vs_torch": "generated vs torch",
}


def load_generated(path: Path) -> ModuleType:
    """Import a generated module from its file."""
    spec = importlib.util.spec_from_file_location(f"gradproof_generated_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise VerificationError(f"{path}: cannot import the generated module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = FLOOR) -> float:
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        return float("inf")
    if not (np.all(np.isfinite(a64)) and np.all(np.isfinite(b64))):
        return float("inf")
    scale = np.maximum(np.maximum(np.abs(a64), np.abs(b64)), floor)
    return float(np.max(np.abs(a64 - b64) / scale)) if a64.size else 0.0


def _values_away_from_kinks(nnet: numeric.Network, seed: int) -> tuple[dict[str, np.ndarray], int]:
    """Random values; redrawn while any ReLU input sits within KINK_MARGIN of its kink."""
    for moves in range(20):
        values = numeric.random_values(nnet, np.random.default_rng(seed + moves))
        kinks = nnet.kink_inputs(values)
        if all(k.size == 0 or float(np.min(np.abs(k))) > KINK_MARGIN for k in kinks):
            return values, moves
    raise VerificationError("could not draw a point away from every ReLU kink in 20 tries")


def _finite_differences(
    nnet: numeric.Network, values: Mapping[str, np.ndarray], names: Sequence[str]
) -> tuple[dict[str, np.ndarray] | None, str]:
    entries = sum(nnet.variables[n].shape[0] * nnet.variables[n].shape[1] for n in names)
    if entries > FULL_FD_MAX_ENTRIES:
        return None, f"{entries} entries: see the directional check"
    fd = numeric.finite_difference_gradients(nnet, values, wrt=list(names), eps=FD_EPS)
    return fd, f"central, eps {FD_EPS:g}"


def verify_spec(
    path: str | Path,
    seed: int = 0,
    use_torch: bool = True,
    limits: Limits = DEFAULT,
    dtype: str = "float64",
) -> SpecReport:
    """Run every check on one spec and return its table.

    With dtype "float32" the generated module runs on float32 inputs and is compared with
    numeric/ in float32, with finite differences and with torch (both in float64), each to
    float32's precision (`FLOAT32_RTOL` of the gradient's largest entry).
    """
    net = Network.from_file(path, limits)
    nnet = numeric.load_network(path)
    report = SpecReport(
        spec=str(path),
        title=net.spec.title,
        dims=dict(net.spec.dims),
        elementwise_dims=small_dims(net.spec),
        point_moves=0,
        dtype=dtype,
    )
    with tempfile.TemporaryDirectory(prefix="gradproof-verify-") as tmp:
        module_path = Path(tmp) / "generated_gradients.py"
        write_module(net.derivation, str(path), module_path)
        module = load_generated(module_path)
        values, report.point_moves = _values_away_from_kinks(nnet, seed)
        names: list[str] = list(module.WRT)
        single = dtype == "float32"
        inputs = {k: v.astype(np.float32) for k, v in values.items()} if single else values
        generated: dict[str, np.ndarray] = module.all_gradients(**inputs)
    if single:
        _, numeric_grads = numeric.load_network(path, dtype=np.float32).backward(inputs)
    else:
        _, numeric_grads = nnet.backward(values)
    symbolic = {
        r.wrt: r for r in elementwise_check(net.derivation, names, dims=report.elementwise_dims)
    }
    fd, fd_note = _finite_differences(nnet, values, names)
    # a central difference cannot resolve below the loss's roundoff over the step: entries
    # smaller than fd_resolution / FD_RTOL are compared in absolute terms, to fd_resolution
    loss = abs(nnet.loss_value(values))
    fd_resolution = FD_NOISE * float(np.finfo(np.float64).eps) * max(1.0, loss) / FD_EPS
    torch_grads, torch_note = torch_gradients(net, values, names) if use_torch else (None, "off")
    for name in names:
        cells: dict[str, Cell] = {}
        s = symbolic[name]
        cells["symbolic"] = Cell("pass" if s.passed else "FAIL", s.max_rel_error, None, s.method)
        g = generated[name]
        if single:
            cells["gen_vs_numeric"] = _compare_single(g, numeric_grads[name])
            cells["gen_vs_fd"] = (
                _compare_single(g, fd[name]) if fd is not None else Cell("n/a", note=fd_note)
            )
            cells["gen_vs_torch"] = (
                _compare_single(g, torch_grads[name])
                if torch_grads is not None
                else Cell("n/a", note=torch_note)
            )
        else:
            cells["gen_vs_numeric"] = _compare(g, numeric_grads[name], GENERATED_VS_NUMERIC_RTOL)
            cells["gen_vs_fd"] = (
                _compare(g, fd[name], FD_RTOL, abs_floor=fd_resolution / FD_RTOL)
                if fd is not None
                else Cell("n/a", note=fd_note)
            )
            cells["gen_vs_torch"] = (
                _compare(g, torch_grads[name], GENERATED_VS_NUMERIC_RTOL)
                if torch_grads is not None
                else Cell("n/a", note=torch_note)
            )
        shape = nnet.variables[name].shape
        report.rows.append(Row(name, (shape[0], shape[1]), cells))
    if fd is not None:
        report.notes.append(
            f"finite differences: {fd_note}; resolution {fd_resolution:.1e} (entries smaller "
            f"than {fd_resolution / FD_RTOL:.1e} are compared to it in absolute terms)"
        )
    if fd is None:
        result = numeric.directional_check(nnet, values, wrt=list(nnet.inputs_order))
        report.notes.append(f"directional check of numeric/ instead: {result.verdict}")
    return report


def _compare_single(a: np.ndarray, b: np.ndarray) -> Cell:
    """A float32 result against a reference, relative to the reference's largest entry."""
    if a.dtype != np.float32:
        return Cell("FAIL", float("inf"), FLOAT32_RTOL, f"computed in {a.dtype}, not float32")
    largest = float(np.max(np.abs(np.asarray(b, dtype=np.float64)))) if np.size(b) else 0.0
    return _compare(a, b, FLOAT32_RTOL, abs_floor=max(largest, FLOOR))


def _compare(a: np.ndarray, b: np.ndarray, rtol: float, abs_floor: float = FLOOR) -> Cell:
    err = rel_error(a, b, floor=abs_floor)
    return Cell("pass" if err <= rtol else "FAIL", err, rtol)


def render_table(report: SpecReport) -> str:
    head = ["gradient", "shape", *(HEADERS[c] for c in COLUMNS)]
    body = [
        [r.wrt, f"{r.shape[0]}x{r.shape[1]}", *(r.cells[c].text() for c in COLUMNS)]
        for r in report.rows
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    verdict = "PASS" if report.passed else "FAIL"
    dims = ", ".join(f"{k}={v}" for k, v in report.dims.items()) or "none (all scalars)"
    small = ", ".join(f"{k}={v}" for k, v in report.elementwise_dims.items()) or "the same"
    out = [
        f"{report.spec}: {report.title} [{verdict}]"
        + (" (generated code and numeric/ in float32)" if report.dtype == "float32" else ""),
        f"dims {dims}; element-wise check at {small}; point moved {report.point_moves} "
        "time(s) to stay clear of ReLU kinks",
        line(head),
        line(["-" * w for w in widths]),
        *(line(b) for b in body),
        *report.notes,
    ]
    return "\n".join(out)


def reports_json(reports: Sequence[SpecReport]) -> str:
    data: list[dict[str, Any]] = []
    for r in reports:
        item = asdict(r)
        item["passed"] = r.passed
        item["failures"] = r.failures()
        data.append(item)
    return json.dumps(data, indent=2) + "\n"
