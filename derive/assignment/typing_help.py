"""The "how to type your answer" box of a sheet: notations the answer reader reads, by example.

Every example is built from the reader's own tables (`derive.answers.reader`: the transpose marks,
the function commands; `derive.answers.names`: the spellings of a name) and the sheet's networks,
and a test reads each one back with the reader: the box never promises what `check` refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from derive import expr as E
from derive.answers.names import key_of_ascii
from derive.answers.reader import TRANSPOSE_MARKS, function_commands
from derive.spec import Spec

# the transpose marks shown, in the reader's table (TRANSPOSE_MARKS); the others are variants
SHOWN_TRANSPOSES = ("T", "top", "intercal")
SHOWN_FUNCTIONS = ("sigma", "tanh", "exp", "log")


@dataclass(frozen=True)
class Notation:
    """One line of the box: what it is for, typed examples, and the network they are read in."""

    what: str
    examples: tuple[str, ...]
    spec: Spec


def name_spellings(spec: Spec, name: str) -> list[str]:
    """The spellings of one name the reader takes: the notes' LaTeX, the spec's ascii name and,
    for a layer index, the subscript form (W^{(2)}, W2, W_2)."""
    out = [spec.latex_of(name), name]
    key = key_of_ascii(name)
    subscript = f"{key.base}_{key.index}"
    if (
        key.index
        and not key.accent
        and spec.latex_of(name).replace("{", "").replace("}", "") != subscript
    ):
        out.append(subscript)
    return list(dict.fromkeys(out))


def _vector(spec: Spec) -> str:
    """A column vector of the network (or any non-loss name) to write examples with."""
    names = [n for n in spec.names() if n != spec.loss]
    columns = [n for n in names if spec.shape_of(n)[1] == 1 and spec.shape_of(n) != E.SCALAR]
    return spec.latex_of((columns or names)[0])


def notations(specs: list[Spec]) -> list[Notation]:
    spec = specs[0]
    v = _vector(spec)
    loss = spec.loss  # the ascii name (J): the reader takes it in both gradient forms
    marks = [m for m in SHOWN_TRANSPOSES if m in TRANSPOSE_MARKS]
    transposes = tuple(f"{v}^{m}" if len(m) == 1 else f"{v}^{{\\{m}}}" for m in marks)
    functions = function_commands()
    shown = [f for f in SHOWN_FUNCTIONS if f in functions]
    out = [
        Notation(
            "a gradient has the shape of its variable; a full equation is allowed",
            (rf"\frac{{\partial {loss}}}{{\partial {v}}} = ...", rf"\nabla_{{{v}}} {loss} = ..."),
            spec,
        ),
        Notation("transpose", transposes, spec),
        Notation(
            "products, in their order: the matrix product side by side or with a dot, then "
            "the elementwise product",
            (f"{v}^T {v}", f"{v}^T \\cdot {v}", f"{v} \\odot {v}", f"{v} \\circ {v}"),
            spec,
        ),
        Notation(
            "functions, and an activation's derivative with a prime",
            (*(f"\\{f}({v})" for f in shown), f"\\sigma'({v})"),
            spec,
        ),
        Notation(
            "an upstream gradient by name (in terms of the forward values, or expanded)",
            (rf"\frac{{\partial {loss}}}{{\partial {v}}}",),
            spec,
        ),
    ]
    for s in specs:
        spellings = [sp for n in s.names() if n != s.loss for sp in name_spellings(s, n)]
        out.append(Notation(f"the names of {s.title}", tuple(spellings), s))
    return out


def example_answer(example: str, spec: Spec) -> str:
    """An example as the reader is given it in the test: "= ..." completed by a name."""
    return example.replace("...", _vector(spec))
