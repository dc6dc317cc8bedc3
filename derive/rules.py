"""The local backward rules: one row per node type, each giving what flows back to each child.

A rule receives the node, the upstream gradient `G` (shape of the node, denominator layout) and a
context that names the node's output when an equation defines it (so σ′ can be written h ⊙ (1 − h)).
It returns one (child, contribution) pair per child; the reverse pass sums contributions that
reach the same variable. Oracles for the matrix rules: the Matrix Cookbook (Petersen & Pedersen,
2012), eqs. (69)-(71), and any backprop text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from derive import expr as E
from derive.activations import derivative_expr
from derive.dispatch import handler


class RuleContext(Protocol):
    def named(self, node: E.Expr) -> E.Expr:
        """The name of node's value if an equation defines exactly that node, else the node."""
        ...

    def sums_to_one(self, e: E.Expr) -> bool:
        """Whether each column of e is declared to sum to 1 (a target of one-hot or probability
        columns): then 𝟏ᵀe = 𝟏ᵀ, and the rule may say so (`note`)."""
        ...

    def note(self, text: str, general: E.Expr | None = None, used: E.Expr | None = None) -> None:
        """A sentence the derivation's steps print: a fact the rule used, and the contribution
        before (`general`) and after (`used`) it was used, for the steps to show both."""
        ...


Contribution = list[tuple[E.Expr, E.Expr]]
Rule = Callable[[E.Expr, E.Expr, RuleContext], Contribution]


def unbroadcast(G: E.Expr, shape: E.Shape) -> E.Expr:
    """Sum G over the axes a term of `shape` was broadcast along (a bias over a batch: G 𝟏)."""
    if G.shape == shape:
        return G
    if E.is_scalar(shape):
        return E.sum_all(G)
    rows, cols = G.shape
    if shape == (rows, 1):
        return E.matmul(G, E.Ones((cols, 1)))
    if shape == (1, cols):
        return E.matmul(E.Ones((1, rows)), G)
    raise ValueError(f"cannot unbroadcast {G.shape} to {shape}")


def _column_sums(G: E.Expr) -> E.Expr:
    """𝟏 𝟏ᵀ G: each column's sum, repeated down the column (k x k ones times G)."""
    k = G.shape[0]
    return E.matmul(E.Ones((k, 1)), E.Ones((1, k)), G)


def _per_row_factors(G: E.Expr) -> tuple[list[E.Expr], E.Expr]:
    """G = c ⊙ G′ with c the factors of G that are columns (constant along each row) and G′ the
    rest: ([c, ...], G′); ([], G) when G has no such factor."""
    if isinstance(G, E.Scale):
        inside, body = _per_row_factors(G.arg)
        return inside, E.scale(G.coef, body)
    if not isinstance(G, E.Hadamard) or 1 in G.shape:
        return [], G
    columns = [f for f in G.children if f.shape == (G.shape[0], 1)]
    if not columns:
        return [], G
    others = [f for f in G.children if f.shape != (G.shape[0], 1)]
    return columns, E.hadamard(*others) if others else E.Ones(G.shape)


class BackwardRules:
    """One `_back_<Class>` method per node type (`derive.dispatch`): what flows to each child."""

    def _back_MatMul(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # d(A B C)/dB: A^T G C^T (Cookbook 69-70), for every factor of the product
        factors = node.children
        out: Contribution = []
        for i, f in enumerate(factors):
            left = [E.transpose(E.matmul(*factors[:i]))] if i > 0 else []
            right = [E.transpose(E.matmul(*factors[i + 1 :]))] if i + 1 < len(factors) else []
            out.append((f, E.matmul(*left, G, *right)))
        return out

    def _back_Add(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        return [(t, unbroadcast(G, t.shape)) for t in node.children]

    def _back_Scale(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        assert isinstance(node, E.Scale)
        return [(node.arg, E.scale(node.coef, G))]

    def _back_Hadamard(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # a factor broadcast over the product (γ ⊙ Ẑ) collects its gradient summed back: (G ⊙ Ẑ) 𝟏
        factors = node.children
        return [
            (f, unbroadcast(E.hadamard(G, *factors[:i], *factors[i + 1 :]), f.shape))
            for i, f in enumerate(factors)
        ]

    def _back_ScalarMul(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        s, a = node.children
        return [(s, E.sum_all(E.hadamard(G, a))), (a, E.smul(s, G))]

    def _back_Div(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        num, den = node.children
        grad_den = E.neg(E.div(E.sum_all(E.hadamard(G, num)), E.power(den, 2)))
        return [(num, E.div(G, den)), (den, grad_den)]

    def _back_Power(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        assert isinstance(node, E.Power)
        (base,) = node.children
        p = node.exponent
        return [(base, E.scale(p, E.hadamard(G, E.power(base, p - 1))))]

    def _back_Transpose(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        return [(node.children[0], E.transpose(G))]

    def _back_Apply(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        assert isinstance(node, E.Apply)
        (arg,) = node.children
        slope = derivative_expr(node.fn, ctx.named(arg), ctx.named(node), node.param)
        return [(arg, E.hadamard(G, slope))]

    def _back_SumAll(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        (arg,) = node.children
        return [(arg, E.smul(G, E.Ones(arg.shape)))]

    def _back_Mean(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        (arg,) = node.children
        return [(arg, E.scale(1 / E.size_of(arg.shape), E.smul(G, E.Ones(arg.shape))))]

    def _back_AxisSum(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # Z 𝟏 is a matrix product: its rule (Cookbook 70) gives G 𝟏ᵀ; likewise 𝟏ᵀ Z gives 𝟏 G
        assert isinstance(node, E.AxisSum)
        (arg,) = node.children
        rows, cols = arg.shape
        if node.axis == 1:
            return [(arg, E.matmul(G, E.Ones((1, cols))))]
        return [(arg, E.matmul(E.Ones((rows, 1)), G))]

    def _back_Variance(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # ∂V_i/∂Z_ij = (2/c)(Z_ij − μ_i): (2/c) G ⊙ (Z − (1/c) Z 𝟏 𝟏ᵀ), G a column
        (arg,) = node.children
        c = E.dim_symbol(arg.shape[1])
        centred = E.sub(arg, E.matmul(E.axis_mean(arg, 1), E.Ones((1, arg.shape[1]))))
        return [(arg, E.scale(2 / c, E.hadamard(G, centred)))]

    def _back_Standardize(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # Ẑ = (Z − μ𝟏ᵀ) ⊙ (V + ε)^{−1/2} per row over the c columns (Ioffe & Szegedy 2015, the
        # backward pass of their Algorithm 1, summed over the batch in matrix form):
        #   ∂J/∂Z = (1/c) (V + ε)^{∘−1/2} ⊙ (c G − G 𝟏𝟏ᵀ − Ẑ ⊙ ((G ⊙ Ẑ) 𝟏) 𝟏ᵀ).
        # The map G ↦ ∂J/∂Z acts on each row alone and linearly, so a per-row factor of G (the γ
        # of a batch norm, a column) comes out in front: G = γ ⊙ G′ gives γ ⊙ (... G′ ...).
        assert isinstance(node, E.Standardize)
        arg = node.arg
        rows, cols = arg.shape
        c = E.dim_symbol(cols)
        hat = ctx.named(node)
        per_row, G = _per_row_factors(G)
        row_ones, col_ones = E.Ones((1, cols)), E.Ones((cols, 1))
        inner = E.add(
            E.scale(c, G),
            E.neg(E.matmul(G, col_ones, row_ones)),
            E.neg(E.hadamard(hat, E.matmul(E.hadamard(G, hat), col_ones, row_ones))),
            shape=arg.shape,
        )
        inv_std = E.power(E.add(E.Variance(arg), E.Const(node.eps), shape=(rows, 1)), E.HALF_NEG)
        return [(arg, E.scale(1 / c, E.hadamard(*per_row, inv_std, inner)))]

    def _back_Indicator(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # a step function: zero derivative wherever it is differentiable
        (arg,) = node.children
        return [(arg, E.Zero(arg.shape))]

    def _back_Const(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        return []

    _back_Ones = _back_Zero = _back_Identity = _back_Const

    def _back_Softmax(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # per column, J = diag(s) − s sᵀ is symmetric, so Jᵀg = s ⊙ g − s (sᵀg):
        # S ⊙ G − S ⊙ (𝟏 𝟏ᵀ (S ⊙ G)), the off-diagonal part the second term
        (arg,) = node.children
        S = ctx.named(node)
        SG = E.hadamard(S, G)
        return [(arg, E.sub(SG, E.hadamard(S, _column_sums(SG))))]

    def _back_LogSoftmax(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # log softmax(z) = z − 𝟏 log(𝟏ᵀ e^z): its Jacobian per column is I − s 𝟏ᵀ, so the
        # gradient is G − S ⊙ (𝟏 𝟏ᵀ G), S = softmax(z)
        (arg,) = node.children
        S = ctx.named(E.Softmax(arg))
        coef, body = E._split_coef(G)
        if isinstance(body, E.Var) and ctx.sums_to_one(body):
            # G = c y with every column of y summing to 1: 𝟏ᵀG = c 𝟏ᵀ, so the gradient is
            # c y − c S = −c (S − y): softmax(z) − y, the textbook result
            general = E.sub(G, E.hadamard(S, _column_sums(G)))
            used = E.scale(-coef, E.sub(S, body))
            ctx.note(f"each column of {body.name} sums to 1, so 1ᵀ{body.name} = 1ᵀ", general, used)
            return [(arg, used)]
        return [(arg, E.sub(G, E.hadamard(S, _column_sums(G))))]

    def _back_Trace(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # d tr(A) / dA = I (Cookbook 100)
        (arg,) = node.children
        return [(arg, E.smul(G, E.Identity(arg.shape[0])))]

    def _back_Diag(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        # diag(v) puts v on the diagonal: entry i of the gradient is G_ii, (I ⊙ G) 1
        (arg,) = node.children
        n = arg.shape[0]
        return [(arg, E.matmul(E.hadamard(E.Identity(n), G), E.Ones((n, 1))))]


RULES = BackwardRules()


class DiagonalSoftmax(BackwardRules):
    """The classic mistake, as rules: softmax's Jacobian taken as its diagonal diag(s ⊙ (1 − s))
    (the off-diagonal −s sᵀ forgotten). Only the diagnosis derives with these."""

    def _back_Softmax(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        (arg,) = node.children
        S = ctx.named(node)
        return [(arg, E.hadamard(G, S, E.add(E.const(1), E.neg(S), shape=S.shape)))]

    def _back_LogSoftmax(self, node: E.Expr, G: E.Expr, ctx: RuleContext) -> Contribution:
        (arg,) = node.children
        S = ctx.named(E.Softmax(arg))
        return [(arg, E.hadamard(G, E.add(E.const(1), E.neg(S), shape=S.shape)))]


def rule_for(node: E.Expr, rules: BackwardRules = RULES) -> Rule:
    """The backward rule of node's type, or a clear refusal naming the node."""
    rule: Rule = handler(rules, "_back_", node, "backward rule")
    return rule
