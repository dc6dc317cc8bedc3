"""Read and validate a network spec (TOML) into plain dataclasses with concrete dims."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numeric.errors import NumericSpecError
from numeric.ops import ACTIVATIONS

ROLES = ("input", "target", "param")
STRUCTURAL = ("sum", "mean", "standardize", "batchnorm", "softmax", "log_softmax")
LOSSES = ("cross_entropy", "binary_cross_entropy", "bce_with_logits")  # (prediction, target)
VALUES = ("real", "onehot", "probabilities")  # a target's columns may be declared to sum to 1


def functions() -> tuple[str, ...]:
    """What a spec may call: numeric's activation table (as it is now), the reductions and the
    normalizations."""
    return (*ACTIVATIONS, *STRUCTURAL, *LOSSES)

_TOP_KEYS = frozenset({"title", "description", "dims", "vars", "forward"})
_VAR_KEYS = frozenset({"shape", "role", "latex", "range", "values"})
_FORWARD_KEYS = frozenset({"expr", "latex"})
# Range ends: 0 or of a magnitude whose square and reciprocal stay normal float64 numbers.
RANGE_MIN, RANGE_MAX = 1e-150, 1e150


@dataclass(frozen=True)
class VarSpec:
    """One [vars] entry with its shape resolved to numbers."""

    name: str
    shape: tuple[int, int]
    role: str
    value_range: tuple[float, float] | None
    values: str = "real"


@dataclass(frozen=True)
class EquationSpec:
    """One [forward] entry: the name it defines and its expression text."""

    name: str
    expr: str


@dataclass(frozen=True)
class NetworkSpec:
    """A whole spec file, validated up to (not including) the expressions."""

    source: str
    title: str
    description: str
    dims: dict[str, int]
    variables: list[VarSpec]
    equations: list[EquationSpec]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Reader:
    """Validates one parsed TOML document; every error names the file and the entry."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> NumericSpecError:
        return NumericSpecError(f"{self.source}: {where}: {message}")

    def table(self, doc: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = doc.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"[{key}]", f"expected a table, got {type(value).__name__}")
        return value

    def check_name(self, where: str, name: str) -> None:
        if not name.isidentifier():
            raise self.fail(where, f"name {name!r} is not an identifier usable in expressions")
        if name in functions():
            raise self.fail(where, f"name {name!r} clashes with the function of that name")

    def optional_str(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = table.get(key, "")
        if not isinstance(value, str):
            raise self.fail(where, f"expected '{key}' to be a string, got {type(value).__name__}")
        return value

    def dims(self, doc: Mapping[str, Any], overrides: Mapping[str, int] | None) -> dict[str, int]:
        dims: dict[str, int] = {}
        for name, value in self.table(doc, "dims").items():
            where = f"[dims] {name}"
            self.check_name(where, name)
            if not _is_int(value) or value < 1:
                raise self.fail(where, f"expected a positive integer, got {value!r}")
            dims[name] = value
        for name, value in (overrides or {}).items():
            where = f"dims override {name}"
            if name not in dims:
                known = ", ".join(dims) or "none"
                raise self.fail(where, f"no such dim in [dims] (known: {known})")
            if not _is_int(value) or value < 1:
                raise self.fail(where, f"expected a positive integer, got {value!r}")
            dims[name] = value
        return dims

    def extent(self, where: str, entry: object, dims: Mapping[str, int]) -> int:
        if isinstance(entry, str):
            if entry not in dims:
                raise self.fail(where, f"shape uses dim {entry!r}, which is not in [dims]")
            return dims[entry]
        if _is_int(entry) and entry == 1:
            return 1
        raise self.fail(where, f"expected each shape entry to be a dim name or 1, got {entry!r}")

    def shape(self, where: str, raw: object, dims: Mapping[str, int]) -> tuple[int, int]:
        if raw == "scalar":
            return (1, 1)
        if not isinstance(raw, list) or len(raw) != 2:
            raise self.fail(where, f'expected shape "scalar" or [rows, cols], got {raw!r}')
        return (self.extent(where, raw[0], dims), self.extent(where, raw[1], dims))

    def value_range(self, where: str, raw: object) -> tuple[float, float] | None:
        if raw is None:
            return None
        if not isinstance(raw, list) or len(raw) != 2 or not all(_is_number(v) for v in raw):
            raise self.fail(where, f"expected range = [lo, hi], two numbers, got {raw!r}")
        lo, hi = float(raw[0]), float(raw[1])
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise self.fail(
                where,
                f"expected range = [lo, hi] with finite lo <= hi (lo == hi: a constant), "
                f"got {raw!r}",
            )
        for end in (lo, hi):
            if end != 0 and not RANGE_MIN <= abs(end) <= RANGE_MAX:
                raise self.fail(
                    where,
                    f"expected each end of range to be 0 or between {RANGE_MIN:g} and "
                    f"{RANGE_MAX:g} in magnitude, got {raw!r}",
                )
        return (lo, hi)

    def variables(self, doc: Mapping[str, Any], dims: Mapping[str, int]) -> list[VarSpec]:
        out: list[VarSpec] = []
        for name, entry in self.table(doc, "vars").items():
            where = f"[vars] {name}"
            self.check_name(where, name)
            if not isinstance(entry, dict):
                raise self.fail(where, "expected an inline table { shape = ..., role = ... }")
            unknown = sorted(set(entry) - _VAR_KEYS)
            if unknown:
                raise self.fail(where, f"unknown key(s) {unknown}; allowed: {sorted(_VAR_KEYS)}")
            if "shape" not in entry:
                raise self.fail(where, "missing 'shape'")
            role = entry.get("role")
            if role not in ROLES:
                raise self.fail(where, f"expected role one of {list(ROLES)}, got {role!r}")
            self.optional_str(entry, "latex", where)
            shape = self.shape(where, entry["shape"], dims)
            values = entry.get("values", "real")
            if values not in VALUES or (values != "real" and role != "target"):
                raise self.fail(where, f"expected values one of {list(VALUES)} (on a target), "
                                f"got {values!r}")  # fmt: skip
            value_range = self.value_range(where, entry.get("range"))
            out.append(VarSpec(name, shape, role, value_range, values))
        if not out:
            raise self.fail("[vars]", "expected at least one variable")
        return out

    def equations(self, doc: Mapping[str, Any], var_names: set[str]) -> list[EquationSpec]:
        out: list[EquationSpec] = []
        for name, entry in self.table(doc, "forward").items():
            where = f"[forward] {name}"
            self.check_name(where, name)
            if name in var_names:
                raise self.fail(where, "name is already a [vars] entry")
            if isinstance(entry, str):
                expr = entry
            elif isinstance(entry, dict):
                unknown = sorted(set(entry) - _FORWARD_KEYS)
                if unknown:
                    raise self.fail(where, f"unknown key(s) {unknown}; allowed: expr, latex")
                raw_expr = entry.get("expr")
                if not isinstance(raw_expr, str):
                    raise self.fail(where, "expected 'expr' to be a string")
                expr = raw_expr
                self.optional_str(entry, "latex", where)
            else:
                raise self.fail(where, 'expected "expr" or { expr = "...", latex = "..." }')
            out.append(EquationSpec(name, expr))
        if not out:
            raise self.fail("[forward]", "expected at least one equation (the last is the loss)")
        return out


def read_spec(path: str | Path, dims: Mapping[str, int] | None = None) -> NetworkSpec:
    """Parse and validate the TOML file at `path`; `dims` overrides [dims] numbers."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            doc = tomllib.load(handle)
    except OSError as exc:
        raise NumericSpecError(f"{source}: cannot read spec file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise NumericSpecError(f"{source}: invalid TOML: {exc}") from exc
    return spec_from_document(doc, source, dims)


def spec_from_document(
    doc: Mapping[str, Any], source: str, dims: Mapping[str, int] | None = None
) -> NetworkSpec:
    """Validate an already parsed TOML document; `source` names it in error messages."""
    reader = _Reader(source)
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise reader.fail("top level", f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    title = reader.optional_str(doc, "title", "title") or Path(source).stem
    description = reader.optional_str(doc, "description", "description")
    concrete_dims = reader.dims(doc, dims)
    variables = reader.variables(doc, concrete_dims)
    equations = reader.equations(doc, {v.name for v in variables})
    return NetworkSpec(source, title, description, concrete_dims, variables, equations)
