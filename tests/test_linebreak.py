"""Long equations broken into rows: where the breaks go and what each row holds."""

from __future__ import annotations

from derive.linebreak import ROW_WIDTH_EM, aligned_rows, break_latex, latex_width
from tests.networks import load_network


def test_short_equations_are_left_alone() -> None:
    assert aligned_rows("J", [r"2 (\hat{y} - y) z^{T}"]) == [r"J &= 2 (\hat{y} - y) z^{T}"]


def test_widths_grow_with_content_and_fractions_take_their_wider_part() -> None:
    assert latex_width("x") < latex_width("x + y") < latex_width("x + y + z")
    assert latex_width(r"\frac{a + b + c}{d}") == latex_width(r"\frac{d}{a + b + c}")
    assert latex_width("W^{T}") < latex_width("W T")


def test_a_sum_breaks_before_a_top_level_plus() -> None:
    term = r"\frac{\partial L}{\partial a} W^{(1)} x"
    text = " + ".join([term] * 12)
    pieces = break_latex(text, ROW_WIDTH_EM)
    assert len(pieces) > 1
    assert all(p.startswith("+ ") for p in pieces[1:])
    assert " + ".join(pieces).replace("+ + ", "+ ") == text
    assert all(latex_width(p) <= ROW_WIDTH_EM for p in pieces)


def test_a_sized_pair_split_by_a_break_is_sized_by_hand() -> None:
    inner = " + ".join([r"\frac{a}{b}"] * 30)
    pieces = break_latex(rf"\left({inner}\right)", ROW_WIDTH_EM)
    assert len(pieces) > 1
    joined = " ".join(pieces)
    assert r"\left" not in joined and r"\right" not in joined
    assert pieces[0].startswith(r"\Bigl(") and pieces[-1].endswith(r"\Bigr)")


def test_every_row_of_a_deep_network_balances_its_sized_brackets() -> None:
    net = load_network("mlp10")
    for wrt in net.names:
        for row in net.gradient(wrt)._repr_latex_().split(r" \\ "):
            # TeX needs each \left closed by a \right in the same row of an align
            assert row.count(r"\left") == row.count(r"\right"), row
