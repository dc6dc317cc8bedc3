"""The likely mistake behind a wrong gradient: the answer against mutations of the correct one.

Each mutation makes one typical mistake in the correct gradient, per term and per factor: drop or
add a transpose, treat a matrix as symmetric, swap a product, drop the activation's derivative,
write it wrong or take it at the wrong argument, use another activation's derivative, use a matrix
product where ⊙ belongs, drop a factor or a term, use another variable of the same shape, leave
out a path at a fan-out or count it twice, or give one term of a sum the wrong coefficient.

Every mutation is evaluated at the same random draws as the answer; of those that agree with the
answer, the most specific kind wins (the `MISTAKE_KINDS` order, then the words), so the label does
not depend on the order the mutations are tried. When no single mistake explains the answer, pairs
are tried: a wrong constant factor on top of one mutation, then two mutations at different places.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations, pairwise

import numpy as np
import sympy

from derive import expr as E
from derive.activations import ACTIVATIONS, derivative_expr
from derive.answers.equivalence import Draw, close, constant_ratio, values_at
from derive.chain_rule import Derivation, Gradient, derive_gradients
from derive.evaluate import Array, Cache, evaluate
from derive.latex import LatexPrinter, printer_for
from derive.rules import DiagonalSoftmax

# One table of mistake kinds: `check --json` reports one of these in `mistake` (two joined by
# "+" for a pair of mistakes), and assignments give partial credit by these names. The order is
# the order of preference when several mutations explain the same answer (most specific first).
MISTAKE_KINDS: dict[str, str] = {
    "symmetric": "a matrix treated as symmetric (A x where (A + Aᵀ) x belongs, or Aᵀ for A)",
    "fanout": "a path missing at a fan-out, or one path counted twice",
    "activation_derivative": "the wrong derivative of an activation (tanh′ for σ′, ReLU′ for "
    "leaky ReLU′) or its formula written wrong (a factor or a square missing)",
    "activation_missing": "the activation's derivative left out",
    "softmax_jacobian": "softmax's Jacobian taken as its diagonal s ⊙ (1 − s): the off-diagonal "
    "part −s sᵀ forgotten",
    "activation_argument": "the activation's derivative taken at the wrong argument (its output, "
    "another layer's input, without the bias), or the activation itself used in its place",
    "transpose": "a transpose missing or extra, a term or the whole gradient transposed",
    "hadamard": "a matrix or dot product where the elementwise product ⊙ belongs",
    "order": "the factors of a product in the wrong order, or ⊙ applied at the wrong point",
    "wrong_variable": "another variable of the same shape (a layer's output for its input, "
    "the wrong layer's weights)",
    "missing_factor": "a factor of a product left out (a chain factor, a mask, a weight)",
    "missing_term": "a term of a sum left out (a bias, a regularisation term)",
    "factor": "a constant factor wrong on the whole gradient or on one term",
    "sign": "the sign of the whole gradient",
    "shape": "an answer whose shape is neither the gradient's nor its transpose",
}
RANK = {kind: i for i, kind in enumerate(MISTAKE_KINDS)}

TRANSPOSE, ORDER, FACTOR, SIGN = "transpose", "order", "factor", "sign"
ACTIVATION_MISSING, ACTIVATION_ARGUMENT = "activation_missing", "activation_argument"
ACTIVATION_DERIVATIVE, SYMMETRIC = "activation_derivative", "symmetric"
HADAMARD, WRONG_VARIABLE, FANOUT = "hadamard", "wrong_variable", "fanout"
MISSING_FACTOR, MISSING_TERM = "missing_factor", "missing_term"
SOFTMAX_JACOBIAN = "softmax_jacobian"

MAX_MUTATIONS = 600  # single mutations evaluated per answer
PAIR_PER_KIND = 3  # the most specific distinct mutations of each kind combined two at a time
PAIR_BUDGET = 12_000  # expression nodes evaluated (per draw) on pairs, at most: a fixed cost
MAX_EXPANDED_NODES = 400  # a larger expanded form is not mutated (its mutations are many)

MOVED_HADAMARD = "the activation's derivative (⊙) is applied at the wrong point of the chain"

# where a transpose mistake sits, most specific first (a dropped transpose is "missing", never
# "extra", whichever mutation reaches that expression first)
_TRANSPOSE_WORDS = (
    "a transpose is missing",
    "a transpose is extra",
    "a term is transposed",
    "the whole gradient is transposed",
)


@dataclass(frozen=True)
class Mutation:
    """One mistake made in the gradient: `expr` is the gradient with it.

    `root`, `target` and `new` say where: `expr` is `root` with the node `target` (by identity)
    replaced by `new`, so that two mutations at different places of one root can be combined.
    """

    kind: str
    words: str  # what the mistake is, for a student
    expr: E.Expr
    root: E.Expr | None = None
    target: E.Expr | None = None
    new: E.Expr | None = None
    # made in the expanded form (intermediates replaced by their definitions, maybe distributed):
    # of two mistakes that give the same values, the one in the form the student wrote is told
    expanded: bool = False

    @property
    def rank(self) -> tuple[int, int, int, str]:
        """Most specific kind first; of equal mutations, the shortest account (b is missing, not
        the expanded term 2 b zᵀ), then the words, so that the choice never depends on order."""
        sub = _TRANSPOSE_WORDS.index(self.words) if self.words in _TRANSPOSE_WORDS else 0
        return RANK.get(self.kind, len(RANK)), sub, len(self.words), self.words


@dataclass(frozen=True)
class Finding:
    """The diagnosis: a kind (or two joined by "+") and what it means for the student."""

    kind: str
    words: str


def well_shaped(e: E.Expr) -> bool:
    """Whether every product and sum in e conforms (mutations may break shapes)."""
    for n in E.walk_nodes(e):
        if isinstance(n, E.MatMul):
            fs = n.children
            if any(a.shape[1] != b.shape[0] for a, b in pairwise(fs)):
                return False
        elif isinstance(n, E.Hadamard):
            if any(E.broadcast_shape(f.shape, n.shape) != n.shape for f in n.children):
                return False
        elif isinstance(n, E.Add):
            for t in n.children:
                if E.broadcast_shape(t.shape, n.shape) != n.shape:
                    return False
    return True


def _replace_at(root: E.Expr, target: E.Expr, new: E.Expr) -> E.Expr:
    """root with the one node `target` (by identity) replaced by `new`."""
    return E.substitute(root, lambda n: new if n is target else None)


def _at(kind: str, words: str, root: E.Expr, target: E.Expr, new: E.Expr) -> Mutation:
    return Mutation(kind, words, _replace_at(root, target, new), root, target, new)


@dataclass(frozen=True)
class _Layer:
    """An activation of the spec: its derivative as the derivation writes it, and around it."""

    form: E.Expr
    fn: str
    arg: E.Expr
    out: E.Expr
    param: sympy.Expr | None


def _layers(deriv: Derivation) -> list[_Layer]:
    out: list[_Layer] = []
    for eq in deriv.spec.equations:
        for n in E.walk_nodes(eq.expr):
            if isinstance(n, E.Apply):
                arg = n.children[0]
                named_out: E.Expr = E.Var(eq.name, n.shape) if n is eq.expr else n
                form = derivative_expr(n.fn, arg, named_out, n.param)
                out.append(_Layer(form, n.fn, arg, named_out, n.param))
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
    """Single-mistake variants of the gradient: on its textbook form, its expanded form (every
    intermediate replaced by its definition) and that form with products distributed over sums."""
    final = deriv[wrt].final
    yield from _mutations_of(deriv, final)
    chain_form = deriv[wrt].chain_form
    if chain_form is not None:  # a mistake in the chain as written (σ′ dropped before x (p − y))
        yield from _mutations_of(deriv, chain_form)
    yield from _fanout_mutations(deriv, wrt)
    yield from _softmax_mutations(deriv, wrt)
    seen = {final}
    expanded = deriv.expanded(wrt)
    for form in (expanded, distribute(expanded)):
        if form not in seen and E.count_nodes(form) < MAX_EXPANDED_NODES:
            seen.add(form)
            for m in _mutations_of(deriv, form):
                yield dataclasses.replace(m, expanded=True)


def _softmax_mutations(deriv: Derivation, wrt: str) -> Iterator[Mutation]:
    """The gradient derived with softmax's Jacobian taken as its diagonal (−y ⊙ (1 − ŷ) for
    ŷ − y): a rule-level mistake, so the whole derivation is redone with that rule."""
    kinds = (E.Softmax, E.LogSoftmax)
    if not any(isinstance(n, kinds) for q in deriv.spec.equations for n in E.walk_nodes(q.expr)):
        return
    wrong = derive_gradients(deriv.spec, DiagonalSoftmax())[wrt].final
    if wrong != deriv[wrt].final:
        yield Mutation(
            SOFTMAX_JACOBIAN,
            "softmax's Jacobian is taken as its diagonal, ŷ ⊙ (1 − ŷ): its off-diagonal part "
            "−ŷ ŷᵀ is missing (with it, the cross-entropy's gradient is ŷ − y)",
            wrong,
        )


def _mutations_of(deriv: Derivation, root: E.Expr) -> Iterator[Mutation]:
    nodes = E.walk_nodes(root)
    yield from _activation_mutations(deriv, root, nodes)
    yield from _symmetric_mutations(root, nodes)
    yield from _product_mutations(deriv, root, nodes)
    yield from _transpose_mutations(root, nodes)
    yield from _dropped_mutations(deriv, root, nodes)
    yield from _variable_mutations(deriv, root, nodes)


def _activation_mutations(
    deriv: Derivation, root: E.Expr, nodes: list[E.Expr]
) -> Iterator[Mutation]:
    latex = deriv.spec.latex_of
    layers = _layers(deriv)
    for layer in layers:
        part = _factors(layer.form)
        fn = layer.fn
        for n in nodes:
            if not isinstance(n, E.Hadamard):
                continue
            rest = _without(list(n.children), part)
            if rest is None:
                continue
            if isinstance(layer.out, E.Var):
                where = f"the layer giving {latex(layer.out.name)}"
            else:
                where = _printer(deriv).doprint(layer.out)

            def swap(d: E.Expr, rest: list[E.Expr] = rest, n: E.Hadamard = n) -> E.Expr:
                return E.hadamard(*rest, d)

            kept = E.hadamard(*rest) if rest else E.Ones(n.shape)
            yield _at(
                ACTIVATION_MISSING,
                f"the derivative of the activation ({fn}′, of {where}) is missing",
                root, n, kept,
            )  # fmt: skip
            yield _at(
                ACTIVATION_ARGUMENT,
                f"the activation itself (of {where}) is used where its derivative {fn}′ belongs",
                root, n, swap(layer.out),
            )  # fmt: skip
            at_output = derivative_expr(fn, layer.out, E.Apply(fn, layer.out), layer.param)
            yield _at(
                ACTIVATION_ARGUMENT,
                f"{fn}′ is taken at the layer's output instead of its input (for the "
                "sigmoid, σ′(a) = h ⊙ (1 − h) with h = σ(a); σ′(h) is not it)",
                root, n, swap(at_output),
            )  # fmt: skip
            for wrong_arg, words in _wrong_arguments(deriv, layer):
                d = derivative_expr(fn, wrong_arg, E.Apply(fn, wrong_arg), layer.param)
                yield _at(ACTIVATION_ARGUMENT, f"{fn}′ is taken at {words}", root, n, swap(d))
            for other in layers:
                same = other.fn == fn and other.arg.shape == layer.arg.shape
                if same and other.form != layer.form:
                    yield _at(
                        ACTIVATION_ARGUMENT,
                        f"{fn}′ is taken at another layer's input",
                        root, n, swap(other.form),
                    )  # fmt: skip
            for d, words in _wrong_derivatives(layer):
                yield _at(ACTIVATION_DERIVATIVE, words, root, n, swap(d))


def _wrong_arguments(deriv: Derivation, layer: _Layer) -> Iterator[tuple[E.Expr, str]]:
    """Where a student takes f′ instead of at the layer's input: a variable inside that input
    (𝟙[h > 0] for 𝟙[W h > 0]) or the input without one of its terms (the bias left out)."""
    p = _printer(deriv)
    arg = layer.arg
    definition = arg
    if isinstance(arg, E.Var):
        eq = next((q for q in deriv.spec.equations if q.name == arg.name), None)
        if eq is not None:
            definition = eq.expr
    shown = p.doprint(definition)
    for v in E.walk_nodes(definition):
        if isinstance(v, E.Var) and v != arg and v.shape == arg.shape:
            yield v, f"{p.doprint(v)}, inside its argument, instead of at {shown}"
    if isinstance(definition, E.Add):
        for k, term in enumerate(definition.children):
            others = [t for j, t in enumerate(definition.children) if j != k]
            short = E.add(*others, shape=definition.shape)
            yield (
                short,
                (
                    f"{p.doprint(short)} instead of {shown} (the term {p.doprint(term)} is "
                    "left out of its argument)"
                ),
            )


def _wrong_derivatives(layer: _Layer) -> Iterator[tuple[E.Expr, str]]:
    """Another activation's derivative in place of this one's, or this one's written wrong."""
    fn, arg, out = layer.fn, layer.arg, layer.out
    for other, row in ACTIVATIONS.items():
        if other == fn:
            continue
        param = row.param_value() if row.default_param is not None else None
        forms = {derivative_expr(other, arg, E.Apply(other, arg, param), param)}
        on_out = derivative_expr(other, arg, out, param)
        if row.invertible and on_out != out:  # its formula on this layer's output: 1 − h²
            forms.add(on_out)
        for d in sorted(forms, key=repr):
            if d != layer.form:
                yield d, f"{other}′ is used where {fn}′ belongs"
    factors = _factors(layer.form)
    if len(factors) > 1:
        for k in range(len(factors)):
            kept = [f for j, f in enumerate(factors) if j != k]
            yield E.hadamard(*kept), f"{fn}′ is written with a factor missing"
    for n in E.walk_nodes(layer.form):
        if isinstance(n, E.Power) and n.exponent == 2:
            yield _replace_at(layer.form, n, n.children[0]), f"{fn}′ is written without a square"
    if not ACTIVATIONS[fn].kinked:
        yield E.power(layer.form, sympy.Rational(1, 2)), f"{fn}′ is missing its square"


def _symmetric_mutations(root: E.Expr, nodes: list[E.Expr]) -> Iterator[Mutation]:
    """A sum with a term in M and a term in Mᵀ, (A + Aᵀ) x, collapsed by taking M as symmetric
    (2Ax or 2Aᵀx): one square matrix, every occurrence written the same way."""
    squares = sorted(
        {n for n in nodes if isinstance(n, E.Var) and n.shape[0] == n.shape[1]},
        key=lambda v: v.name,
    )
    for m in squares:
        mt = E.transpose(m)

        def as_m(n: E.Expr, m: E.Expr = m, mt: E.Expr = mt) -> E.Expr | None:
            return m if n == mt else None

        def as_mt(n: E.Expr, m: E.Expr = m, mt: E.Expr = mt) -> E.Expr | None:
            return mt if n in (m, mt) else None

        if not any(_collapses(n, as_m) for n in nodes if isinstance(n, E.Add)):
            continue
        for rewrite, shown in ((as_m, f"{m.name}ᵀ written as {m.name}"),
                               (as_mt, f"{m.name} written as {m.name}ᵀ")):  # fmt: skip
            yield Mutation(
                SYMMETRIC,
                f"{m.name} is treated as symmetric ({shown}); it is not, so the terms in "
                f"{m.name} and {m.name}ᵀ differ",
                E.substitute(root, rewrite),
            )


def _collapses(s: E.Add, rewrite: Callable[[E.Expr], E.Expr | None]) -> bool:
    """Whether two different terms of the sum become equal under the rewrite."""
    images = [E.substitute(t, rewrite) for t in s.children]
    return any(
        images[i] == images[j] and s.children[i] != s.children[j]
        for i, j in combinations(range(len(images)), 2)
    )


def _product_mutations(deriv: Derivation, root: E.Expr, nodes: list[E.Expr]) -> Iterator[Mutation]:
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
                    yield _at(
                        HADAMARD,
                        "a product (here a dot product) is used where ⊙ belongs",
                        root, n, E.smul(inner, E.hadamard(*others)),
                    )  # fmt: skip
            # ⊙ applied before instead of after a product (or the reverse): order in the chain
            for i, f in enumerate(fs):
                if isinstance(f, E.MatMul):
                    others = fs[:i] + fs[i + 1 :]
                    *left, last = f.children
                    moved = E.matmul(*left, E.hadamard(last, *others))
                    yield _at(ORDER, MOVED_HADAMARD, root, n, moved)
        if isinstance(n, E.MatMul):
            *left, last = n.children
            if isinstance(last, E.Hadamard):
                for k, f in enumerate(last.children):
                    others = [g for j, g in enumerate(last.children) if j != k]
                    moved = E.hadamard(E.matmul(*left, f), *others)
                    yield _at(ORDER, MOVED_HADAMARD, root, n, moved)
            first, *right = n.children
            if isinstance(first, E.Hadamard):
                for k, f in enumerate(first.children):
                    others = [g for j, g in enumerate(first.children) if j != k]
                    moved = E.hadamard(E.matmul(f, *right), *others)
                    yield _at(ORDER, MOVED_HADAMARD, root, n, moved)
            fs = list(n.children)
            for i in range(len(fs) - 1):
                swapped = [*fs[:i], fs[i + 1], fs[i], *fs[i + 2 :]]
                yield _at(ORDER, "the factors of a product are in the wrong order",
                          root, n, E.matmul(*swapped))  # fmt: skip
            if len(fs) > 2:
                yield _at(ORDER, "the product is written in reverse order",
                          root, n, E.matmul(*reversed(fs)))  # fmt: skip
        if isinstance(n, E.Power) and n.exponent == 2 and n.shape[1] == 1 and not n.is_scalar:
            base = n.children[0]
            yield _at(
                HADAMARD,
                "a product (here a dot product) is used where the elementwise square belongs",
                root, n, E.matmul(E.transpose(base), base),
            )  # fmt: skip


def _transpose_mutations(root: E.Expr, nodes: list[E.Expr]) -> Iterator[Mutation]:
    missing, extra, term, whole = _TRANSPOSE_WORDS
    for n in nodes:
        if isinstance(n, E.Transpose):
            yield _at(TRANSPOSE, missing, root, n, n.children[0])
        elif isinstance(n, E.Var | E.GradRef) and not n.is_scalar:
            yield _at(TRANSPOSE, extra, root, n, E.transpose(n))
        elif isinstance(n, E.MatMul) and n.shape[0] == n.shape[1]:
            yield _at(TRANSPOSE, term, root, n, E.transpose(n))
    yield Mutation(TRANSPOSE, whole, E.transpose(root))


def _dropped_mutations(deriv: Derivation, root: E.Expr, nodes: list[E.Expr]) -> Iterator[Mutation]:
    """One factor of a product, or one term of a sum, left out."""
    p = _printer(deriv)
    for n in nodes:
        if isinstance(n, E.Hadamard | E.MatMul) and len(n.children) > 1:
            build = E.hadamard if isinstance(n, E.Hadamard) else E.matmul
            elementwise = isinstance(n, E.Hadamard) and not n.is_scalar
            what = "an elementwise product" if elementwise else "a product"
            for k, f in enumerate(n.children):
                kept = [g for j, g in enumerate(n.children) if j != k]
                yield _at(
                    MISSING_FACTOR, f"the factor {p.doprint(f)} of {what} is missing",
                    root, n, build(*kept),
                )  # fmt: skip
        elif isinstance(n, E.ScalarMul):
            s, a = n.children
            yield _at(MISSING_FACTOR, f"the factor {p.doprint(s)} is missing", root, n, a)
        elif isinstance(n, E.Add):
            for k, t in enumerate(n.children):
                kept = [g for j, g in enumerate(n.children) if j != k]
                yield _at(
                    MISSING_TERM, f"the term {p.doprint(t)} is missing",
                    root, n, E.add(*kept, shape=n.shape),
                )  # fmt: skip


def _variable_mutations(deriv: Derivation, root: E.Expr, nodes: list[E.Expr]) -> Iterator[Mutation]:
    """Another variable of the same shape: the wrong layer's weights, an output for an input."""
    spec = deriv.spec
    latex = spec.latex_of
    inputs_of = {eq.name: E.names_in(eq.expr) for eq in spec.equations}
    for n in nodes:
        if isinstance(n, E.Var):
            for other in spec.names():
                if other != n.name and other != spec.loss and spec.shape_of(other) == n.shape:
                    if n.name in inputs_of.get(other, ()):
                        words = (
                            f"the layer's output {latex(other)} is used where its input "
                            f"{latex(n.name)} belongs"
                        )
                    else:
                        words = f"{latex(other)} is used where {latex(n.name)} belongs"
                    yield _at(WRONG_VARIABLE, words, root, n, spec.var(other))


def _fanout_mutations(deriv: Derivation, wrt: str) -> Iterator[Mutation]:
    for q, g in deriv.gradients.items():
        if len(g.edges) < 2 or not _reaches(deriv, q, wrt):
            continue
        uses = f"{deriv.spec.latex_of(q)} is used {len(g.edges)} times"
        for k, edge in enumerate(g.edges):
            through = deriv.spec.latex_of(edge.consumer)
            kept = [e.contribution for j, e in enumerate(g.edges) if j != k]
            yield Mutation(
                FANOUT,
                f"the path through {through} is missing: {uses} and its gradient is the sum "
                "over all of them",
                _finals_with(deriv, q, E.add(*kept, shape=g.shape))[wrt],
            )
            twice = [e.contribution for e in g.edges] + [edge.contribution]
            yield Mutation(
                FANOUT,
                f"the path through {through} is counted twice: {uses} and each use adds one "
                "term to its gradient",
                _finals_with(deriv, q, E.add(*twice, shape=g.shape))[wrt],
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


def distribute(e: E.Expr) -> E.Expr:
    """e with products (matrix, elementwise, by a scalar) multiplied out over sums:
    2Wᵀ(W h − y) becomes 2WᵀW h − 2Wᵀy, where a one-term mistake shows."""

    def spread(n: E.Expr) -> E.Expr | None:
        if isinstance(n, E.MatMul | E.Hadamard):
            kids = [distribute(c) for c in n.children]
            build = E.matmul if isinstance(n, E.MatMul) else E.hadamard
            for i, k in enumerate(kids):
                if isinstance(k, E.Add) and all(t.shape == k.shape for t in k.children):
                    terms = [build(*kids[:i], t, *kids[i + 1 :]) for t in k.children]
                    return distribute(E.add(*terms, shape=n.shape))
            return build(*kids)
        if isinstance(n, E.Scale):
            inner = distribute(n.children[0])
            if isinstance(inner, E.Add):
                return E.add(*[E.scale(n.coef, t) for t in inner.children], shape=n.shape)
            return E.scale(n.coef, inner)
        return None

    return E.substitute(e, spread)


# -- choosing the diagnosis ---------------------------------------------------------------------


@dataclass
class _Tried:
    mutation: Mutation
    values: list[Array]


def diagnose(
    deriv: Derivation, wrt: str, answer: Sequence[Array], points: Sequence[Draw]
) -> Finding | None:
    """The mistake that explains `answer` (its values at `points`), or None.

    A single mistake first (every candidate evaluated, the most specific that agrees wins), then
    one term of a sum with the wrong coefficient, then a pair of mistakes.
    """
    shape = deriv[wrt].final.shape
    caches: list[Cache] = [{} for _ in points]  # one per draw, shared by every candidate
    tried = _evaluated(mutations(deriv, wrt), shape, points, caches)
    agreeing = [t.mutation for t in tried if _matches(t.values, answer)]
    if agreeing:
        best = min(agreeing, key=lambda m: m.rank)
        return Finding(best.kind, best.words)
    term = _coefficient_on_one_term(deriv, wrt, answer, points, caches)
    if term is not None:
        return term
    return _pair(tried, answer, points, caches)


def _evaluated(
    candidates: Iterator[Mutation],
    shape: E.Shape,
    points: Sequence[Draw],
    caches: Sequence[Cache],
) -> list[_Tried]:
    """Each well-shaped candidate with its values, one per distinct set of values (one made in
    the textbook form before one made in the expanded form, then the most specific), at most
    MAX_MUTATIONS evaluated."""
    kept: dict[tuple[float, ...], _Tried] = {}
    for count, m in enumerate(candidates):
        if count >= MAX_MUTATIONS:
            break
        if m.expr.shape != shape or not well_shaped(m.expr):
            continue
        values = _values(m.expr, points, caches)
        if values is None:
            continue
        key = _fingerprint(values)
        old = kept.get(key)
        if old is None:
            kept[key] = _Tried(m, values)
            continue
        # of two mutations with the same values, one that only makes its node vanish (Ẑ 𝟏 = 0
        # for a standardized Ẑ) is the other read by accident: the other is kept
        # and one in the form the student reads before one in the expanded form
        if _preference(m, points, caches) < _preference(old.mutation, points, caches):
            kept[key] = _Tried(m, values)
    return sorted(kept.values(), key=lambda t: t.mutation.rank)


def _preference(
    m: Mutation, points: Sequence[Draw], caches: Sequence[Cache]
) -> tuple[bool, bool, tuple[int, int, int, str]]:
    return _vanishes(m, points, caches), m.expanded, m.rank


def _vanishes(m: Mutation, points: Sequence[Draw], caches: Sequence[Cache]) -> bool:
    """Whether the mutation puts a zero where its target was nonzero (a term falls away)."""
    if m.new is None or m.target is None or m.kind == MISSING_TERM:
        return False
    new, old = _values(m.new, points, caches), _values(m.target, points, caches)
    if new is None or old is None:
        return False
    size = max(float(np.max(np.abs(v))) for v in old)
    return size > 0 and all(float(np.max(np.abs(v))) <= 1e-9 * size for v in new)


def _values(
    e: E.Expr, points: Sequence[Draw], caches: Sequence[Cache] | None = None
) -> list[Array] | None:
    try:
        with np.errstate(all="ignore"):
            if caches is None:
                values = values_at(e, points)
            else:
                values = [
                    np.asarray(evaluate(e, d.env, d.dims, cache=c), dtype=float)
                    for d, c in zip(points, caches, strict=True)
                ]
    except (KeyError, ValueError, NotImplementedError, ZeroDivisionError, OverflowError):
        return None
    if not all(np.all(np.isfinite(v)) for v in values):
        return None
    return values


def _fingerprint(values: list[Array]) -> tuple[float, ...]:
    """Equal for values that agree to 9 significant digits (so that equal mutations meet)."""
    flat = np.concatenate([v.ravel() for v in values])
    return (*tuple(float(f"{x:.9g}") for x in flat[:256]), float(flat.size))


def _matches(values: Sequence[Array], answer: Sequence[Array]) -> bool:
    return all(close(v, a) for v, a in zip(values, answer, strict=True))


def _linear_sums(root: E.Expr) -> list[E.Add]:
    """The sums the root depends on linearly (reached through sums, products, transposes and
    scalings only), where a coefficient on one term is a coefficient on the root's term."""
    found: list[E.Add] = []
    stack = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, E.Add):
            found.append(n)
        if isinstance(n, E.Add | E.MatMul | E.Hadamard | E.Transpose | E.Scale | E.SumAll):
            stack.extend(n.children)
        elif isinstance(n, E.ScalarMul):
            stack.append(n.children[1])
    return found


def _coefficient_on_one_term(
    deriv: Derivation,
    wrt: str,
    answer: Sequence[Array],
    points: Sequence[Draw],
    caches: Sequence[Cache],
) -> Finding | None:
    """answer = gradient with one term t of a sum replaced by k t (λW where 2λW belongs)."""
    p = _printer(deriv)
    final = deriv[wrt].final
    full = _values(final, points, caches)
    if full is None:
        return None
    found: list[tuple[int, str]] = []
    for s in _linear_sums(final):
        for k, t in enumerate(s.children):
            kept = [g for j, g in enumerate(s.children) if j != k]
            without = _values(_replace_at(final, s, E.add(*kept, shape=s.shape)), points, caches)
            if without is None:
                continue
            part = [f - w for f, w in zip(full, without, strict=True)]
            rest = [a - w for a, w in zip(answer, without, strict=True)]
            ratio = constant_ratio(rest, part)
            if ratio is not None:
                words = (
                    f"the term {p.doprint(t)} has the wrong coefficient: your answer has "
                    f"{_fraction(ratio)} times it (the other terms are right)"
                )
                found.append((len(words), words))
    if not found:
        return None
    return Finding(FACTOR, min(found)[1])


def _pair(
    tried: list[_Tried],
    answer: Sequence[Array],
    points: Sequence[Draw],
    caches: Sequence[Cache],
) -> Finding | None:
    """Two mistakes: a constant factor on one mutation, or two mutations at different places."""
    for t in tried:
        k = constant_ratio(answer, t.values)
        if k is not None:
            kind, words = factor_words(k)
            return _two(t.mutation, Finding(kind, words))
    pool: list[Mutation] = []
    per_kind: dict[str, int] = {}
    for t in tried:  # the most specific few of every kind, so that no kind crowds out the rest
        m = t.mutation
        if m.target is not None and per_kind.get(m.kind, 0) < PAIR_PER_KIND:
            per_kind[m.kind] = per_kind.get(m.kind, 0) + 1
            pool.append(m)
    best: tuple[tuple[object, ...], Finding] | None = None
    spent = 0
    pairs = [
        (a, b) for a, b in combinations(pool, 2) if a.root is b.root and a.target is not b.target
    ]
    pairs.sort(key=lambda ab: (ab[0].rank[0] + ab[1].rank[0], ab[0].rank, ab[1].rank))
    for a, b in pairs:
        both = _replace_two(a, b)
        if both.shape != a.expr.shape or not well_shaped(both):
            continue
        spent += E.count_nodes(both)
        if spent > PAIR_BUDGET:
            break
        values = _values(both, points, caches)
        if values is not None and _matches(values, answer):
            key = tuple(sorted((a.rank, b.rank)))
            if best is None or key < best[0]:
                best = (key, _two(a, Finding(b.kind, b.words)))
    return None if best is None else best[1]


def _replace_two(a: Mutation, b: Mutation) -> E.Expr:
    """The root with both mistakes; where one place lies inside the other, the inner mistake is
    made inside the outer one's replacement (both σ′ of two nested layers dropped)."""
    assert a.root is not None and a.target is not None and b.target is not None
    assert a.new is not None and b.new is not None
    if _inside(b.target, a.target) or _inside(a.target, b.target):
        outer, inner = (a, b) if _inside(b.target, a.target) else (b, a)
        target, new = inner.target, inner.new
        assert outer.target is not None and outer.new is not None
        both = E.substitute(outer.new, lambda n: new if n is target else None)
        return _replace_at(a.root, outer.target, both)
    swaps = {id(a.target): a.new, id(b.target): b.new}
    return E.substitute(a.root, lambda n: swaps.get(id(n)))


def _inside(node: E.Expr, container: E.Expr) -> bool:
    return node is not container and any(n is node for n in E.walk_nodes(container))


def _two(m: Mutation, other: Finding) -> Finding:
    first, second = sorted(
        [
            (RANK.get(m.kind, len(RANK)), m.kind, m.words),
            (RANK.get(other.kind, len(RANK)), other.kind, other.words),
        ]
    )
    return Finding(f"{first[1]}+{second[1]}", f"two mistakes: {first[2]}; and {second[2]}")


def _printer(deriv: Derivation) -> LatexPrinter:
    return printer_for(deriv.spec)


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
