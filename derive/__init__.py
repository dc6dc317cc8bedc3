"""Symbolic gradients of neural networks: spec files, matrix-form chain rule, printers, checks.

Convention: a gradient ∂J/∂X has the shape of X (denominator layout); ∂J/∂W⁽²⁾ = 2(ŷ − y)zᵀ.
"""

from derive.api import GradientResult, Network, load, network
from derive.errors import GradproofError, SpecError, UnknownVariableError

__all__ = [
    "GradientResult",
    "GradproofError",
    "Network",
    "SpecError",
    "UnknownVariableError",
    "load",
    "network",
]
