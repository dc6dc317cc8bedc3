"""Compile one [forward] expression (via a whitelisted `ast`) into shape-checked nodes."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass

from numeric.errors import NumericSpecError
from numeric.ops import ACTIVATIONS
from numeric.spec import LOSSES, functions

Shape = tuple[int, int]
SCALAR: Shape = (1, 1)
DEFAULT_EPS = 1e-5  # standardize / batchnorm: added to the variance


@dataclass(frozen=True)
class Ref:
    """Reads a var or an earlier intermediate by name."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class Const:
    """A numeric constant, always a (1, 1) scalar."""

    value: float
    shape: Shape = SCALAR


@dataclass(frozen=True)
class Apply:
    """Applies an op from numeric.ops.OPS to earlier nodes of the same equation."""

    op: str
    args: tuple[int, ...]
    shape: Shape
    params: tuple[tuple[str, float], ...] = ()


Node = Ref | Const | Apply


@dataclass(frozen=True)
class Equation:
    """One intermediate: its nodes in evaluation order; the last node is its value."""

    name: str
    expr: str
    nodes: tuple[Node, ...]

    @property
    def shape(self) -> Shape:
        return self.nodes[-1].shape


_BINARY_OPS: dict[type[ast.operator], str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.MatMult: "matmul",
    ast.Pow: "pow",
}
_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@", "pow": "**"}


def broadcast_shape(a: Shape, b: Shape) -> Shape | None:
    """Result shape of a + b under the spec's broadcasts, or None if they do not combine."""
    if a == b or b == SCALAR:
        return a
    if a == SCALAR:
        return b
    if a[0] == b[0] and 1 in (a[1], b[1]):  # column vector against a matrix
        return (a[0], max(a[1], b[1]))
    if a[1] == b[1] and 1 in (a[0], b[0]):  # row vector against a matrix
        return (max(a[0], b[0]), a[1])
    return None


def _fmt(shape: Shape) -> str:
    return f"{shape[0]}x{shape[1]}"


def _is_call_of(node: ast.expr, name: str) -> ast.expr | None:
    """The single argument of `name(arg)`, or None if `node` is not exactly that call."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and len(node.args) == 1
        and not node.keywords
    ):
        return node.args[0]
    return None


class _Compiler:
    """Turns one expression's AST into a list of nodes, checking names and shapes."""

    def __init__(
        self,
        source: str,
        name: str,
        expr: str,
        known: Mapping[str, Shape],
        later: set[str],
        dims: Mapping[str, int] | None = None,
    ) -> None:
        self.source = source
        self.name = name
        self.expr = expr
        self.known = known
        self.later = later
        self.dims = dict(dims or {})
        self.nodes: list[Node] = []

    def fail(self, message: str) -> NumericSpecError:
        return NumericSpecError(f"{self.source}: [forward] {self.name} = {self.expr!r}: {message}")

    def emit(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def shape(self, index: int) -> Shape:
        return self.nodes[index].shape

    def constant(self, node: ast.expr, what: str) -> float:
        """Evaluate a numeric constant expression (literals, unary signs, + - * / **)."""
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(f"{what} must be a number, got {value!r}")
            try:
                number = float(value)
            except OverflowError:
                raise self.fail(f"{what} {value} does not fit a float") from None
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.constant(node.operand, what)
            number = -inner if isinstance(node.op, ast.USub) else inner
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPS:
            left = self.constant(node.left, what)
            right = self.constant(node.right, what)
            symbol = _SYMBOL[_BINARY_OPS[type(node.op)]]
            result: object
            try:
                if symbol == "+":
                    result = left + right
                elif symbol == "-":
                    result = left - right
                elif symbol == "*":
                    result = left * right
                elif symbol == "/":
                    result = left / right
                elif symbol == "**":
                    result = left**right
                else:
                    raise self.fail(f"{what} must be a numeric constant")
            except (OverflowError, ZeroDivisionError) as exc:
                raise self.fail(f"{what} cannot be evaluated: {exc}") from None
            if not isinstance(result, float):  # e.g. a complex from (-8) ** (1/3)
                raise self.fail(f"{what} is not a real number")
            number = result
        else:
            raise self.fail(f"{what} must be a numeric constant, got {ast.unparse(node)!r}")
        if not math.isfinite(number):
            raise self.fail(f"{what} must be finite, got {number}")
        return number

    def visit(self, node: ast.expr) -> int:
        if isinstance(node, ast.Name):
            return self.visit_name(node.id)
        if isinstance(node, ast.Constant):
            return self.emit(Const(self.constant(node, "constant")))
        if isinstance(node, ast.BinOp):
            return self.visit_binop(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand)
            if isinstance(node.op, ast.USub):
                if isinstance(node.operand, ast.Constant):
                    return self.emit(Const(self.constant(node, "constant")))
                arg = self.visit(node.operand)
                return self.emit(Apply("neg", (arg,), self.shape(arg)))
            raise self.fail(f"unsupported unary operator {type(node.op).__name__}")
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.fail(f"unsupported attribute .{node.attr} (only .T is allowed)")
            arg = self.visit(node.value)
            rows, cols = self.shape(arg)
            return self.emit(Apply("transpose", (arg,), (cols, rows)))
        if isinstance(node, ast.Call):
            return self.visit_call(node)
        raise self.fail(
            f"unsupported syntax {type(node).__name__}; allowed: names, numbers, "
            "+ - * / @ **, unary -, .T and calls of " + ", ".join(functions())
        )

    def visit_name(self, name: str) -> int:
        if name in self.known:
            return self.emit(Ref(name, self.known[name]))
        if name in self.dims:  # a dim in an equation is its size, a number (sum(E**2) / B)
            return self.emit(Const(float(self.dims[name])))
        if name == self.name:
            raise self.fail(f"'{name}' refers to itself")
        if name in self.later:
            raise self.fail(f"'{name}' is defined later in [forward]; order matters")
        if name in functions():
            raise self.fail(f"function '{name}' used without a call")
        raise self.fail(f"unknown name '{name}' (not in [vars] nor an earlier [forward] name)")

    def visit_binop(self, node: ast.BinOp) -> int:
        op = _BINARY_OPS.get(type(node.op))
        if op is None:
            raise self.fail(f"unsupported operator {type(node.op).__name__}")
        if op == "pow":
            base = self.visit(node.left)
            exponent = self.constant(node.right, "exponent of **")
            return self.emit(Apply("pow", (base,), self.shape(base), (("p", exponent),)))
        left = self.visit(node.left)
        right = self.visit(node.right)
        a, b = self.shape(left), self.shape(right)
        where = f"{_fmt(a)} {_SYMBOL[op]} {_fmt(b)}"
        result: Shape | None
        if op == "matmul":
            result = (a[0], b[1]) if a[1] == b[0] else None
            expected = "inner dimensions to agree"
        elif op in ("add", "sub"):
            result = broadcast_shape(a, b)
            expected = "equal shapes, a 1x1 scalar, or a row/column vector to broadcast"
        else:  # mul, div: elementwise, with the same broadcasts as + and -
            result = broadcast_shape(a, b)
            expected = "equal shapes, a 1x1 scalar, or a row/column vector to broadcast"
        if result is None:
            raise self.fail(f"shapes {where}: expected {expected}")
        return self.emit(Apply(op, (left, right), result))

    def visit_call(self, node: ast.Call) -> int:
        if not isinstance(node.func, ast.Name):
            called = ast.unparse(node.func)
            raise self.fail(f"only plain function calls are allowed, got {called!r}")
        func = node.func.id
        if func not in functions():
            raise self.fail(f"unknown function '{func}'; allowed: " + ", ".join(functions()))
        axis = self.axis_keyword(func, node)
        with_param = func in ACTIVATIONS and ACTIVATIONS[func].param is not None
        n_min, n_max = _ARITY.get(func, (1, 2 if with_param else 1))
        if not n_min <= len(node.args) <= n_max or any(
            isinstance(a, ast.Starred) for a in node.args
        ):
            expected = (
                f"exactly {n_min} argument{'s' if n_min > 1 else ''}"
                if n_min == n_max
                else f"{n_min} to {n_max} arguments"
            )
            raise self.fail(f"{func}() takes {expected}, got {len(node.args)}")
        # Fuse the exact pattern log(sum(exp(E))) so that it is evaluated with a max shift.
        if func == "log":
            summed = _is_call_of(node.args[0], "sum")
            exponent = _is_call_of(summed, "exp") if summed is not None else None
            if exponent is not None:
                arg = self.visit(exponent)
                return self.emit(Apply("logsumexp", (arg,), SCALAR))
        if func in ("standardize", "batchnorm"):
            return self.normalization(func, node)
        if func in LOSSES:
            prediction, target = self.visit(node.args[0]), self.visit(node.args[1])
            if self.shape(prediction) != self.shape(target):
                raise self.fail(
                    f"{func}() needs its two arguments of one shape, got "
                    f"{_fmt(self.shape(prediction))} and {_fmt(self.shape(target))}"
                )
            return self.emit(Apply(func, (prediction, target), SCALAR))
        arg = self.visit(node.args[0])
        if func in ("softmax", "log_softmax"):
            return self.emit(Apply(func, (arg,), self.shape(arg)))
        if func in ("sum", "mean"):
            if axis is None:
                return self.emit(Apply(func, (arg,), SCALAR))
            rows, cols = self.shape(arg)
            shape = (1, cols) if axis == 0 else (rows, 1)
            return self.emit(Apply(f"{func}_axis", (arg,), shape, (("axis", float(axis)),)))
        params: tuple[tuple[str, float], ...] = ()
        act = ACTIVATIONS[func]
        if act.param is not None:
            assert act.default is not None
            value = (
                self.constant(node.args[1], f"{func} {act.param}")
                if len(node.args) == 2
                else act.default
            )
            params = ((act.param, value),)
        return self.emit(Apply(func, (arg,), self.shape(arg), params))

    def axis_keyword(self, func: str, node: ast.Call) -> int | None:
        """The axis= of sum/mean (0: down the rows, giving a row; 1: across, giving a column)."""
        if not node.keywords:
            return None
        if func not in ("sum", "mean") or len(node.keywords) != 1 or node.keywords[0].arg != "axis":
            raise self.fail(f"{func}() takes positional arguments only (sum and mean take axis=)")
        value = node.keywords[0].value
        axis = value.value if isinstance(value, ast.Constant) else None
        if isinstance(axis, bool) or not isinstance(axis, int) or axis not in (0, 1):
            raise self.fail(f"{func}(..., axis=) must be 0 or 1, got {ast.unparse(value)!r}")
        return axis

    def normalization(self, func: str, node: ast.Call) -> int:
        """standardize(Z, eps): per row over the columns, (z - mean) / sqrt(var + eps);
        batchnorm(Z, gamma, beta, eps): gamma * standardize(Z, eps) + beta, gamma and beta
        columns of Z's height."""
        z = self.visit(node.args[0])
        rows, cols = self.shape(z)
        n_tensors = 1 if func == "standardize" else 3
        eps_at = n_tensors
        eps = (
            self.constant(node.args[eps_at], f"{func} eps")
            if len(node.args) > eps_at
            else DEFAULT_EPS
        )
        if not eps > 0:
            raise self.fail(f"{func} eps must be positive, got {eps}")
        hat = self.emit(Apply("standardize", (z,), (rows, cols), (("eps", eps),)))
        if func == "standardize":
            return hat
        gamma, beta = self.visit(node.args[1]), self.visit(node.args[2])
        for what, index in (("gamma", gamma), ("beta", beta)):
            if self.shape(index) not in ((rows, 1), SCALAR):
                raise self.fail(
                    f"batchnorm {what} has shape {_fmt(self.shape(index))}; expected "
                    f"{rows}x1 (one per row of Z) or 1x1"
                )
        scaled = self.emit(Apply("mul", (gamma, hat), (rows, cols)))
        return self.emit(Apply("add", (scaled, beta), (rows, cols)))


# the activations: from their row
_ARITY = {"standardize": (1, 2), "batchnorm": (3, 4), **{f: (2, 2) for f in LOSSES}}


def compile_equation(
    source: str,
    name: str,
    expr: str,
    known: Mapping[str, Shape],
    later: set[str],
    dims: Mapping[str, int] | None = None,
) -> Equation:
    """Compile `name = expr`; `known` maps usable names to shapes, `later` are forbidden;
    a name of `dims` stands for its size."""
    compiler = _Compiler(source, name, expr, known, later, dims)
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise compiler.fail(f"not a valid expression ({message})") from None
    except (RecursionError, MemoryError):
        raise compiler.fail("expression is nested too deeply") from None
    try:
        compiler.visit(tree.body)
    except RecursionError:
        raise compiler.fail("expression is nested too deeply") from None
    return Equation(name, expr, tuple(compiler.nodes))
