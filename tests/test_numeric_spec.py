"""Bad spec files raise NumericSpecError with a one-line message naming file and equation."""

from __future__ import annotations

from pathlib import Path

import pytest

from numeric import NumericError, NumericSpecError, load_network

HEADER = """
[dims]
n = 3
k = 2
[vars]
x = { shape = ["n", 1], role = "input" }
W = { shape = ["k", "n"], role = "param" }
s = { shape = "scalar", role = "param" }
"""

# (id, forward expression for `y`, expected fragment of the message)
BAD_EXPRESSIONS = [
    ("unknown_function", "foo(x)", "unknown function 'foo'"),
    ("syntax", "x +", "not a valid expression"),
    ("import_call", "__import__('os')", "unknown function '__import__'"),
    ("method_call", "x.sum()", "only plain function calls"),
    ("lambda", "(lambda: x)()", "only plain function calls"),
    ("attribute", "x.shape", "unsupported attribute .shape"),
    ("subscript", "x[0]", "unsupported syntax Subscript"),
    ("list", "[x]", "unsupported syntax List"),
    ("comparison", "x < s", "unsupported syntax Compare"),
    ("string_constant", "'a'", "must be a number"),
    ("bool_constant", "True * x", "must be a number"),
    ("matmul_shapes", "W @ W", "inner dimensions"),
    ("add_shapes", "x + x.T", "expected equal shapes"),
    ("hadamard_shapes", "W * x", "row/column vector to broadcast"),
    ("div_shapes", "W / x", "row/column vector to broadcast"),
    ("pow_by_variable", "x ** s", "exponent of ** must be a numeric constant"),
    ("leaky_alpha_variable", "leaky_relu(x, s)", "alpha must be a numeric constant"),
    ("too_many_args", "sum(x, x)", "exactly 1 argument"),
    ("keyword_args", "exp(x, axis=0)", "positional arguments only"),
    ("axis_out_of_range", "sum(x, axis=3)", "must be 0 or 1"),
    ("unknown_name", "x + q", "unknown name 'q'"),
    ("later_name", "L + s", "defined later"),
    ("self_reference", "y + s", "refers to itself"),
    ("bare_function", "exp + s", "function 'exp' used without a call"),
    ("huge_exponent", "x ** (10.0 ** 400)", "cannot be evaluated"),
    ("complex_exponent", "x ** ((-8) ** 0.5)", "not a real number"),
    ("deep_nesting", "+".join(["x"] * 5000), "nested too deeply"),
]


@pytest.mark.parametrize(
    ("expr", "fragment"), [c[1:] for c in BAD_EXPRESSIONS], ids=[c[0] for c in BAD_EXPRESSIONS]
)
def test_bad_expression(tmp_path: Path, expr: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(HEADER + "[forward]\n" + f"y = '''{expr}'''\n" + 'L = "sum(W) * s"\n')
    with pytest.raises(NumericSpecError) as info:
        load_network(path)
    message = str(info.value)
    assert fragment in message
    assert str(path) in message and "[forward] y" in message
    assert "\n" not in message


# (id, whole file text, expected fragment)
BAD_FILES = [
    ("invalid_toml", "[dims\n", "invalid TOML"),
    ("top_level_key", "extra = 1\n" + HEADER + '[forward]\nL = "s"\n', "unknown key(s) ['extra']"),
    ("no_forward", HEADER, "at least one equation"),
    ("loss_not_scalar", HEADER + '[forward]\nL = "x"\n', "must be 1x1, got 3x1"),
    ("dim_zero", '[dims]\nn = 0\n[vars]\nx = { shape = "scalar", role = "input" }\n', "positive"),
    ("dim_bool", '[dims]\nn = true\n[vars]\nx = { shape = "scalar", role = "input" }\n', "n:"),
    ("bad_role", '[vars]\nx = { shape = "scalar", role = "weight" }\n', "expected role"),
    ("missing_shape", '[vars]\nx = { role = "input" }\n', "missing 'shape'"),
    ("int_shape", '[vars]\nx = { shape = [3, 1], role = "input" }\n', "dim name or 1, got 3"),
    ("unknown_dim", '[vars]\nx = { shape = ["m", 1], role = "input" }\n', "not in [dims]"),
    ("shape_rank", '[vars]\nx = { shape = [1, 1, 1], role = "input" }\n', "[rows, cols]"),
    ("var_key", '[vars]\nx = { shape = "scalar", role = "input", rnage = [0, 1] }\n', "rnage"),
    ("bad_range", '[vars]\nx = { shape = "scalar", role = "input", range = [1, 0] }\n', "lo <= hi"),
    ("subnormal_range",
     '[vars]\nx = { shape = "scalar", role = "input", range = [1e-310, 2e-310] }\n',
     "between 1e-150 and 1e+150"),
    ("huge_range", '[vars]\nx = { shape = "scalar", role = "input", range = [-1e308, 1e308] }\n',
     "between 1e-150 and 1e+150"),
    ("var_not_table", '[vars]\nx = "scalar"\n', "inline table"),
    ("function_name", '[vars]\nexp = { shape = "scalar", role = "input" }\n', "clashes"),
    ("no_vars", '[forward]\nL = "1"\n', "at least one variable"),
    ("forward_shadows_var", HEADER + '[forward]\nx = "s"\n', "already a [vars] entry"),
    ("forward_not_str", HEADER + "[forward]\nL = 3\n", 'expected "expr"'),
    ("expr_not_str", HEADER + "[forward]\nL = { expr = 3 }\n", "'expr' to be a string"),
    ("latex_not_str", HEADER + '[forward]\nL = { expr = "s", latex = 3 }\n', "'latex'"),
]


@pytest.mark.parametrize(
    ("text", "fragment"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(NumericSpecError) as info:
        load_network(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(NumericSpecError, match="cannot read"):
        load_network(tmp_path / "nope.toml")


def test_unknown_dim_override_is_rejected() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    with pytest.raises(NumericSpecError, match="no such dim"):
        load_network(examples / "seed_example2.toml", dims={"q": 3})
    with pytest.raises(NumericSpecError, match="positive integer"):
        load_network(examples / "seed_example2.toml", dims={"n": 0})


def test_non_float_dtype_is_rejected() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    with pytest.raises(NumericError, match="floating"):
        load_network(examples / "seed_example2.toml", dtype=int)


def test_constant_expressions_and_signed_literals_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(
        HEADER + "[forward]\n"
        'y = "leaky_relu(W @ x, -0.1) ** (1/2 + 1/2) / -2 + +s"\n'
        'L = "sum(y * y) + mean(x) - 1e-5"\n'
    )
    network = load_network(path)
    assert network.loss == "L"
