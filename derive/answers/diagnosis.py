"""The likely mistake behind a wrong gradient: the answer against mutations of the correct one.

Each mutation makes one typical mistake in the correct gradient (drop or add a transpose, swap a
product, drop the activation's derivative or take it at the wrong argument, use a matrix product
where ⊙ belongs, use another variable of the same shape, leave out a path at a fan-out). The
first mutation the answer agrees with at every draw names the mistake; a constant ratio between
answer and gradient names a wrong factor or sign.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

from derive import expr as E
from derive.activations import derivative_expr
from derive.chain_rule import Derivation, Gradient

TRANSPOSE = "transpose"
ORDER = "order"
FACTOR = "factor"
SIGN = "sign"
ACTIVATION_MISSING = "activation_missing"
ACTIVATION_ARGUMENT = "activation_argument"
HADAMARD = "hadamard"
WRONG_VARIABLE = "wrong_variable"
FANOUT = "fanout"


MOVED_HADAMARD = "the activation's derivative (⊙) is applied at the wrong point of the chain"


@dataclass(frozen=True)
class Mutation:
    kind: str
    words: str  # what the mistake is, for a student
    expr: E.Expr


def well_shaped(e: E.Expr) -> bool:
    """Whether every product and sum in e conforms (mutations may break shapes)."""
    for n in E.walk_nodes(e):
        if isinstance(n, E.MatMul):
            fs = n.children
            if any(a.shape[1] != b.shape[0] for a, b in pairwise(fs)):
                return False
        elif isinstance(n, E.Hadamard):
            if any(f.shape != n.shape for f in n.children):
                return False
        elif isinstance(n, E.Add):
            for t in n.children:
                if E.broadcast_shape(t.shape, n.shape) != n.shape:
                    return False
    return True


def _replace_at(root: E.Expr, target: E.Expr, new: E.Expr) -> E.Expr:
    """root with the one node `target` (by identity) replaced by `new`."""
    return E.substitute(root, lambda n: new if n is target else None)


def _activation_forms(deriv: Derivation) -> list[tuple[E.Expr, str, E.Expr, E.Expr]]:
    """(derivative form, activation, its argument, its output) for each activation in the spec."""
    out: list[tuple[E.Expr, str, E.Expr, E.Expr]] = []
    for eq in deriv.spec.equations:
        for n in E.walk_nodes(eq.expr):
            if isinstance(n, E.Apply):
                arg = n.children[0]
                named_out: E.Expr = E.Var(eq.name, n.shape) if n is eq.expr else n
                form = derivative_expr(n.fn, arg, named_out, n.param)
                out.append((form, n.fn, arg, named_out))
    return out


def _factors(e: E.Expr) -> list[E.Expr]:
    return list(e.children) if isinstance(e, E.Hadamard) else [e]


def _without(factors: list[E.Expr], part: list[E.Expr]) -> list[E.Expr] | None:
    """factors with every factor of `part` removed once, or None if part is not among them."""
    rest = list(factors)
    for f in part:
        if f not in rest:
            return None
        rest.remove(f)
    return rest


def mutations(deriv: Derivation, wrt: str) -> Iterator[Mutation]:
    """Single-mistake variants of the gradient, on its textbook form and on its expanded form."""
    final = deriv[wrt].final
    yield from _mutations_of(deriv, final)
    yield from _fanout_mutations(deriv, wrt)
    expanded = deriv.expanded(wrt)
    if expanded != final and E.count_nodes(expanded) < 400:
        yield from _mutations_of(deriv, expanded)


def _mutations_of(deriv: Derivation, final: E.Expr) -> Iterator[Mutation]:
    nodes = E.walk_nodes(final)
    spec = deriv.spec
    latex = spec.latex_of
    forms = _activation_forms(deriv)

    # activation derivative dropped, or taken at the wrong argument
    for form, fn, arg, out in forms:
        part = _factors(form)
        for n in nodes:
            if not isinstance(n, E.Hadamard):
                continue
            rest = _without(list(n.children), part)
            if rest is None:
                continue
            kept = E.hadamard(*rest) if rest else E.Ones(n.shape)
            where = latex(out.name) if isinstance(out, E.Var) else "the layer"
            yield Mutation(
                ACTIVATION_MISSING,
                f"the derivative of the activation ({fn}′, of the layer giving {where}) is missing",
                _replace_at(final, n, kept),
            )
            yield Mutation(
                ACTIVATION_ARGUMENT,
                f"the activation itself ({where}) is used where its derivative {fn}′ belongs",
                _replace_at(final, n, E.hadamard(*rest, out)),
            )
            at_output = derivative_expr(fn, out, E.Apply(fn, out), None)
            yield Mutation(
                ACTIVATION_ARGUMENT,
                f"{fn}′ is taken at the layer's output instead of its input (for the "
                "sigmoid, σ′(a) = h ⊙ (1 − h) with h = σ(a); σ′(h) is not it)",
                _replace_at(final, n, E.hadamard(*rest, at_output)),
            )
            for other_form, other_fn, other_arg, _ in forms:
                if other_form != form and other_arg.shape == arg.shape and other_fn == fn:
                    yield Mutation(
                        ACTIVATION_ARGUMENT,
                        f"{fn}′ is taken at another layer's input",
                        _replace_at(final, n, E.hadamard(*rest, other_form)),
                    )
    for n in nodes:
        if isinstance(n, E.Hadamard) and not n.is_scalar:
            fs = list(n.children)
            # a product where ⊙ belongs: two factors of an elementwise product multiplied
            for i in range(len(fs)):
                for j in range(len(fs)):
                    others = [f for k, f in enumerate(fs) if k not in (i, j)]
                    if i == j or not others:
                        continue
                    inner = E.matmul(E.transpose(fs[i]), fs[j])
                    yield Mutation(
                        HADAMARD,
                        "a product (here a dot product) is used where ⊙ belongs",
                        _replace_at(final, n, E.smul(inner, E.hadamard(*others))),
                    )
            # ⊙ applied before instead of after a product (or the reverse): order in the chain
            for i, f in enumerate(fs):
                if isinstance(f, E.MatMul):
                    others = fs[:i] + fs[i + 1 :]
                    *left, last = f.children
                    moved = E.matmul(*left, E.hadamard(last, *others))
                    yield Mutation(ORDER, MOVED_HADAMARD, _replace_at(final, n, moved))
        if isinstance(n, E.MatMul):
            *left, last = n.children
            if isinstance(last, E.Hadamard):
                for k, f in enumerate(last.children):
                    others = [g for j, g in enumerate(last.children) if j != k]
                    moved = E.hadamard(E.matmul(*left, f), *others)
                    yield Mutation(ORDER, MOVED_HADAMARD, _replace_at(final, n, moved))
            first, *right = n.children
            if isinstance(first, E.Hadamard):
                for k, f in enumerate(first.children):
                    others = [g for j, g in enumerate(first.children) if j != k]
                    moved = E.hadamard(E.matmul(f, *right), *others)
                    yield Mutation(ORDER, MOVED_HADAMARD, _replace_at(final, n, moved))
        if isinstance(n, E.Power) and n.exponent == 2 and n.shape[1] == 1 and not n.is_scalar:
            base = n.children[0]
            yield Mutation(
                HADAMARD,
                "a product (here a dot product) is used where the elementwise square belongs",
                _replace_at(final, n, E.matmul(E.transpose(base), base)),
            )
    # transposes dropped or added
    for n in nodes:
        if isinstance(n, E.Transpose):
            yield Mutation(
                TRANSPOSE, "a transpose is missing", _replace_at(final, n, n.children[0])
            )
        elif isinstance(n, E.Var | E.GradRef) and not n.is_scalar:
            yield Mutation(TRANSPOSE, "a transpose is extra", _replace_at(final, n, E.transpose(n)))
        elif isinstance(n, E.MatMul) and n.shape[0] == n.shape[1]:
            yield Mutation(TRANSPOSE, "a term is transposed", _replace_at(final, n, E.transpose(n)))
    yield Mutation(TRANSPOSE, "the whole gradient is transposed", E.transpose(final))
    # products in the wrong order
    for n in nodes:
        if isinstance(n, E.MatMul):
            fs = list(n.children)
            for i in range(len(fs) - 1):
                swapped = [*fs[:i], fs[i + 1], fs[i], *fs[i + 2 :]]
                yield Mutation(ORDER, "the factors of a product are in the wrong order",
                               _replace_at(final, n, E.matmul(*swapped)))  # fmt: skip
            if len(fs) > 2:
                yield Mutation(ORDER, "the product is written in reverse order",
                               _replace_at(final, n, E.matmul(*reversed(fs))))  # fmt: skip
    # another variable of the same shape (the wrong layer's weights or input)
    for n in nodes:
        if isinstance(n, E.Var):
            for other in spec.names():
                if other != n.name and other != spec.loss and spec.shape_of(other) == n.shape:
                    yield Mutation(
                        WRONG_VARIABLE,
                        f"{latex(other)} is used where {latex(n.name)} belongs",
                        _replace_at(final, n, spec.var(other)),
                    )


def _fanout_mutations(deriv: Derivation, wrt: str) -> Iterator[Mutation]:
    names = list(deriv.gradients)
    for q in names:
        g = deriv.gradients[q]
        if len(g.edges) < 2 or not _reaches(deriv, q, wrt):
            continue
        for k, edge in enumerate(g.edges):
            kept = [e.contribution for j, e in enumerate(g.edges) if j != k]
            finals = _finals_with(deriv, q, E.add(*kept, shape=g.shape))
            yield Mutation(
                FANOUT,
                f"the path through {deriv.spec.latex_of(edge.consumer)} is missing: "
                f"{deriv.spec.latex_of(q)} is used {len(g.edges)} times and its gradient is the "
                "sum over all of them",
                finals[wrt],
            )


def _reaches(deriv: Derivation, q: str, wrt: str) -> bool:
    """Whether ∂J/∂wrt depends on ∂J/∂q (q is wrt or lies between wrt and the loss)."""
    if q == wrt:
        return True
    seen = {wrt}
    stack = [wrt]
    while stack:
        n = stack.pop()
        for e in deriv.gradients[n].edges if n in deriv.gradients else ():
            if e.consumer == q:
                return True
            if e.consumer not in seen and e.consumer in deriv.gradients:
                seen.add(e.consumer)
                stack.append(e.consumer)
    return False


def _finals_with(deriv: Derivation, q: str, local_q: E.Expr) -> dict[str, E.Expr]:
    finals: dict[str, E.Expr] = {}
    for name in deriv.gradients:
        g: Gradient = deriv.gradients[name]
        local = local_q if name == q else g.local
        finals[name] = E.substitute_grads(local, finals)
    return finals


def factor_words(k: float, monomial: str = "") -> tuple[str, str]:
    """(kind, words) for an answer that is k (times a product of dims) times the gradient."""
    if monomial:
        shown = (
            f"{_fraction(k)} {monomial}".replace("1 ", "", 1)
            if _fraction(k) == "1"
            else (f"{_fraction(k)} {monomial}")
        )
        return FACTOR, (
            f"a factor is wrong: your answer is {shown.strip()} times the gradient "
            "(check the constant of a mean, or a sum over the batch)"
        )
    if abs(k + 1) < 1e-9:
        return SIGN, "the sign is wrong: your answer is the negative of the gradient"
    return FACTOR, f"a constant factor is wrong: your answer is {_fraction(k)} times the gradient"


def _fraction(k: float) -> str:
    frac = Fraction(k).limit_denominator(64)
    return str(frac) if abs(float(frac) - k) < 1e-9 else f"{k:.6g}"
