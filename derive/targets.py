"""Random values of a spec's variables (`draw_value`), and for a target whose columns sum to one
(`values = "onehot"` or "probabilities") exact ones.

A derivation that used Σ y = 1 per column (softmax with cross-entropy: ŷ − y) is checked only at
points where that holds, exactly: one-hot columns, or probabilities whose entries are dyadic
fractions (d / 2¹⁶, all positive), which float64 and mpmath represent without rounding, so the
column sums are exactly 1 in every backend and the element-by-element check stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from derive.expr import Shape
    from derive.spec import Variable

RESOLUTION = 2**16  # probabilities are multiples of 1/RESOLUTION


def column_values(
    kind: str, rows: int, cols: int, randint: Callable[[int, int], int]
) -> list[list[Fraction]]:
    """A rows × cols matrix (as rows of exact fractions) of one-hot or probability columns;
    `randint(a, b)` draws an integer in [a, b]."""
    out = [[Fraction(0)] * cols for _ in range(rows)]
    for j in range(cols):
        if kind == "onehot":
            out[randint(0, rows - 1)][j] = Fraction(1)
            continue
        cuts: set[int] = set()
        while len(cuts) < rows - 1:  # distinct cut points: every entry at least 1/RESOLUTION
            cuts.add(randint(1, RESOLUTION - 1))
        edges = [0, *sorted(cuts), RESOLUTION]
        for i in range(rows):
            out[i][j] = Fraction(edges[i + 1] - edges[i], RESOLUTION)
    return out


def column_array(kind: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """`column_values` as a float64 array (exact: the fractions are dyadic)."""
    rows = column_values(kind, shape[0], shape[1], lambda a, b: int(rng.integers(a, b + 1)))
    return np.array([[float(x) for x in row] for row in rows], dtype=np.float64)


def concrete_shape(shape: Shape, dims: Mapping[str, int]) -> tuple[int, int]:
    """A spec shape of dim names with the dims' values put in."""
    rows, cols = (d if isinstance(d, int) else dims[d] for d in shape)
    return rows, cols


def draw_value(v: Variable, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random value of a variable as its spec declares it: one-hot or probability columns
    (`values`), uniform in its `range`, else standard normal."""
    if v.values != "real":
        return column_array(v.values, shape, rng)
    if v.value_range:
        return rng.uniform(*v.value_range, size=shape)
    return rng.standard_normal(shape)
