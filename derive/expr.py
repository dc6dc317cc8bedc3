"""Matrix expressions of the derivation: a small typed tree whose constructors keep textbook form.

SymPy's own matrix algebra distributes scalars into sums (2(ŷ − y) becomes 2ŷ − 2y) and
reorders terms (−y + ŷ), so the derivation keeps its own tree, in the order the spec and the chain
rule write it, and converts to SymPy objects on request (`derive.sympy_form`). Every node has a
shape of symbolic dims (dim names, or 1); a 1x1 node is a scalar. The constructors in lower case
(`matmul`, `add`, `scale`, `hadamard`, ...) are the only way the engine builds nodes: they apply
the few simplifications a person does without thinking (1·X = X, 𝟏 ⊙ X = X, (Xᵀ)ᵀ = X,
constants pulled to the front), nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import sympy

Dim = str | int
Shape = tuple[Dim, Dim]
SCALAR: Shape = (1, 1)
HALF_NEG = sympy.Rational(-1, 2)  # the exponent of (V + ε)^{−1/2}


def dim_symbol(dim: Dim) -> sympy.Expr:
    """The SymPy symbol for a dim name (positive integer), or the integer 1."""
    if isinstance(dim, int):
        return sympy.Integer(dim)
    return sympy.Symbol(dim, integer=True, positive=True)


def is_negative(c: sympy.Expr) -> bool:
    """Whether a coefficient reads with a leading minus (−2, −2/B)."""
    return bool(c.could_extract_minus_sign())


def is_scalar(shape: Shape) -> bool:
    return shape == SCALAR


def transpose_shape(shape: Shape) -> Shape:
    return (shape[1], shape[0])


def broadcast_shape(a: Shape, b: Shape) -> Shape | None:
    """The shape of a + b under the spec's broadcasting, or None if they do not conform.

    Allowed: equal shapes; a 1x1 scalar with anything; a column (r, 1) with (r, c) over columns
    (a bias over a batch); a row (1, c) with (r, c) over rows.
    """
    if a == b:
        return a
    if is_scalar(a):
        return b
    if is_scalar(b):
        return a
    if a[0] == b[0] and (a[1] == 1 or b[1] == 1):
        return a if b[1] == 1 else b
    if a[1] == b[1] and (a[0] == 1 or b[0] == 1):
        return a if b[0] == 1 else b
    return None


def joint_shape(parts: tuple[Expr, ...] | list[Expr]) -> Shape:
    """The shape of an elementwise combination of parts under broadcasting.

    Parts that do not conform keep the first one's shape: the spec and answer readers refuse
    them with a message before building, and the diagnosis's mutations (which may break shapes
    on purpose) are filtered by `derive.answers.diagnosis.well_shaped`.
    """
    shape = parts[0].shape
    for p in parts[1:]:
        joined = broadcast_shape(shape, p.shape)
        if joined is None:
            return parts[0].shape
        shape = joined
    return shape


class Expr:
    """A node of a matrix expression. Immutable; equality and hashing are structural."""

    __slots__ = ("_hash", "shape")
    children: tuple[Expr, ...] = ()
    fields: ClassVar[tuple[str, ...]] = ()

    shape: Shape
    _hash: int

    def _finish(self, shape: Shape) -> None:
        self.shape = shape
        own = tuple(getattr(self, f) for f in self.fields)
        self._hash = hash((type(self).__name__, own, tuple(c._hash for c in self.children)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(self) is not type(other) or not isinstance(other, Expr):
            return False
        if self._hash != other._hash or self.shape != other.shape:
            return False
        if any(getattr(self, f) != getattr(other, f) for f in self.fields):
            return False
        return len(self.children) == len(other.children) and all(
            a == b for a, b in zip(self.children, other.children, strict=True)
        )

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        """The same node over new children, through the simplifying constructors."""
        raise NotImplementedError(type(self).__name__)

    def __repr__(self) -> str:
        own = ", ".join(repr(getattr(self, f)) for f in self.fields)
        kids = ", ".join(repr(c) for c in self.children)
        return f"{type(self).__name__}({', '.join(p for p in (own, kids) if p)})"

    @property
    def is_scalar(self) -> bool:
        return is_scalar(self.shape)


# The node types are the public classes below; the classes whose names begin with `_` give
# several of them one shape (a leaf, a node over one argument, over a list of parts) and are
# never built themselves. The walkers dispatch on the public class's own name (derive.dispatch).


class _Leaf(Expr):
    """A node without children: rebuilt as itself."""

    __slots__ = ()

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return self


class _Named(_Leaf):
    """A leaf known by a name (see Var and GradRef)."""

    __slots__ = ("name",)
    fields = ("name",)

    def __init__(self, name: str, shape: Shape) -> None:
        self.name = name
        self._finish(shape)


class Var(_Named):
    """A named matrix: a variable of the spec or a forward intermediate (names stay names)."""

    __slots__ = ()


class GradRef(_Named):
    """∂loss/∂name, by name: the upstream gradient a textbook reuses (δ)."""

    __slots__ = ()


class Const(_Leaf):
    """A scalar constant: a number, or an expression in the dims such as 1/B."""

    __slots__ = ("value",)
    fields = ("value",)

    def __init__(self, value: sympy.Expr) -> None:
        self.value = value
        self._finish(SCALAR)


class _Filled(_Leaf):
    """A matrix of one shape with every entry the same (see Ones and Zero)."""

    __slots__ = ()

    def __init__(self, shape: Shape) -> None:
        self._finish(shape)


class Ones(_Filled):
    """The all-ones matrix 𝟏 of a shape (written 1 in 1 − h)."""

    __slots__ = ()


class Zero(_Filled):
    """The zero matrix of a shape: the gradient of a variable the loss does not depend on."""

    __slots__ = ()


class Identity(_Leaf):
    """The identity matrix I of a size (read from answers, as in I + W^T D)."""

    __slots__ = ()

    def __init__(self, size: Dim) -> None:
        self._finish((size, size))


class _Parts(Expr):
    """A node over a tuple of parts (factors of a product), its shape given by `shape_of`."""

    __slots__ = ("children",)

    def __init__(self, parts: tuple[Expr, ...]) -> None:
        self.children = parts
        self._finish(self.shape_of(parts))

    def shape_of(self, parts: tuple[Expr, ...]) -> Shape:
        raise NotImplementedError(type(self).__name__)


class MatMul(_Parts):
    """A matrix product A B C ..., order kept."""

    __slots__ = ()

    def shape_of(self, parts: tuple[Expr, ...]) -> Shape:
        return (parts[0].shape[0], parts[-1].shape[1])

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return matmul(*children)


class Hadamard(_Parts):
    """An elementwise product A ⊙ B ⊙ ... (of 1x1 factors: a scalar product).

    Factors broadcast as in a sum: a column [r x 1] over the columns of [r x c], a row [1 x c]
    over its rows (γ ⊙ Ẑ with γ one scale per feature).
    """

    __slots__ = ()

    def shape_of(self, parts: tuple[Expr, ...]) -> Shape:
        return joint_shape(parts)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return hadamard(*children)


class Add(Expr):
    """A sum of terms in the order written; terms may broadcast (bias over a batch)."""

    __slots__ = ("children",)

    def __init__(self, terms: tuple[Expr, ...], shape: Shape) -> None:
        self.children = terms
        self._finish(shape)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return add(*children, shape=self.shape)


class ScalarMul(Expr):
    """A scalar expression (1x1) times a matrix: s A."""

    __slots__ = ("children",)

    def __init__(self, scalar: Expr, arg: Expr) -> None:
        self.children = (scalar, arg)
        self._finish(arg.shape)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return smul(children[0], children[1])


class Div(Expr):
    """A matrix divided by a scalar expression."""

    __slots__ = ("children",)

    def __init__(self, num: Expr, den: Expr) -> None:
        self.children = (num, den)
        self._finish(num.shape)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return div(children[0], children[1])


class _Unary(Expr):
    """A node over one argument `arg`, of the argument's shape unless `shape_of` says otherwise.

    A node with fields of its own sets them before calling this constructor (the hash reads
    them); `rebuild` builds the node again as it is, a node with a simplifying constructor
    rebuilds through it.
    """

    __slots__ = ("children",)

    def __init__(self, arg: Expr) -> None:
        self.children = (arg,)
        self._finish(self.shape_of(arg.shape))

    def shape_of(self, shape: Shape) -> Shape:
        return shape

    @property
    def arg(self) -> Expr:
        return self.children[0]

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return type(self)(children[0])


class _ToScalar(_Unary):
    """A reduction of a matrix to one number (see SumAll, Mean and Trace)."""

    __slots__ = ()

    def shape_of(self, shape: Shape) -> Shape:
        return SCALAR


class Scale(_Unary):
    """A constant coefficient (a number or an expression in the dims) times a matrix."""

    __slots__ = ("coef",)
    fields = ("coef",)

    def __init__(self, coef: sympy.Expr, arg: Expr) -> None:
        self.coef = coef
        super().__init__(arg)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return scale(self.coef, children[0])


class Power(_Unary):
    """An elementwise power with a constant exponent."""

    __slots__ = ("exponent",)
    fields = ("exponent",)

    def __init__(self, base: Expr, exponent: sympy.Expr) -> None:
        self.exponent = exponent
        super().__init__(base)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return power(children[0], self.exponent)


class Transpose(_Unary):
    """Aᵀ."""

    __slots__ = ()

    def shape_of(self, shape: Shape) -> Shape:
        return transpose_shape(shape)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return transpose(children[0])


class Apply(_Unary):
    """An elementwise function of the activation table, e.g. σ(a); `param`: leaky ReLU's slope."""

    __slots__ = ("fn", "param")
    fields = ("fn", "param")

    def __init__(self, fn: str, arg: Expr, param: sympy.Expr | None = None) -> None:
        self.fn = fn
        self.param = param
        super().__init__(arg)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return Apply(self.fn, children[0], self.param)


class Indicator(_Unary):
    """The elementwise indicator 𝟙[a > 0] (relation '>') or 𝟙[a ≤ 0] (relation '<=')."""

    __slots__ = ("relation",)
    fields = ("relation",)

    def __init__(self, arg: Expr, relation: str) -> None:
        self.relation = relation
        super().__init__(arg)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return Indicator(children[0], self.relation)


class SumAll(_ToScalar):
    """The sum of all entries (a scalar)."""

    __slots__ = ()

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return sum_all(children[0])


class Mean(_ToScalar):
    """The mean of all entries (a scalar)."""

    __slots__ = ()

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return mean(children[0])


class Trace(_ToScalar):
    """tr(A) of a square matrix (a scalar; read from answers)."""

    __slots__ = ()


class AxisSum(_Unary):
    """The sums along one axis, the reduced axis kept as 1: Z 𝟏 (axis 1, a column of row sums,
    [r x 1]) or 𝟏ᵀ Z (axis 0, a row of column sums, [1 x c]); `mean(Z, axis=1)` is (1/c) Z 𝟏."""

    __slots__ = ("axis",)
    fields = ("axis",)

    def __init__(self, arg: Expr, axis: int) -> None:
        self.axis = axis
        super().__init__(arg)

    def shape_of(self, shape: Shape) -> Shape:
        rows, cols = shape
        return (rows, 1) if self.axis == 1 else (1, cols)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return axis_sum(children[0], self.axis)


class Variance(_Unary):
    """V(Z): the variance of each row over its columns (biased: divided by the number of
    columns, as the notes' V(z) over a minibatch), a column [r x 1]."""

    __slots__ = ()

    def shape_of(self, shape: Shape) -> Shape:
        return (shape[0], 1)


class Standardize(_Unary):
    """Ẑ = (Z − E[Z]) / √(V(Z) + ε): each row standardized over its columns (the notes' standard
    normalization of a feature over the minibatch); E and V per row, V biased."""

    __slots__ = ("eps",)
    fields = ("eps",)

    def __init__(self, arg: Expr, eps: sympy.Expr) -> None:
        self.eps = eps
        super().__init__(arg)

    def rebuild(self, children: tuple[Expr, ...]) -> Expr:
        return Standardize(children[0], self.eps)


class Diag(_Unary):
    """diag(v): the square matrix with the column vector v on its diagonal (read from answers)."""

    __slots__ = ()

    def shape_of(self, shape: Shape) -> Shape:
        return (shape[0], shape[0])


class Softmax(_Unary):
    """softmax per column: each column of a [k x B] batch exponentiated and normalized to sum 1."""

    __slots__ = ()


class LogSoftmax(_Unary):
    """log softmax per column: z − 𝟏 log(𝟏ᵀ e^z), computed without forming softmax."""

    __slots__ = ()


# ---------------------------------------------------------------------------------------------
# Simplifying constructors: the only way the engine builds compound nodes.


def const(value: sympy.Expr | int) -> Const:
    return Const(sympy.Integer(value) if isinstance(value, int) else value)


def _split_coef(e: Expr) -> tuple[sympy.Expr, Expr]:
    """Peel constant coefficients off e: Scale(c, X) -> (c, X)."""
    if isinstance(e, Scale):
        return e.coef, e.arg
    return sympy.Integer(1), e


def scale(coef: sympy.Expr | int, a: Expr) -> Expr:
    c = sympy.Integer(coef) if isinstance(coef, int) else coef
    if c == 1:
        return a
    if c == 0 or isinstance(a, Zero):
        return Zero(a.shape)
    if isinstance(a, Scale):
        return scale(c * a.coef, a.arg)
    if isinstance(a, Const):
        return Const(c * a.value)
    return Scale(c, a)


def neg(a: Expr) -> Expr:
    return scale(-1, a)


def add(*terms: Expr, shape: Shape | None = None) -> Expr:
    flat: list[Expr] = []
    for t in terms:
        if isinstance(t, Add) and (shape is None or t.shape == shape):
            flat.extend(t.children)
        elif not isinstance(t, Zero):
            flat.append(t)
    if shape is None:
        shape = terms[0].shape
        for t in terms[1:]:
            joined = broadcast_shape(shape, t.shape)
            if joined is None:
                raise ValueError(f"cannot add shapes {shape} and {t.shape}")
            shape = joined
    flat = _collect_like_terms(flat)
    if not flat:
        return Zero(shape)
    if len(flat) == 1 and flat[0].shape == shape:
        return flat[0]
    if all(isinstance(t, Const) for t in flat):
        return Const(sympy.Add(*[t.value for t in flat if isinstance(t, Const)]))
    return Add(tuple(flat), shape)


def _collect_like_terms(terms: list[Expr]) -> list[Expr]:
    """0.1 W + 0.1 W = 0.2 W: equal terms (up to their constant) merged, first place kept."""
    order: list[Expr] = []
    coefs: dict[Expr, sympy.Expr] = {}
    for t in terms:
        c, body = _split_coef(t)
        if isinstance(body, Const):
            c, body = c * body.value, Const(sympy.Integer(1))
        if body in coefs:
            coefs[body] += c
        else:
            coefs[body] = c
            order.append(body)
    if len(order) == len(terms):
        return terms
    merged = [scale(coefs[b], b) for b in order if coefs[b] != 0]
    return [m for m in merged if not isinstance(m, Zero)]


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


def matmul(*factors: Expr) -> Expr:
    shape = (factors[0].shape[0], factors[-1].shape[1])
    coef: sympy.Expr = sympy.Integer(1)
    scalars: list[Expr] = []
    flat: list[Expr] = []
    for f in factors:
        c, f = _split_coef(f)
        coef *= c
        if isinstance(f, MatMul):
            flat.extend(f.children)
        elif isinstance(f, ScalarMul) and not f.is_scalar:
            scalars.append(f.children[0])
            flat.append(f.children[1])
        else:
            flat.append(f)
    if any(isinstance(f, Zero) for f in flat):
        return Zero(shape)
    kept: list[Expr] = []
    for f in flat:
        if isinstance(f, Const):
            coef *= f.value
        elif isinstance(f, Ones) and f.is_scalar:
            continue
        else:
            kept.append(f)
    if not kept:
        body: Expr = Const(sympy.Integer(1))
    elif len(kept) == 1:
        body = kept[0]
    else:
        body = MatMul(tuple(kept))
    for s in scalars:
        body = smul(s, body)
    return scale(coef, body)


def hadamard(*factors: Expr) -> Expr:
    shape = joint_shape(factors)
    coef: sympy.Expr = sympy.Integer(1)
    flat: list[Expr] = []
    scalars: list[Expr] = []
    for f in factors:
        c, f = _split_coef(f)
        coef *= c
        if isinstance(f, ScalarMul) and shape != SCALAR:
            scalars.append(f.children[0])  # (s A) ⊙ B = s (A ⊙ B)
            f = f.children[1]
            c, f = _split_coef(f)
            coef *= c
        if isinstance(f, Hadamard):
            flat.extend(f.children)
        elif isinstance(f, Const):
            coef *= f.value
        elif isinstance(f, Ones):
            continue
        else:
            flat.append(f)
    if any(isinstance(f, Zero) for f in flat):
        return Zero(shape)
    if flat and joint_shape(flat) != shape:
        flat.append(Ones(shape))  # c ⊙ 𝟏 with c a column: the ones keep the broadcast shape
    if not flat:
        body: Expr = Ones(shape) if shape != SCALAR else Const(sympy.Integer(1))
    else:
        body = flat[0] if len(flat) == 1 else Hadamard(tuple(flat))
    for s in scalars:
        body = smul(s, body)
    return scale(coef, body)


def smul(s: Expr, a: Expr) -> Expr:
    """Scalar expression s (1x1) times a."""
    if a.is_scalar:
        return hadamard(s, a)
    c1, s = _split_coef(s)
    c2, a = _split_coef(a)
    coef = c1 * c2
    if isinstance(s, Const):
        return scale(coef * s.value, a)
    if isinstance(s, Zero) or isinstance(a, Zero):
        return Zero(a.shape)
    if isinstance(a, ScalarMul):
        return scale(coef, ScalarMul(hadamard(s, a.children[0]), a.children[1]))
    return scale(coef, ScalarMul(s, a))


def div(num: Expr, den: Expr) -> Expr:
    if isinstance(den, Const):
        return scale(1 / den.value, num)
    if isinstance(num, Zero):
        return num
    c, num = _split_coef(num)
    return scale(c, Div(num, den))


def power(base: Expr, exponent: sympy.Expr | int) -> Expr:
    p = sympy.Integer(exponent) if isinstance(exponent, int) else exponent
    if p == 1:
        return base
    if p == 0:
        return Ones(base.shape) if not base.is_scalar else Const(sympy.Integer(1))
    if isinstance(base, Const):
        return Const(base.value**p)
    if isinstance(base, Scale) and p.is_integer:
        return scale(base.coef**p, power(base.arg, p))
    if isinstance(base, Power) and p.is_integer and base.exponent.is_integer:
        return power(base.children[0], base.exponent * p)
    if isinstance(base, Apply) and base.fn == "sqrt" and p.is_integer and p.is_even:
        return power(base.children[0], p / 2)  # (√x)² = x
    return Power(base, p)


def transpose(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    if isinstance(a, Transpose):
        return a.children[0]
    if isinstance(a, Scale):
        return scale(a.coef, transpose(a.arg))
    if isinstance(a, Ones):
        return Ones(transpose_shape(a.shape))
    if isinstance(a, Zero):
        return Zero(transpose_shape(a.shape))
    if isinstance(a, MatMul):
        return matmul(*[transpose(f) for f in reversed(a.children)])
    if isinstance(a, ScalarMul):
        return smul(a.children[0], transpose(a.children[1]))
    return Transpose(a)


def sum_all(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    if isinstance(a, Scale):
        return scale(a.coef, sum_all(a.arg))
    if isinstance(a, Zero):
        return Zero(SCALAR)
    if isinstance(a, Ones):
        return Const(dim_symbol(a.shape[0]) * dim_symbol(a.shape[1]))
    return SumAll(a)


def mean(a: Expr) -> Expr:
    if a.is_scalar:
        return a
    if isinstance(a, Scale):
        return scale(a.coef, mean(a.arg))
    return Mean(a)


def axis_sum(a: Expr, axis: int) -> Expr:
    """Z 𝟏 (axis 1) or 𝟏ᵀ Z (axis 0); a sum along an axis of length 1 is the matrix itself."""
    length = a.shape[axis]
    if length == 1:
        return a
    if isinstance(a, Scale):
        return scale(a.coef, axis_sum(a.arg, axis))
    if isinstance(a, Zero | Ones):
        reduced: Shape = (a.shape[0], 1) if axis == 1 else (1, a.shape[1])
        return Zero(reduced) if isinstance(a, Zero) else scale(dim_symbol(length), Ones(reduced))
    return AxisSum(a, axis)


def axis_mean(a: Expr, axis: int) -> Expr:
    """(1/c) Z 𝟏 or (1/r) 𝟏ᵀ Z: the mean along an axis, kept as a column or a row."""
    return scale(1 / dim_symbol(a.shape[axis]), axis_sum(a, axis))


def size_of(shape: Shape) -> sympy.Expr:
    """The number of entries of a shape, as a SymPy expression in the dims."""
    return dim_symbol(shape[0]) * dim_symbol(shape[1])


# ---------------------------------------------------------------------------------------------
# Traversal


def substitute(e: Expr, replace: Callable[[Expr], Expr | None]) -> Expr:
    """Rebuild e bottom-up, replacing each node for which `replace` returns an expression.

    Shared subtrees are visited once (memoised by identity), so a DAG of depth L costs O(nodes).
    """
    memo: dict[int, Expr] = {}

    def walk(node: Expr) -> Expr:
        hit = memo.get(id(node))
        if hit is not None:
            return hit
        new = replace(node)
        if new is None:
            if node.children:
                kids = tuple(walk(c) for c in node.children)
                if all(k is c for k, c in zip(kids, node.children, strict=True)):
                    new = node
                else:
                    new = node.rebuild(kids)
            else:
                new = node
        memo[id(node)] = new
        return new

    return walk(e)


def substitute_grads(e: Expr, grads: Mapping[str, Expr]) -> Expr:
    """Replace every ∂loss/∂u by the expression given for u."""
    return substitute(e, lambda n: grads.get(n.name) if isinstance(n, GradRef) else None)


def substitute_vars(e: Expr, values: Mapping[str, Expr]) -> Expr:
    """Replace named matrices by expressions (used to expand intermediates on request)."""
    return substitute(e, lambda n: values.get(n.name) if isinstance(n, Var) else None)


def walk_nodes(e: Expr) -> list[Expr]:
    """Every distinct node of e, children before parents."""
    seen: set[int] = set()
    order: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(node.children))
    return order


def names_in(e: Expr) -> set[str]:
    return {n.name for n in walk_nodes(e) if isinstance(n, Var)}


def count_nodes(e: Expr) -> int:
    """The size of e printed as a tree (shared subtrees counted each time they appear)."""
    sizes: dict[int, int] = {}
    for n in walk_nodes(e):
        sizes[id(n)] = 1 + sum(sizes[id(c)] for c in n.children)
    return sizes[id(e)]
