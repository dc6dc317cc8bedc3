"""The classification losses, one row each: what the spec calls, and how it is written in the
primitive ops, so that every walker (derivation, printers, evaluator, codegen, torch) reads it
without knowing it. Each is summed over every entry, like `sum` (a mean over a batch of B
columns is written `/ B`). The rows compose rows of the activation table (log, softplus).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from derive import expr as E


@dataclass(frozen=True)
class Loss:
    name: str
    first: str  # what the first argument is: "logits" or "probabilities"
    build: Callable[[E.Expr, E.Expr], E.Expr]  # (first argument, target) -> the scalar loss
    meaning: str


def _cross_entropy(z: E.Expr, y: E.Expr) -> E.Expr:
    return E.neg(E.sum_all(E.hadamard(y, E.LogSoftmax(z))))


def _binary_cross_entropy(p: E.Expr, y: E.Expr) -> E.Expr:
    one_minus_y = E.add(E.const(1), E.neg(y), shape=y.shape)
    log_q = E.Apply("log", E.add(E.const(1), E.neg(p), shape=p.shape))
    terms = E.add(E.hadamard(y, E.Apply("log", p)), E.hadamard(one_minus_y, log_q))
    return E.neg(E.sum_all(terms))


def _bce_with_logits(z: E.Expr, y: E.Expr) -> E.Expr:
    # −[y log σ(z) + (1 − y) log(1 − σ(z))] = softplus(z) − y z: no log of a rounded 0
    return E.sum_all(E.sub(E.Apply("softplus", z), E.hadamard(y, z)))


LOSSES: dict[str, Loss] = {
    row.name: row
    for row in (
        Loss("cross_entropy", "logits", _cross_entropy,
             "−Σ y ⊙ log softmax(z), softmax per column"),
        Loss("binary_cross_entropy", "probabilities", _binary_cross_entropy,
             "−Σ (y ⊙ log p + (1 − y) ⊙ log(1 − p))"),
        Loss("bce_with_logits", "logits", _bce_with_logits,
             "the binary cross-entropy of σ(z), as Σ (softplus(z) − y ⊙ z)"),
    )
}  # fmt: skip
