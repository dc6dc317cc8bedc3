"""The one way derive/ walks an expression tree: a method per node class, found by name.

Every walker (the LaTeX, MathML and SymPy printers, the NumPy code printer, the evaluator over
its backends, the backward rules) is a class with one method per node type, named
`<prefix><Class>`: `_print_MatMul`, `_code_Hadamard`, `_eval_Apply`, `_back_SumAll`. `handler`
finds the method along the node's class hierarchy (so a subclass of a node is handled as its base
unless it has its own method), and a node nobody taught the walker is refused with one message
that names both, never an AttributeError or a KeyError from deep inside.

This is SymPy's `_print_<Class>` protocol, kept for every walker: adding a node type means adding
one method to each walker, and `tests/test_backend_coverage.py` lists the ones that lack it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class MissingRule(NotImplementedError):
    """A walker has no method for a node type."""


def handler(walker: object, prefix: str, node: object, what: str) -> Callable[..., Any]:
    """The bound method `walker.<prefix><Class>` for node's class or its nearest base.

    `what` says what the walker makes, for the message ("LaTeX form", "NumPy code").
    """
    for cls in type(node).__mro__:
        method = getattr(walker, prefix + cls.__name__, None)
        if method is not None:
            return method  # type: ignore[no-any-return]
        if cls.__name__ == "Expr":
            break
    raise MissingRule(
        f"no {what} for {type(node).__name__} ({type(walker).__name__} has no "
        f"{prefix}{type(node).__name__})"
    )


def handled(walker: type, prefix: str) -> set[str]:
    """The node class names a walker class has a method for."""
    return {name[len(prefix) :] for name in dir(walker) if name.startswith(prefix)}
