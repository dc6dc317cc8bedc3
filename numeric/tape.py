"""The reverse-mode engine: a Network built from a spec, with forward, backward and sampling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from numeric.errors import NumericError, NumericSpecError, NumericValueError, RuleContractError
from numeric.expression import Apply, Const, Equation, Ref, Shape, compile_equation
from numeric.ops import (
    OPS,
    Array,
    BackwardRule,
    ForwardRule,
    backward_rule,
    forward_rule,
    is_kink_op,
)
from numeric.spec import NetworkSpec, read_spec

INTERMEDIATE = "intermediate"


@dataclass(frozen=True)
class VarInfo:
    """A named quantity: a var (role input/target/param) or an intermediate."""

    name: str
    shape: tuple[int, int]
    role: str
    value_range: tuple[float, float] | None = None
    values: str = "real"  # "onehot" or "probabilities": each column sums to 1


@dataclass
class Evaluation:
    """One forward pass: every value, the loss, and the inputs of every kink op."""

    values: dict[str, Array]
    loss: float
    kink_inputs: list[Array]
    node_values: dict[str, list[Array]] = field(repr=False)


class Network:
    """A compiled spec with concrete dims: run it forward and backward in one dtype."""

    def __init__(self, spec: NetworkSpec, dtype: npt.DTypeLike = np.float64) -> None:
        self.source = spec.source
        self.title = spec.title
        self.description = spec.description
        self.dims: dict[str, int] = dict(spec.dims)
        self.dtype: np.dtype[Any] = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise NumericError(f"dtype must be a floating type, got {self.dtype}")
        self.variables: dict[str, VarInfo] = {
            v.name: VarInfo(v.name, v.shape, v.role, v.value_range, v.values)
            for v in spec.variables
        }
        self.inputs_order: list[str] = [v.name for v in spec.variables]
        self.equations: list[Equation] = self._compile(spec)
        self.intermediates: list[str] = [eq.name for eq in self.equations]
        for eq in self.equations:
            self.variables[eq.name] = VarInfo(eq.name, eq.shape, INTERMEDIATE)
        self.loss: str = self.equations[-1].name
        self._plans: list[tuple[str, _Steps]] = [_plan(eq, self.dtype) for eq in self.equations]

    def _compile(self, spec: NetworkSpec) -> list[Equation]:
        known: dict[str, Shape] = {v.name: v.shape for v in spec.variables}
        later = {eq.name for eq in spec.equations}
        equations: list[Equation] = []
        for eq_spec in spec.equations:
            later.discard(eq_spec.name)
            eq = compile_equation(
                spec.source, eq_spec.name, eq_spec.expr, known, later, dict(spec.dims)
            )
            known[eq.name] = eq.shape
            equations.append(eq)
        loss = equations[-1]
        if loss.shape != (1, 1):
            raise NumericSpecError(
                f"{spec.source}: [forward] {loss.name} = {loss.expr!r}: the last equation is "
                f"the loss and must be 1x1, got {loss.shape[0]}x{loss.shape[1]}"
            )
        return equations

    def __repr__(self) -> str:
        return f"Network({self.title!r}, dims={self.dims}, dtype={self.dtype.name})"

    # ---- checking what callers hand in -----------------------------------------------------

    def _as_value(self, name: str, value: object) -> Array:
        info = self.variables[name]
        if type(value) is np.ndarray and value.dtype == self.dtype and value.shape == info.shape:
            return value  # the common case, already what the checks below would return
        if not isinstance(value, np.ndarray):
            raise NumericValueError(
                f"{self.title}: value for '{name}' must be a numpy array of shape "
                f"{info.shape}, got {type(value).__name__}"
            )
        if value.shape != info.shape:
            raise NumericValueError(
                f"{self.title}: value for '{name}' has shape {value.shape}, expected {info.shape}"
            )
        if value.dtype.kind not in "fiu":
            raise NumericValueError(
                f"{self.title}: value for '{name}' has dtype {value.dtype}, expected real numbers"
            )
        return value.astype(self.dtype, copy=False)

    def _check_values(self, values: Mapping[str, object]) -> dict[str, Array]:
        """Vars from `values`; intermediates in `values` are ignored (they are recomputed)."""
        for name in values:
            if name not in self.variables:
                raise NumericValueError(f"{self.title}: unknown name '{name}' in values")
        missing = [name for name in self.inputs_order if name not in values]
        if missing:
            raise NumericValueError(f"{self.title}: missing value(s) for {missing}")
        return {name: self._as_value(name, values[name]) for name in self.inputs_order}

    def _check_override(self, override: Mapping[str, object] | None) -> dict[str, Array]:
        checked: dict[str, Array] = {}
        for name, value in (override or {}).items():
            if name not in self.variables or self.variables[name].role != INTERMEDIATE:
                raise NumericValueError(
                    f"{self.title}: override '{name}' is not an intermediate of this network"
                )
            checked[name] = self._as_value(name, value)
        return checked

    def _check_result(self, op: str, result: Array, shape: tuple[int, ...], what: str) -> None:
        if result.shape != shape or result.dtype != self.dtype:
            raise RuleContractError(
                f"{what} rule of op '{op}' returned {result.dtype.name} {result.shape}, "
                f"expected {self.dtype.name} {shape}"
            )

    # ---- forward -------------------------------------------------------------------------

    def evaluate(
        self, values: Mapping[str, object], override: Mapping[str, object] | None = None
    ) -> Evaluation:
        """Run forward; an intermediate in `override` takes the given value, not its equation."""
        env = self._check_values(values)
        pinned = self._check_override(override)
        kink_inputs: list[Array] = []
        node_values: dict[str, list[Array]] = {}
        dtype = self.dtype
        for name, steps in self._plans:
            if name in pinned:
                env[name] = pinned[name]
                continue
            computed: list[Array] = []
            push = computed.append
            for kind, what, args, shape, params in steps:
                if kind == _REF:
                    push(env[what])
                elif kind == _CONST:
                    push(what.copy())  # a fresh (1, 1) array of the dtype per pass
                else:
                    arg_values = [computed[i] for i in args]
                    if kind == _KINK:
                        kink_inputs.append(arg_values[0])
                    result = _forward(what)(*arg_values, **params)
                    if result.shape != shape or result.dtype != dtype:
                        self._check_result(what, result, shape, "forward")
                    push(result)
            env[name] = computed[-1]
            node_values[name] = computed
        loss = float(env[self.loss][0, 0])
        return Evaluation(env, loss, kink_inputs, node_values)

    def forward(
        self, values: Mapping[str, object], override: Mapping[str, object] | None = None
    ) -> dict[str, Array]:
        """Every var and intermediate, each a 2-D array of its declared shape.

        `values` must hold every var (numpy arrays of the declared 2-D shape; scalars are
        (1, 1)); they are cast to the network's dtype. Intermediates found in `values` are
        ignored (recomputed); to pin one, pass it in `override` instead.
        """
        return self.evaluate(values, override).values

    def loss_value(
        self, values: Mapping[str, object], override: Mapping[str, object] | None = None
    ) -> float:
        """The loss as a Python float."""
        return self.evaluate(values, override).loss

    def kink_inputs(
        self, values: Mapping[str, object], override: Mapping[str, object] | None = None
    ) -> list[Array]:
        """The argument of every relu / leaky_relu evaluation, in evaluation order."""
        return self.evaluate(values, override).kink_inputs

    # ---- backward ------------------------------------------------------------------------

    def _backprop_equation(
        self, name: str, steps: _Steps, computed: list[Array], x_bar: dict[str, Array]
    ) -> None:
        """Push x_bar[name] back through one equation's nodes into the names it reads."""
        dtype = self.dtype
        node_bar: list[Array | None] = [None] * len(steps)
        node_bar[-1] = x_bar[name]
        for index in range(len(steps) - 1, -1, -1):
            y_bar = node_bar[index]
            kind, what, args, _, params = steps[index]
            if y_bar is None or kind == _CONST:
                continue
            if kind == _REF:
                total = x_bar.get(what)
                x_bar[what] = y_bar if total is None else total + y_bar
                continue
            arg_values = [computed[i] for i in args]
            arg_bars = _vjp(what)(y_bar, computed[index], *arg_values, **params)
            if len(arg_bars) != len(args):
                raise RuleContractError(
                    f"backward rule of op '{what}' returned {len(arg_bars)} cotangents "
                    f"for {len(args)} arguments"
                )
            for arg, arg_value, arg_bar in zip(args, arg_values, arg_bars, strict=True):
                if arg_bar.shape != arg_value.shape or arg_bar.dtype != dtype:
                    self._check_result(what, arg_bar, arg_value.shape, "backward")
                total = node_bar[arg]
                node_bar[arg] = arg_bar if total is None else total + arg_bar

    def backward(
        self, values: Mapping[str, object], override: Mapping[str, object] | None = None
    ) -> tuple[dict[str, Array], dict[str, Array]]:
        """Forward values and d(loss)/d(name) for every var and intermediate but the loss.

        Gradients use the denominator layout (each has its variable's shape). A name used
        several times sums its contributions. With `override`, pinned intermediates are
        treated as inputs: nothing flows back through their equations.
        """
        run = self.evaluate(values, override)
        return run.values, self.backward_from(run)

    def backward_from(self, run: Evaluation) -> dict[str, Array]:
        """The gradients `backward` returns, from a forward pass already run by `evaluate`.

        Saves the second forward pass when the caller needs the Evaluation (loss, kink
        inputs) as well as the gradients. Pinned intermediates of that pass stay pinned.
        """
        # x_bar[name]: dloss/dname accumulated so far. Never updated in place, since a rule
        # may hand the same array object to several arguments (add, sub).
        x_bar: dict[str, Array] = {self.loss: np.ones((1, 1), dtype=self.dtype)}
        for name, steps in reversed(self._plans):
            if name in run.node_values and name in x_bar:  # else pinned or unused
                self._backprop_equation(name, steps, run.node_values[name], x_bar)
        grads: dict[str, Array] = {}
        seen: set[int] = set()
        for name, info in self.variables.items():
            if name == self.loss:
                continue
            grad = x_bar.get(name)
            if grad is None:
                grad = np.zeros(info.shape, dtype=self.dtype)
            elif id(grad) in seen:  # e.g. add() hands one cotangent to both arguments
                grad = grad.copy()
            seen.add(id(grad))
            grads[name] = grad
        return grads


# ---- compiled equations: one flat tuple per node, so a pass does no pattern matching ------

_REF, _CONST, _APPLY, _KINK = 0, 1, 2, 3  # node kinds; _KINK: an op in KINK_OPS
# (kind, name / constant / op, argument indices, result shape, op parameters)
_Step = tuple[int, Any, tuple[int, ...], tuple[int, ...], dict[str, float]]
_Steps = tuple[_Step, ...]


def _forward(op: str) -> ForwardRule:
    """forward_rule(op), looked up on every pass; the checked call only when it fails."""
    entry = OPS.get(op)
    rule = None if entry is None else entry.forward
    return forward_rule(op) if rule is None else rule


def _vjp(op: str) -> BackwardRule:
    """backward_rule(op), looked up on every pass; the checked call only when it fails."""
    entry = OPS.get(op)
    rule = None if entry is None else entry.vjp
    return backward_rule(op) if rule is None else rule


def _plan(eq: Equation, dtype: np.dtype[Any]) -> tuple[str, _Steps]:
    """(name, steps) of one equation: its nodes in evaluation order, as flat tuples.

    Op rules are still looked up by name on every pass, so a patched OPS table takes effect.
    """
    steps: list[_Step] = []
    for node in eq.nodes:
        match node:
            case Ref(name=name):
                steps.append((_REF, name, (), node.shape, {}))
            case Const(value=value):
                const = np.full((1, 1), value, dtype=dtype)
                steps.append((_CONST, const, (), node.shape, {}))
            case Apply(op=op, args=args, params=params):
                kind = _KINK if is_kink_op(op) else _APPLY
                steps.append((kind, op, args, node.shape, dict(params)))
    return eq.name, tuple(steps)


def load_network(
    path: str | Path, dims: Mapping[str, int] | None = None, dtype: npt.DTypeLike = np.float64
) -> Network:
    """Read a spec file and compile it with concrete dims (`dims` overrides [dims])."""
    return Network(read_spec(path, dims), dtype)


def random_values(network: Network, rng: np.random.Generator) -> dict[str, Array]:
    """A value for every var: one-hot or probability columns for a target that declares them,
    uniform in its `range` if given, else standard normal."""
    values: dict[str, Array] = {}
    for name in network.inputs_order:
        info = network.variables[name]
        if info.values == "onehot":  # one 1 per column, at a random row
            sample = np.zeros(info.shape)
            sample[rng.integers(0, info.shape[0], size=info.shape[1]), np.arange(info.shape[1])] = 1
        elif info.values == "probabilities":  # each column uniform on the simplex
            sample = rng.dirichlet(np.ones(info.shape[0]), size=info.shape[1]).T
        elif info.value_range is None:
            sample = rng.standard_normal(info.shape)
        else:
            low, high = info.value_range
            sample = rng.uniform(low, high, size=info.shape)
        # Drawn in float64 then rounded, so a float32 network sees the same numbers (rounded).
        values[name] = sample.astype(network.dtype)
    return values
