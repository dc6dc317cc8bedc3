"""Compile one [forward] expression (via a whitelisted `ast`) into shape-checked nodes."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass

from numeric.errors import NumericSpecError
from numeric.spec import FUNCTIONS

Shape = tuple[int, int]
SCALAR: Shape = (1, 1)
DEFAULT_LEAKY_ALPHA = 0.01


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
        self, source: str, name: str, expr: str, known: Mapping[str, Shape], later: set[str]
    ) -> None:
        self.source = source
        self.name = name
        self.expr = expr
        self.known = known
        self.later = later
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
            "+ - * / @ **, unary -, .T and calls of " + ", ".join(FUNCTIONS)
        )

    def visit_name(self, name: str) -> int:
        if name in self.known:
            return self.emit(Ref(name, self.known[name]))
        if name == self.name:
            raise self.fail(f"'{name}' refers to itself")
        if name in self.later:
            raise self.fail(f"'{name}' is defined later in [forward]; order matters")
        if name in FUNCTIONS:
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
        elif op == "mul":
            result = broadcast_shape(a, b) if SCALAR in (a, b) or a == b else None
            expected = "equal shapes (Hadamard) or a 1x1 scalar on one side"
        else:  # div
            result = a if b == SCALAR else None
            expected = "a 1x1 scalar denominator"
        if result is None:
            raise self.fail(f"shapes {where}: expected {expected}")
        return self.emit(Apply(op, (left, right), result))

    def visit_call(self, node: ast.Call) -> int:
        if not isinstance(node.func, ast.Name):
            called = ast.unparse(node.func)
            raise self.fail(f"only plain function calls are allowed, got {called!r}")
        func = node.func.id
        if func not in FUNCTIONS:
            raise self.fail(f"unknown function '{func}'; allowed: " + ", ".join(FUNCTIONS))
        if node.keywords:
            raise self.fail(f"{func}() takes positional arguments only")
        n_max = 2 if func == "leaky_relu" else 1
        if not 1 <= len(node.args) <= n_max or any(isinstance(a, ast.Starred) for a in node.args):
            expected = "1 or 2 arguments" if n_max == 2 else "exactly 1 argument"
            raise self.fail(f"{func}() takes {expected}, got {len(node.args)}")
        # Fuse the exact pattern log(sum(exp(E))) so that it is evaluated with a max shift.
        if func == "log":
            summed = _is_call_of(node.args[0], "sum")
            exponent = _is_call_of(summed, "exp") if summed is not None else None
            if exponent is not None:
                arg = self.visit(exponent)
                return self.emit(Apply("logsumexp", (arg,), SCALAR))
        arg = self.visit(node.args[0])
        if func in ("sum", "mean"):
            return self.emit(Apply(func, (arg,), SCALAR))
        params: tuple[tuple[str, float], ...] = ()
        if func == "leaky_relu":
            alpha = (
                self.constant(node.args[1], "leaky_relu alpha")
                if len(node.args) == 2
                else DEFAULT_LEAKY_ALPHA
            )
            params = (("alpha", alpha),)
        return self.emit(Apply(func, (arg,), self.shape(arg), params))


def compile_equation(
    source: str, name: str, expr: str, known: Mapping[str, Shape], later: set[str]
) -> Equation:
    """Compile `name = expr`; `known` maps usable names to shapes, `later` are forbidden."""
    compiler = _Compiler(source, name, expr, known, later)
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
