"""The reverse pass: the chain rule over a spec's equations, recording each step as data.

Convention (stated once, asserted in `Gradient.__post_init__`): a gradient ∂J/∂X has the shape of X
(denominator layout), so ∂J/∂W⁽²⁾ = 2(ŷ − y)zᵀ is m × h like W⁽²⁾.

Every equation `u = f(v, w, ...)` is walked from the top with the upstream gradient ∂J/∂u kept as a
name; each variable collects one `Edge` per place it is used (fan-out), and its gradient is the sum
of what flows back along them. `final` substitutes the upstream gradients, leaving forward
intermediates (ŷ, z, h⁽ˡ⁾) as names, which keeps the result the size a textbook prints; `expanded`
also substitutes the intermediates, on request.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from derive import expr as E
from derive.activations import derivative_expr
from derive.errors import UnknownVariableError
from derive.rules import RULES, BackwardRules, rule_for
from derive.spec import Spec
from derive.textbook import textbook_form

IDENTITY = "identity"  # ∂u/∂v = 1: the gradient passes through unchanged (a bias)
LEFT = "left"  # ∂J/∂v = F ∂J/∂u, F printed as the local factor (∂ŷ/∂z = (W⁽²⁾)ᵀ)
RIGHT = "right"  # ∂J/∂v = ∂J/∂u F (∂ŷ/∂W⁽²⁾ = zᵀ)
ELEMENTWISE = "elementwise"  # ∂J/∂v = ∂J/∂u ⊙ F (an activation's derivative)
SCALAR = "scalar"  # ∂J/∂v = c ∂J/∂u with c a scalar
DIRECT = "direct"  # u is the loss: the contribution is the local derivative itself
COMPOSITE = "composite"  # several operations within one equation: shown whole


@dataclass(frozen=True)
class Edge:
    """One path back from a consumer equation to a variable it uses."""

    consumer: str
    contribution: E.Expr
    factor: E.Expr | None
    kind: str
    activation: str | None = None
    # the activation's argument as the equation writes it (σ′ is taken at W⁽¹⁾x + b⁽¹⁾, not at b⁽¹⁾)
    activation_arg: E.Expr | None = None
    notes: tuple[str, ...] = ()  # facts the rules used on the way (each column of y sums to 1)
    general: E.Expr | None = None  # the contribution before those facts were used


@dataclass(frozen=True)
class Gradient:
    """∂loss/∂wrt: its edges, the chain of names when the path is unique, and its forms."""

    wrt: str
    shape: E.Shape
    role: str
    edges: tuple[Edge, ...]
    chain: tuple[str, ...] | None
    local: E.Expr
    final: E.Expr
    # the final form as the chain rule wrote it, when `final` is its simplification (x (p − y))
    chain_form: E.Expr | None = None

    @property
    def notes(self) -> list[str]:
        """The facts the rules used on this gradient's edges, each once."""
        out: list[str] = []
        for e in self.edges:
            out.extend(n for n in e.notes if n not in out)
        return out

    def __post_init__(self) -> None:
        # denominator layout: the gradient has the shape of its variable
        if self.final.shape != self.shape or self.local.shape != self.shape:
            raise AssertionError(
                f"gradient of {self.wrt} has shape {self.final.shape}, expected {self.shape}"
            )


@dataclass
class Derivation:
    """All the gradients of a spec, in the order a backward pass finds them."""

    spec: Spec
    gradients: dict[str, Gradient]
    # the equations the loss depends on (`_live`), found once by the reverse pass
    live: frozenset[str] = field(repr=False)
    _expanded: dict[str, E.Expr] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> Gradient:
        try:
            return self.gradients[name]
        except KeyError:
            raise UnknownVariableError(_unknown(self.spec, name)) from None

    def default_names(self) -> list[str]:
        """What a textbook shows: intermediates and parameters, not inputs or targets (nor an
        intermediate the loss does not use, whose gradient is zero)."""
        return [
            n
            for n, g in self.gradients.items()
            if g.role == "param" or (g.role == "intermediate" and n in self.live)
        ]

    def expanded(self, name: str) -> E.Expr:
        """The gradient with every forward intermediate replaced by its definition."""
        return E.substitute_vars(self[name].final, self.spec.definitions())


def _unknown(spec: Spec, name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, spec.names(), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if name == spec.loss:
        return f"{name!r} is the loss itself; ask for the gradient with respect to another name"
    return f"no variable {name!r} in {spec.source} (names: {', '.join(spec.names())}){hint}"


class _Named:
    """Rule context: an equation's whole right-hand side is known by the equation's name (and a
    softmax by the name of the equation that computes it); which targets sum to one per column;
    the notes the rules leave."""

    def __init__(self, top: E.Expr, name: str, spec: Spec) -> None:
        self.top = top
        self.name = E.Var(name, top.shape)
        self.spec = spec
        self.notes: list[str] = []
        self.generals: dict[E.Expr, E.Expr] = {}  # a contribution as a rule simplified it: before

    def named(self, node: E.Expr) -> E.Expr:
        if node is self.top:
            return self.name
        if isinstance(node, E.Softmax):
            for eq in self.spec.equations:
                if eq.expr == node:
                    return E.Var(eq.name, node.shape)
        return node

    def sums_to_one(self, e: E.Expr) -> bool:
        v = self.spec.variables.get(e.name) if isinstance(e, E.Var) else None
        return v is not None and v.values in ("onehot", "probabilities")

    def note(self, text: str, general: E.Expr | None = None, used: E.Expr | None = None) -> None:
        if text not in self.notes:
            self.notes.append(text)
        if general is not None and used is not None:
            self.generals[used] = general


def _classify(upstream: E.Expr, c: E.Expr) -> tuple[E.Expr | None, str]:
    """How a contribution is built from the upstream gradient: the local factor and its side."""
    if isinstance(upstream, E.Const):
        return c, DIRECT
    if c == upstream:
        return E.const(1), IDENTITY
    if isinstance(c, E.MatMul):
        first, *rest = c.children
        *init, last = c.children
        if first == upstream:
            return E.matmul(*rest), RIGHT
        if last == upstream:
            return E.matmul(*init), LEFT
    if isinstance(c, E.Hadamard) and upstream in c.children:
        others = [f for f in c.children if f != upstream]
        if len(others) == len(c.children) - 1:
            return E.hadamard(*others), SCALAR if c.is_scalar else ELEMENTWISE
    if isinstance(c, E.Scale) and c.arg == upstream:
        return E.Const(c.coef), SCALAR
    if isinstance(c, E.ScalarMul) and c.children[1] == upstream:
        return c.children[0], SCALAR
    return None, COMPOSITE


def derive_gradients(spec: Spec, rules: BackwardRules = RULES) -> Derivation:
    """Run the reverse pass over every equation of the spec (with the given backward rules)."""
    edges: dict[str, list[Edge]] = defaultdict(list)
    loss = spec.loss
    live = _live(spec)
    for eq in reversed(spec.equations):
        if eq.name not in live:
            continue  # computed but never used by the loss (a prediction ŷ beside the loss)
        upstream: E.Expr = E.const(1) if eq.name == loss else E.GradRef(eq.name, eq.expr.shape)
        _walk_equation(eq.name, eq.expr, upstream, edges, spec, rules)

    finals: dict[str, E.Expr] = {}
    gradients: dict[str, Gradient] = {}
    simplified: dict[E.Expr, E.Expr] = {}  # textbook forms of subtrees, shared by the gradients
    first_use: dict[str, str] = {}
    for eq in spec.equations:
        for name in E.names_in(eq.expr):
            first_use.setdefault(name, eq.name)

    def make(name: str) -> None:
        shape = spec.shape_of(name)
        mine = tuple(edges.get(name, ()))
        local = E.add(*[e.contribution for e in mine], shape=shape) if mine else E.Zero(shape)
        chain_form = E.substitute_grads(local, finals)
        final = textbook_form(chain_form, simplified)
        finals[name] = final
        gradients[name] = Gradient(
            name, shape, spec.role_of(name), mine, _chain(name, edges, loss), local, final,
            chain_form if final != chain_form else None,
        )

    # backward order: an equation's gradient, then the variables first used there
    for eq in reversed(spec.equations):
        if eq.name != loss:
            make(eq.name)
        for name in spec.variables:
            if first_use.get(name) == eq.name:
                make(name)
    for name in spec.variables:  # declared but unused: gradient zero
        if name not in gradients:
            make(name)
    return Derivation(spec, gradients, frozenset(live))


def _live(spec: Spec) -> set[str]:
    """The equations the loss depends on (itself included)."""
    live = {spec.loss}
    for eq in reversed(spec.equations):
        if eq.name in live:
            live |= E.names_in(eq.expr)
    return live


def _walk_equation(
    name: str,
    top: E.Expr,
    upstream: E.Expr,
    edges: dict[str, list[Edge]],
    spec: Spec,
    rules: BackwardRules,
) -> None:
    """Push ∂J/∂name down one equation's tree, recording an edge at every variable reached."""
    ctx = _Named(top, name, spec)
    # an edge is labelled f′(arg) only when its local factor is exactly that derivative
    slope: E.Expr | None = None
    if isinstance(top, E.Apply):
        slope = derivative_expr(top.fn, ctx.named(top.children[0]), ctx.named(top), top.param)
    stack: list[tuple[E.Expr, E.Expr]] = [(top, upstream)]
    found: list[Edge] = []
    found_for: list[str] = []
    while stack:
        node, G = stack.pop()
        if isinstance(G, E.Zero):
            continue
        if isinstance(node, E.Var):
            factor, kind = _classify(upstream, G)
            if kind == ELEMENTWISE and slope is not None and factor == slope:
                assert isinstance(top, E.Apply)
                found.append(Edge(name, G, factor, kind, top.fn, top.children[0]))
            else:
                found.append(Edge(name, G, factor, kind))
            found_for.append(node.name)
            continue
        # children pushed in reverse so that edges come out in the order the equation is written
        stack.extend(reversed(rule_for(node, rules)(node, G, ctx)))
    for var_name, edge in zip(found_for, found, strict=True):
        if ctx.notes:
            general = ctx.generals.get(edge.contribution)
            edge = replace(edge, notes=tuple(ctx.notes), general=general)
        edges[var_name].append(edge)


def _chain(name: str, edges: dict[str, list[Edge]], loss: str) -> tuple[str, ...] | None:
    """loss, ..., name when each step has a single edge (∂J/∂ŷ · ∂ŷ/∂z · ∂z/∂W⁽¹⁾)."""
    path = [name]
    current = name
    while current != loss:
        mine = edges.get(current, [])
        if len(mine) != 1:
            return None
        current = mine[0].consumer
        path.append(current)
    return tuple(reversed(path))
