"""PyTorch autograd as a further oracle (optional): the spec's forward pass in torch, then backward.

Only the forward equations are interpreted here; every gradient comes from torch's own autograd.
Returns (None, reason) when torch is not installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from derive.api import Network
from derive.evaluate import evaluate, torch_backend


def torch_gradients(
    net: Network, values: Mapping[str, np.ndarray], names: Sequence[str]
) -> tuple[dict[str, np.ndarray] | None, str]:
    """d loss / d name for the given names by torch autograd, in float64."""
    try:
        torch: Any = importlib.import_module("torch")
    except ImportError:
        return None, "torch not installed"
    spec = net.spec
    backend = torch_backend(torch)
    env: dict[str, Any] = {
        n: torch.tensor(np.asarray(values[n], dtype=np.float64), requires_grad=True)
        for n in spec.variables
    }
    for eq in spec.equations:
        value = evaluate(eq.expr, env, spec.dims, backend)
        if eq.name in names:
            value.retain_grad()
        env[eq.name] = value
    env[spec.loss].sum().backward()
    out: dict[str, np.ndarray] = {}
    for n in names:
        grad = env[n].grad
        out[n] = np.zeros(env[n].shape) if grad is None else grad.detach().numpy().copy()
    return out, f"torch {torch.__version__}"
