"""Symbolic gradients of neural networks: spec files, matrix-form chain rule, printers, checks.

Convention: a gradient ∂J/∂X has the shape of X (denominator layout); ∂J/∂W⁽²⁾ = 2(ŷ − y)zᵀ.
"""

from typing import Any

from derive.api import GradientResult, Network, load, network
from derive.errors import AnswerError, GradproofError, SpecError, UnknownVariableError


def __getattr__(name: str) -> Any:
    # the grader (NumPy, multiprocessing) loads on first use: `gradproof derive` starts faster
    if name in ("check", "CheckResult"):
        from derive.answers import check as grader

        return getattr(grader, name)
    raise AttributeError(f"module 'derive' has no attribute {name!r}")


__all__ = [
    "AnswerError",
    "CheckResult",
    "GradientResult",
    "GradproofError",
    "Network",
    "SpecError",
    "UnknownVariableError",
    "check",
    "load",
    "network",
]
