"""Symbolic gradients of neural networks: spec files, matrix-form chain rule, printers, checks.

Convention: a gradient ∂J/∂X has the shape of X (denominator layout); ∂J/∂W⁽²⁾ = 2(ŷ − y)zᵀ.
"""

from derive.answers.check import CheckResult, check
from derive.api import GradientResult, Network, load, network
from derive.errors import AnswerError, GradproofError, SpecError, UnknownVariableError

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
