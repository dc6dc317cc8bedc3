"""PyTorch autograd as a further oracle (optional): the spec's forward pass in torch, then backward.

Only the forward equations are interpreted here; every gradient comes from torch's own autograd.
Returns (None, reason) when torch is not installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from derive import expr as E
from derive.activations import ACTIVATIONS
from derive.api import Network


def torch_gradients(
    net: Network, values: Mapping[str, np.ndarray], names: Sequence[str]
) -> tuple[dict[str, np.ndarray] | None, str]:
    """d loss / d name for the given names by torch autograd, in float64."""
    try:
        torch: Any = importlib.import_module("torch")
    except ImportError:
        return None, "torch not installed"
    spec = net.spec
    env: dict[str, Any] = {
        n: torch.tensor(np.asarray(values[n], dtype=np.float64), requires_grad=True)
        for n in spec.variables
    }
    for eq in spec.equations:
        value = _evaluate(torch, eq.expr, env, spec.dims)
        if eq.name in names:
            value.retain_grad()
        env[eq.name] = value
    env[spec.loss].sum().backward()
    out: dict[str, np.ndarray] = {}
    for n in names:
        grad = env[n].grad
        out[n] = np.zeros(env[n].shape) if grad is None else grad.detach().numpy().copy()
    return out, f"torch {torch.__version__}"


def _evaluate(torch: Any, e: E.Expr, env: Mapping[str, Any], dims: Mapping[str, int]) -> Any:
    subs = {E.dim_symbol(d): n for d, n in dims.items()}

    def num(v: Any) -> float:
        return float(v.xreplace(subs))

    def ev(n: E.Expr) -> Any:
        k = [ev(c) for c in n.children]
        if isinstance(n, E.Var):
            return env[n.name]
        if isinstance(n, E.Const):
            return torch.tensor([[num(n.value)]], dtype=torch.float64)
        if isinstance(n, E.Add):
            total = k[0]
            for t in k[1:]:
                total = total + t
            return total
        if isinstance(n, E.Scale):
            return num(n.coef) * k[0]
        if isinstance(n, E.MatMul):
            out = k[0]
            for t in k[1:]:
                out = out @ t
            return out
        if isinstance(n, E.Hadamard | E.ScalarMul):
            out = k[0]
            for t in k[1:]:
                out = out * t
            return out
        if isinstance(n, E.Div):
            return k[0] / k[1]
        if isinstance(n, E.Power):
            return k[0] ** num(n.exponent)
        if isinstance(n, E.Transpose):
            return k[0].T
        if isinstance(n, E.Apply):
            act = ACTIVATIONS[n.fn]
            param = n.param if n.param is not None else act.param_value()
            return act.torch(torch, k[0], num(param))
        if isinstance(n, E.SumAll):
            return k[0].sum().reshape(1, 1)
        if isinstance(n, E.Mean):
            return k[0].mean().reshape(1, 1)
        raise NotImplementedError(f"no torch evaluation for {type(n).__name__}")

    return ev(e)
