"""Every mistake in a spec is a one-line SpecError naming the file, the equation and the shapes.

The requirement: a bad spec (unknown name, shape mismatch, non-scalar loss, a dim that collides
with a variable, bad TOML, ...) gives one line naming the file, the equation and the shapes, and
the CLI exits 2 with no traceback. Equations are read with `ast` and a whitelist, never eval:
imports, lambdas, attributes other than .T, subscripts, comprehensions, keyword arguments,
strings and booleans are rejected with a clear message, and nothing in them is ever run.

One table, one row per kind of mistake: (id, TOML text, fragments the message must contain).
Every row is checked through the API, a subset through `derive.cli.main` in this process, and a
smaller subset (the hostile ones included) as a real subprocess; those runs are started together
in one fixture so the whole file stays fast.
"""

from __future__ import annotations

import builtins
import difflib  # noqa: F401  (imported up front: its first import evals namedtuple code)
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sympy.parsing.sympy_parser

from derive.cli import main
from derive.errors import SpecError, TooLargeError
from derive.spec import load_spec, parse_spec

SOURCE = "bad.toml"

DIMS = "[dims]\nn = 3\nh = 4\n"
VARS = (
    "[vars]\n"
    'x = { shape = ["n", 1], role = "input" }\n'
    'y = { shape = ["h", 1], role = "target" }\n'
    'W = { shape = ["h", "n"], role = "param" }\n'
    'b = { shape = ["h", 1], role = "param" }\n'
    'c = { shape = "scalar", role = "param" }\n'
)
FORWARD = '[forward]\nz = "W @ x + b"\nL = "c * sum((z - y)**2)"\n'
VALID = DIMS + VARS + FORWARD


def fwd(*lines: str) -> str:
    """The valid dims and vars with these [forward] lines."""
    return DIMS + VARS + "[forward]\n" + "\n".join(lines) + "\n"


def loss(expr: str) -> str:
    """A spec whose only equation is `L = expr` (a TOML basic string)."""
    return fwd(f'L = "{expr}"')


def hidden(expr: str) -> str:
    """A spec whose first equation is `z = expr`, followed by a valid scalar loss."""
    return fwd(f'z = "{expr}"', 'L = "sum(z)"')


def with_var(line: str) -> str:
    """The valid spec with one more line in [vars]."""
    return DIMS + VARS + line + "\n" + FORWARD


def with_dim(line: str) -> str:
    """The valid spec with one more line in [dims]."""
    return DIMS + line + "\n" + VARS + FORWARD


NESTED_10000 = "(" * 10_000 + "x" + ")" * 10_000
EQUATION_1MB = "+".join(["x"] * 495_000)  # 989,999 characters: the file stays under 1,000,000
# 2**(64**4): folding it is already 16 million bits; one more level takes seconds, two hang.
BIG_POWER_TOWER = "((((2**64)**64)**64)**64)"


# fmt: off
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    # --- the file as a whole -------------------------------------------------------------
    ("toml_unclosed_table", "[dims\nn = 3\n", ("is not valid TOML", "line 1")),
    ("toml_missing_value", DIMS + "m = \n" + VARS + FORWARD, ("is not valid TOML", "line 4")),
    ("toml_unterminated_string", VARS + '[forward]\nL = "sum(x)\n',
     ("is not valid TOML", "line 8")),
    ("toml_duplicate_key", "[dims]\nn = 3\nn = 4\n" + VARS + FORWARD,
     ("is not valid TOML", "line 3")),
    ("toml_garbage", "this is not toml at all\n", ("is not valid TOML",)),
    ("empty_text", "", ("[vars] is missing",)),
    ("only_comments", "# nothing here\n\n", ("[vars] is missing",)),
    ("missing_vars", DIMS + FORWARD, ("[vars] is missing",)),
    ("vars_not_a_table", DIMS + "vars = 3\n" + FORWARD, ("[vars] is missing",)),
    ("vars_empty", DIMS + "[vars]\n" + FORWARD, ("[vars] is missing or empty",)),
    ("missing_forward", DIMS + VARS, ("[forward] is missing",)),
    ("forward_empty", DIMS + VARS + "[forward]\n", ("[forward] is missing or empty", "loss")),
    ("forward_not_a_table", 'forward = "L = x"\n' + DIMS + VARS, ("[forward] is missing",)),
    ("unknown_top_level_key", VALID + "[forwrd]\nL2 = \"sum(x)\"\n",
     ("unknown top-level key 'forwrd'", "dims", "forward", "vars")),
    ("unknown_top_level_value", 'model = "mlp"\n' + VALID, ("unknown top-level key 'model'",)),
    ("title_not_a_string", "title = 3\n" + VALID, ("title must be a string", "int")),
    ("description_too_long", 'description = "' + "a" * 3000 + '"\n' + VALID,
     ("description is 3000 characters long",)),
    # --- [dims] ------------------------------------------------------------------------
    ("dims_not_a_table", "dims = [3, 4]\n" + VARS + FORWARD, ("[dims] must be a table",)),
    ("dim_float", with_dim("m = 2.5"), ("[dims]", "dim m = 2.5", "positive integer")),
    ("dim_zero", with_dim("m = 0"), ("[dims]", "dim m = 0", "positive integer")),
    ("dim_negative", with_dim("m = -3"), ("[dims]", "dim m = -3", "positive integer")),
    ("dim_string", with_dim('m = "3"'), ("[dims]", "dim m = '3'", "positive integer")),
    ("dim_bool", with_dim("m = true"), ("[dims]", "dim m = True", "positive integer")),
    ("dim_too_large", with_dim("m = 10000000"), ("[dims]", "dim m = 10000000", "1000000")),
    ("dim_reserved_sum", with_dim("sum = 3"), ("dim name 'sum'", "reserved")),
    ("dim_reserved_T", with_dim("T = 3"), ("dim name 'T'", "reserved")),
    ("dim_reserved_lambda", with_dim("lambda = 3"), ("dim name 'lambda'", "reserved")),
    ("dim_not_identifier", with_dim('"2n" = 3'), ("dim name '2n'", "not a plain identifier")),
    ("dim_collides_with_variable", with_dim("x = 5"),
     ("[vars] x", "variable 'x'", "same name as a dim")),
    # --- [vars] ------------------------------------------------------------------------
    ("var_unknown_key", with_var('d = { shape = ["n", 1], role = "param", shap = 1 }'),
     ("[vars] d", "unknown key 'shap'", "shape, role")),
    ("var_not_a_table", with_var("d = 3"), ("[vars] d", "expected a table")),
    ("var_no_shape", with_var('d = { role = "param" }'), ("[vars] d", "no shape")),
    ("var_bad_role", with_var('d = { shape = ["n", 1], role = "weight" }'),
     ("[vars] d", "role is 'weight'", "input, target, param")),
    ("var_missing_role", with_var('d = { shape = ["n", 1] }'),
     ("[vars] d", "role is None", "input, target, param")),
    ("var_reserved_T", with_var('T = { shape = "scalar", role = "param" }'),
     ("variable name 'T'", "reserved")),
    ("var_reserved_sum", with_var('sum = { shape = "scalar", role = "param" }'),
     ("variable name 'sum'", "reserved")),
    ("var_reserved_lambda", with_var('lambda = { shape = "scalar", role = "param" }'),
     ("variable name 'lambda'", "reserved")),
    ("var_not_identifier", with_var('"my var" = { shape = "scalar", role = "param" }'),
     ("variable name 'my var'", "not a plain identifier")),
    ("var_name_too_long", with_var("a" * 41 + ' = { shape = "scalar", role = "param" }'),
     ("variable name", "at most 40 characters")),
    ("shape_unknown_dim", with_var('d = { shape = ["m", 1], role = "param" }'),
     ("[vars] d", "shape entry 'm'", "neither 1 nor a dim", "dims: n, h")),
    ("shape_zero", with_var('d = { shape = [0, "n"], role = "param" }'),
     ("[vars] d", "shape entry 0", "neither 1 nor a dim")),
    ("shape_two", with_var('d = { shape = [2, "n"], role = "param" }'),
     ("[vars] d", "shape entry 2", "neither 1 nor a dim")),
    ("shape_negative", with_var('d = { shape = ["n", -1], role = "param" }'),
     ("[vars] d", "shape entry -1", "neither 1 nor a dim")),
    ("shape_string_not_a_dim", with_var('d = { shape = ["scalar", 1], role = "param" }'),
     ("[vars] d", "shape entry 'scalar'", "neither 1 nor a dim")),
    ("shape_bool", with_var('d = { shape = [true, "n"], role = "param" }'),
     ("[vars] d", "shape entry True", "neither 1 nor a dim")),
    ("shape_fraction", with_var('d = { shape = [1.5, "n"], role = "param" }'),
     ("[vars] d", "shape entry 1.5",)),
    ("shape_nested_list", with_var('d = { shape = [["n"], 1], role = "param" }'),
     ("[vars] d", "shape entry ['n']",)),
    ("shape_one_entry", with_var('d = { shape = ["n"], role = "param" }'),
     ("[vars] d", "shape is ['n']", '"scalar" or [rows, cols]')),
    ("shape_three_entries", with_var('d = { shape = ["n", "n", 1], role = "param" }'),
     ("[vars] d", "shape is ['n', 'n', 1]",)),
    ("shape_word", with_var('d = { shape = "vector", role = "param" }'),
     ("[vars] d", "shape is 'vector'",)),
    ("range_low_above_high", with_var('d = { shape = "scalar", role = "param", range = [1, 0] }'),
     ("[vars] d", "range is [1, 0]", "low <= high", "low == high for a constant")),
    ("range_subnormal",
     with_var('d = { shape = "scalar", role = "param", range = [1e-310, 2e-310] }'),
     ("[vars] d", "range is [1e-310, 2e-310]", "between 1e-150 and 1e+150", "got 1e-310")),
    ("range_beyond_float_safety",
     with_var('d = { shape = "scalar", role = "param", range = [-1e308, 1e308] }'),
     ("[vars] d", "range is [-1e+308, 1e+308]", "between 1e-150 and 1e+150")),
    ("range_one_end_too_small",
     with_var('d = { shape = "scalar", role = "param", range = [1e-200, 1] }'),
     ("[vars] d", "got 1e-200")),
    ("range_not_numbers",
     with_var('d = { shape = "scalar", role = "param", range = ["a", 1] }'),
     ("[vars] d", "range is ['a', 1]",)),
    ("range_three_numbers",
     with_var('d = { shape = "scalar", role = "param", range = [0, 1, 2] }'),
     ("[vars] d", "range is [0, 1, 2]",)),
    ("range_nan", with_var('d = { shape = "scalar", role = "param", range = [nan, 1] }'),
     ("[vars] d", "range is [nan, 1]",)),
    ("range_infinite", with_var('d = { shape = "scalar", role = "param", range = [0, inf] }'),
     ("[vars] d", "range is [0, inf]",)),
    ("range_bool", with_var('d = { shape = "scalar", role = "param", range = [false, true] }'),
     ("[vars] d", "range is [False, True]",)),
    # --- latex names -------------------------------------------------------------------
    ("latex_input_file",
     with_var(r"""d = { shape = "scalar", role = "param", latex = '\input{/etc/passwd}' }"""),
     ("[vars] d", "latex", "is not accepted")),
    ("latex_unknown_command",
     with_var(r"""d = { shape = "scalar", role = "param", latex = '\input{d}' }"""),
     ("[vars] d", "\\input is not one of the math-name commands")),
    ("latex_write18",
     with_var(r"""d = { shape = "scalar", role = "param", latex = '\write18{rm}' }"""),
     ("[vars] d", "\\write18", "not accepted")),
    ("latex_unbalanced_open",
     with_var(r"""d = { shape = "scalar", role = "param", latex = '\hat{d' }"""),
     ("[vars] d", "braces do not balance")),
    ("latex_unbalanced_close",
     with_var(r"""d = { shape = "scalar", role = "param", latex = 'd}{' }"""),
     ("[vars] d", "braces do not balance")),
    ("latex_dollar", with_var("""d = { shape = "scalar", role = "param", latex = '$d$' }"""),
     ("[vars] d", "'$' is not allowed in a math name")),
    ("latex_empty", with_var("""d = { shape = "scalar", role = "param", latex = ' ' }"""),
     ("[vars] d", "it is empty")),
    ("latex_too_long",
     with_var('d = { shape = "scalar", role = "param", latex = "' + "d" * 81 + '" }'),
     ("[vars] d", "81 characters long")),
    ("latex_not_a_string", with_var('d = { shape = "scalar", role = "param", latex = 3 }'),
     ("[vars] d", "latex must be a string", "int")),
    ("latex_equation_input",
     fwd('z = "W @ x + b"', r"""L = { expr = "sum(z)", latex = '\input{/etc/passwd}' }"""),
     ("equation 'L'", "latex", "not accepted")),
    # --- equation names and bodies -----------------------------------------------------
    ("equation_collides_with_variable", fwd('W = "x"', 'L = "sum(W)"'),
     ("equation 'W'", "already defined as a variable")),
    ("equation_collides_with_dim", fwd('n = "sum(x)"', 'L = "n"'),
     ("equation 'n'", "already a dim")),
    ("equation_reserved_sum", fwd('sum = "x"', 'L = "c"'), ("equation name 'sum'", "reserved")),
    ("equation_reserved_T", fwd('T = "x"', 'L = "c"'), ("equation name 'T'", "reserved")),
    ("equation_reserved_lambda", fwd('lambda = "x"', 'L = "c"'),
     ("equation name 'lambda'", "reserved")),
    ("equation_not_identifier", fwd('"L 2" = "c"'), ("equation name 'L 2'", "plain identifier")),
    ("equation_not_a_string", fwd("L = 3"), ("equation 'L'", "expected a string")),
    ("equation_table_without_expr", fwd('L = { latex = "L" }'),
     ("equation 'L'", 'expected expr = "..."')),
    ("equation_table_unknown_key", fwd('L = { expr = "c", exp = "c" }'),
     ("equation 'L'", "unknown key 'exp'", "expr and latex")),
    ("equation_empty", loss(""), ("equation 'L'", "is empty")),
    ("equation_blank", loss("   "), ("equation 'L'", "is empty")),
    ("syntax_error", hidden("W @ @ x"), ("equation 'z'", "is not a valid expression")),
    ("syntax_statement", loss("import os"), ("equation 'L'", "is not a valid expression")),
    ("syntax_assignment", loss("c = 1"), ("equation 'L'", "is not a valid expression")),
    ("syntax_two_statements", loss("c; import os"), ("equation 'L'", "not a valid expression")),
    ("multiline_expression", fwd('L = """c\n+ c"""'), ("equation 'L'", "not a valid expression")),
    ("null_byte", loss("c\\u0000"), ("equation 'L'", "not a valid expression")),
    # --- names -------------------------------------------------------------------------
    ("unknown_name_with_hint", hidden("W @ xx + b"),
     ("equation 'z'", "unknown name 'xx'", "did you mean 'x'?")),
    ("unknown_name_typo_in_loss", fwd('z = "W @ x + b"', 'L = "c * sum((zz - y)**2)"'),
     ("equation 'L'", "unknown name 'zz'", "did you mean 'z'?")),
    ("unknown_name", hidden("W @ x + q"), ("equation 'z'", "unknown name 'q'")),
    ("later_equation_used", fwd('z = "W @ x + a"', 'a = "b"', 'L = "sum(z)"'),
     ("equation 'z'", "unknown name 'a'")),
    ("self_reference", loss("L + c"), ("equation 'L'", "unknown name 'L'")),
    ("dim_as_exponent", loss("c ** n"), ("equation 'L'", "exponent of ** must be a number")),
    ("function_used_as_value", loss("sum"), ("equation 'L'", "'sum' is a function")),
    ("T_used_as_value", loss("sum(T)"), ("equation 'L'", "unknown name 'T'")),
    # --- shapes ------------------------------------------------------------------------
    ("matmul_inner_mismatch", hidden("W @ y"),
     ("equation 'z'", "W [h x n]", "y [h x 1]", "inner dims n and h differ")),
    ("matmul_column_by_matrix", hidden("x @ W"),
     ("equation 'z'", "x [n x 1]", "W [h x n]", "inner dims 1 and h differ")),
    ("add_shape_mismatch", hidden("W @ x + x"),
     ("equation 'z'", "cannot add", "W @ x [h x 1]", "x [n x 1]")),
    ("add_matrix_and_wrong_column", hidden("W + x"),
     ("equation 'z'", "cannot add", "W [h x n]", "x [n x 1]")),
    ("subtract_shape_mismatch", hidden("x - y"),
     ("equation 'z'", "cannot subtract", "x [n x 1]", "y [h x 1]")),
    ("hadamard_unequal_shapes", hidden("W * x"),
     ("equation 'z'", "cannot multiply elementwise", "W [h x n]", "x [n x 1]")),
    ("hadamard_column_vs_row", hidden("y * x.T"),
     ("equation 'z'", "cannot multiply elementwise", "[h x 1]", "[1 x n]")),
    ("divide_by_non_scalar", hidden("W / x"),
     ("equation 'z'", "cannot divide W [h x n] / x [n x 1]", "a column [r x 1] beside [r x c]")),
    ("divide_by_wrong_row", hidden("W / y.T"),
     ("equation 'z'", "cannot divide W [h x n] / y.T [1 x h]", "a row [1 x c] beside [r x c]")),
    ("hadamard_wrong_row", hidden("W * y.T"),
     ("equation 'z'", "cannot multiply elementwise", "W [h x n]", "y.T [1 x h]")),
    ("divide_by_zero", hidden("W @ x / 0"), ("equation 'z'", "division by zero")),
    ("divide_by_zero_float", hidden("W @ x / 0.0"), ("equation 'z'", "division by zero")),
    ("divide_by_minus_zero", hidden("W @ x / -0"), ("equation 'z'", "division by zero")),
    ("divide_by_zero_product", hidden("W @ x / (0 * 2)"), ("equation 'z'", "division by zero")),
    ("zero_to_negative_power", loss("c * 0 ** -1"), ("equation 'L'",)),
    ("non_scalar_loss_column", fwd('z = "W @ x + b"', 'L = "z"'),
     ("equation 'L'", "must be a scalar", "[h x 1]")),
    ("non_scalar_loss_matrix", loss("W * c"), ("equation 'L'", "must be a scalar", "[h x n]")),
    ("non_scalar_loss_row", loss("x.T"), ("equation 'L'", "must be a scalar", "[1 x n]")),
    # --- constants and exponents -------------------------------------------------------
    ("exponent_not_constant", loss("c ** c"), ("equation 'L'", "exponent of ** must be a number")),
    ("exponent_expression", loss("c ** (1 / 2)"), ("equation 'L'", "must be a number")),
    ("exponent_huge", loss("c ** 1000"), ("equation 'L'", "exponent 1000 is too large", "64")),
    ("exponent_huge_negative", loss("c ** -1000"), ("equation 'L'", "exponent -1000 is too large")),
    ("exponent_tower", loss("c ** 9 ** 9 ** 9"), ("equation 'L'", "must be a number")),
    ("exponent_float_overflow", loss("c ** 1e300"), ("equation 'L'", "not a finite number")),
    ("constant_power_tower", loss(f"c * {BIG_POWER_TOWER}"), ("equation 'L'",)),
    ("scaled_power_tower", loss("sum((((((2*x)**64)**64)**64)**64))"), ("equation 'L'",)),
    ("constant_underflow_power", loss("c * ((0.5 ** 64) ** 64) ** 64"), ("equation 'L'",)),
    ("constant_too_large", loss("c * 10000000000000"), ("equation 'L'", "too large")),
    ("constant_infinite", loss("c * 1e999"), ("equation 'L'", "not a finite number")),
    ("constant_hex_huge", loss("c * 0x" + "f" * 300), ("equation 'L'", "too large")),
    # --- calls -------------------------------------------------------------------------
    ("unknown_function", hidden("softmin(W @ x)"),
     ("equation 'z'", "unknown function 'softmin'", "sigmoid")),
    ("too_many_arguments", hidden("sigmoid(x, y)"),
     ("equation 'z'", "sigmoid() takes one argument, got 2")),
    ("no_arguments", loss("sum()"), ("equation 'L'", "sum() takes one argument, got 0")),
    ("keyword_argument", loss("sum(x, axis=2)"), ("equation 'L'", "axis=) must be 0 or 1", "'2'")),
    ("keyword_only", hidden("relu(x=x)"), ("equation 'z'", "relu() takes no keyword arguments")),
    ("keyword_splat", loss("sum(**x)"), ("equation 'L'", "takes one keyword, axis=0 or axis=1")),
    ("axis_not_a_number", loss("sum(x, axis=c)"), ("equation 'L'", "must be 0 or 1, got 'c'")),
    ("axis_bool", loss("sum(sum(W, axis=True))"), ("equation 'L'", "must be 0 or 1, got 'True'")),
    ("axis_other_keyword", loss("sum(mean(W, dim=1))"),
     ("equation 'L'", "mean() takes one keyword, axis=0 or axis=1; got dim=")),
    ("axis_on_an_activation", hidden("tanh(W @ x, axis=1)"),
     ("equation 'z'", "tanh() takes no keyword arguments")),
    ("axis_sum_not_scalar_loss", loss("sum(W, axis=0)"),
     ("equation 'L'", "must be a scalar", "[1 x n]")),
    ("standardize_no_arguments", hidden("standardize()"),
     ("equation 'z'", "standardize() takes 1 or 2 arguments, got 0", "standardize(Z, eps)")),
    ("standardize_eps_variable", hidden("standardize(W, c)"),
     ("equation 'z'", "standardize's eps must be a number")),
    ("standardize_eps_zero", hidden("standardize(W, 0)"),
     ("equation 'z'", "standardize's eps must be positive, got 0")),
    ("batchnorm_too_few", hidden("batchnorm(W, b)"),
     ("equation 'z'", "batchnorm() takes 3 or 4 arguments, got 2",
      "batchnorm(Z, gamma, beta, eps)")),
    ("batchnorm_gamma_shape", hidden("batchnorm(W, x, b)"),
     ("equation 'z'", "batchnorm's gamma x has shape [n x 1]", "expected [h x 1]")),
    ("batchnorm_beta_shape", hidden("batchnorm(W, b, W)"),
     ("equation 'z'", "batchnorm's beta W has shape [h x n]", "expected [h x 1]")),
    ("star_argument", loss("sum(*x)"), ("equation 'L'", "Starred")),
    ("leaky_slope_out_of_range", hidden("leaky_relu(x, 2)"), ("equation 'z'", "[0, 1)")),
    ("leaky_slope_variable", hidden("leaky_relu(x, c)"), ("equation 'z'", "must be a number")),
    ("method_call", loss("x.sum()"), ("equation 'L'", "unknown function")),
    # --- the whitelist: hostile and foreign syntax -------------------------------------
    ("import_os_system", loss("__import__('os').system('touch PWNED')"),
     ("equation 'L'", "unknown function")),
    ("import_call", loss("__import__('os')"), ("equation 'L'", "unknown function '__import__'")),
    ("eval_call", loss("eval('c')"), ("equation 'L'", "unknown function 'eval'")),
    ("exec_call", loss("exec('c')"), ("equation 'L'", "unknown function 'exec'")),
    ("open_call", loss("open('PWNED', 'w')"), ("equation 'L'", "unknown function 'open'")),
    ("getattr_call", loss("getattr(c, 'T')"), ("equation 'L'", "unknown function 'getattr'")),
    ("attribute_foo", loss("sum(x.foo)"), ("equation 'L'", "unknown attribute .foo", "only .T")),
    ("attribute_dunder", loss("c.__class__"), ("equation 'L'", "unknown attribute .__class__")),
    ("attribute_chain", loss("c.__class__.__base__"), ("equation 'L'", "unknown attribute")),
    ("subscript_index", loss("sum(x[0])"), ("equation 'L'", "Subscript", "not part of")),
    ("subscript_slice", loss("sum(W[0:1])"), ("equation 'L'", "Subscript", "not part of")),
    ("lambda", loss("lambda: c"), ("equation 'L'", "Lambda", "not part of")),
    ("lambda_called", loss("(lambda: c)()"), ("equation 'L'", "unknown function")),
    ("list_comprehension", loss("sum([v for v in x])"), ("equation 'L'", "ListComp")),
    ("generator_expression", loss("sum(v for v in x)"), ("equation 'L'", "GeneratorExp")),
    ("set_comprehension", loss("{v for v in x}"), ("equation 'L'", "SetComp")),
    ("dict_comprehension", loss("{v: v for v in x}"), ("equation 'L'", "DictComp")),
    ("list_display", loss("[c]"), ("equation 'L'", "List", "not part of")),
    ("tuple_display", loss("c, c"), ("equation 'L'", "Tuple", "not part of")),
    ("dict_display", loss("{c: c}"), ("equation 'L'", "Dict", "not part of")),
    ("string_constant", loss("c * 'abc'"), ("equation 'L'", "constant 'abc' is not a number")),
    ("bytes_constant", loss("c * b'abc'"), ("equation 'L'", "is not a number")),
    ("f_string", loss("f'{c}'"), ("equation 'L'", "JoinedStr")),
    ("bool_true", loss("c * True"), ("equation 'L'", "constant True is not a number")),
    ("bool_false", loss("c + False"), ("equation 'L'", "constant False is not a number")),
    ("none_constant", loss("c * None"), ("equation 'L'", "constant None is not a number")),
    ("complex_constant", loss("c * 1j"), ("equation 'L'", "constant 1j is not a number")),
    ("ellipsis", loss("..."), ("equation 'L'", "is not a number")),
    ("comparison", loss("c < 1"), ("equation 'L'", "Compare")),
    ("boolean_operator", loss("c and c"), ("equation 'L'", "BoolOp")),
    ("not_operator", loss("not c"), ("equation 'L'", "UnaryOp")),
    ("bitwise_operator", loss("c ^ c"), ("equation 'L'", "BinOp")),
    ("floor_division", loss("c // 2"), ("equation 'L'", "BinOp")),
    ("conditional", loss("c if c else c"), ("equation 'L'", "IfExp")),
    ("walrus", loss("(a := c)"), ("equation 'L'", "NamedExpr")),
    ("await", loss("await c"), ("equation 'L'", "Await")),
    ("yield", loss("(yield c)"), ("equation 'L'", "Yield")),
    # --- size and depth ----------------------------------------------------------------
    ("nested_parens_10000", loss(NESTED_10000), ("equation 'L'",)),
    ("nested_parens_65", loss("sum(" + "(" * 65 + "x" + ")" * 65 + ")"),
     ("equation 'L'", "nests brackets more than 64 deep")),
    ("nested_lists_100", loss("[" * 100 + "c" + "]" * 100), ("equation 'L'", "64 deep")),
    ("nested_braces_300", loss("{" * 300 + "c" + "}" * 300), ("equation 'L'",)),
    ("unary_minus_chain", loss("-" * 1900 + "c"), ("equation 'L'", "nested too deeply")),
    ("transpose_chain", loss("sum(x" + ".T" * 600 + ")"), ("equation 'L'", "nested too deeply")),
    ("long_sum_chain", loss("+".join(["c"] * 400)), ("equation 'L'", "nested too deeply")),
    ("equation_1mb", loss(EQUATION_1MB),
     ("equation 'L'", f"is {len(EQUATION_1MB)} characters long", "at most 2000")),
    ("equation_2001_chars", loss("c" + " " * 2000), ("equation 'L'", "2001 characters long")),
]
# fmt: on

CASE_TABLE = {case_id: (text, fragments) for case_id, text, fragments in CASES}
assert len(CASE_TABLE) == len(CASES), "duplicate case ids"

# Rows run through `derive.cli.main` as well (each written to a real file).
CLI_CASES = [
    "toml_unclosed_table",
    "missing_vars",
    "dim_collides_with_variable",
    "var_bad_role",
    "unknown_name_with_hint",
    "matmul_inner_mismatch",
    "non_scalar_loss_column",
    "divide_by_zero",
    "range_low_above_high",
    "import_os_system",
    "lambda",
    "subscript_index",
    "string_constant",
    "keyword_argument",
    "batchnorm_gamma_shape",
    "divide_by_wrong_row",
    "latex_input_file",
    "nested_parens_10000",
    "equation_1mb",
    "constant_underflow_power",
]

# Mistakes that only exist as files: (id, bytes or None for "is a directory", fragments).
FILE_CASES: list[tuple[str, bytes | None, tuple[str, ...]]] = [
    ("non_utf8", b"\xff\xfe[vars]\n", ("is not UTF-8 text",)),
    ("latin1_comment", ("# caf\xe9\n" + VALID).encode("latin-1"), ("is not UTF-8", "byte 5")),
    ("directory", None, ("is a directory",)),
    ("empty_file", b"", ("[vars] is missing",)),
    ("file_too_big", b"# " + b"x" * 1_000_000 + b"\n" + VALID.encode(), ("bytes", "too large")),
]
FILE_TABLE = {case_id: (data, fragments) for case_id, data, fragments in FILE_CASES}


def assert_one_line_error(message: str, source: str, fragments: tuple[str, ...]) -> None:
    """The shared contract: one line, starting with the file, containing every fragment."""
    assert message, "empty message"
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    assert message.startswith(f"{source}: "), f"does not start with the file: {message[:200]!r}"
    assert "Traceback" not in message
    assert "RecursionError" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from {message[:500]!r}"


# ---------------------------------------------------------------------------------------
# The API: parse_spec and load_spec
# ---------------------------------------------------------------------------------------


def test_base_spec_is_valid() -> None:
    """Every row mutates this spec; it must itself be fine, or the rows prove nothing."""
    spec = parse_spec(VALID, SOURCE)
    assert spec.loss == "L"
    assert spec.shape_of("z") == ("h", 1)
    assert spec.warnings == ()


def test_case_table_is_broad() -> None:
    assert len(CASES) + len(FILE_CASES) >= 30
    assert len(SUBPROCESS_CASES) + len(SUBPROCESS_FILE_CASES) >= 10


@pytest.mark.parametrize(("text", "fragments"), list(CASE_TABLE.values()), ids=list(CASE_TABLE))
def test_parse_spec_rejects(
    text: str, fragments: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # anything an equation managed to run would land here
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        parse_spec(text, SOURCE)
    elapsed = time.perf_counter() - start
    error = info.value
    assert_one_line_error(str(error), SOURCE, fragments)
    assert error.source == SOURCE
    assert error.exit_code == 2
    where = f"{error.where}: " if error.where else ""
    assert str(error) == f"{SOURCE}: {where}{error.detail}"
    assert elapsed < 2.0, f"rejecting took {elapsed:.1f}s"
    assert list(tmp_path.iterdir()) == [], "parsing a spec created a file"


@pytest.mark.parametrize(("text", "fragments"), list(CASE_TABLE.values()), ids=list(CASE_TABLE))
def test_load_spec_names_the_path(text: str, fragments: tuple[str, ...], tmp_path: Path) -> None:
    path = tmp_path / "nets" / "model.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert_one_line_error(str(info.value), str(path), fragments)


@pytest.mark.parametrize(("data", "fragments"), list(FILE_TABLE.values()), ids=list(FILE_TABLE))
def test_load_spec_rejects_file(
    data: bytes | None, fragments: tuple[str, ...], tmp_path: Path
) -> None:
    path = tmp_path / "bad.toml"
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)
    with pytest.raises((SpecError, TooLargeError)) as info:  # a limit of its own
        load_spec(path)
    assert_one_line_error(str(info.value), str(path), fragments)


def test_load_spec_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert_one_line_error(str(info.value), str(path), ("no such file",))


def test_source_name_is_what_the_caller_gave() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(CASE_TABLE["matmul_inner_mismatch"][0], source="nets/mlp.toml")
    assert str(info.value).startswith("nets/mlp.toml: equation 'z': ")
    assert info.value.where == "equation 'z'"


def test_unknown_name_far_from_everything_has_no_hint() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(hidden("W @ x + qqqq"), SOURCE)
    assert "unknown name 'qqqq'" in str(info.value)
    assert "did you mean" not in str(info.value)


def test_big_rows_do_not_echo_the_equation() -> None:
    """A 1 MB equation must not come back as a 1 MB message."""
    for case_id in ("equation_1mb", "nested_parens_10000"):
        with pytest.raises(SpecError) as info:
            parse_spec(CASE_TABLE[case_id][0], SOURCE)
        assert len(str(info.value)) < 500, case_id


def test_call_of_a_non_name_is_described() -> None:
    """`__import__('os').system(...)` is refused; the message must say what was called.

    A message such as "unknown function 'this'" names a placeholder, not anything the user wrote.
    """
    for expr, called in [
        ("__import__('os').system('x')", "system"),
        ("(lambda: c)()", "lambda"),
        ("x.sum()", "sum"),
    ]:
        with pytest.raises(SpecError) as info:
            parse_spec(loss(expr), SOURCE)
        message = str(info.value)
        assert "'this'" not in message, message
        assert called in message.split(" (at column")[0], message


HOSTILE = [
    "__import__('os').system('touch {marker}')",
    "__import__('pathlib').Path('{marker}').touch()",
    "open('{marker}', 'w')",
    "exec('open(\\\\'{marker}\\\\', \\\\'w\\\\')')",
    "eval('open(\\\\'{marker}\\\\', \\\\'w\\\\')')",
    "(lambda: open('{marker}', 'w'))()",
    "[open('{marker}', 'w') for _ in x]",
    "sum(x) * len(open('{marker}', 'w').name)",
    "x.T.__class__.__init__.__globals__['os'].system('touch {marker}')",
]


@pytest.fixture
def no_eval(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Record any eval, exec of text, or sympy parsing of text while a spec is read."""
    calls: list[Any] = []
    real_eval, real_exec = builtins.eval, builtins.exec

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(source: Any, *args: Any, **kwargs: Any) -> Any:
            if name == "eval" or isinstance(source, str | bytes):
                calls.append((name, source))
            return real(source, *args, **kwargs)

        return wrapper

    def no_parse_expr(*args: Any, **kwargs: Any) -> Any:
        calls.append(("parse_expr", args))
        raise AssertionError("sympy parse_expr was called on spec text")

    monkeypatch.setattr(builtins, "eval", spy("eval", real_eval))
    monkeypatch.setattr(builtins, "exec", spy("exec", real_exec))
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", no_parse_expr)
    yield calls


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_equation_never_runs(template: str, tmp_path: Path, no_eval: list[Any]) -> None:
    marker = tmp_path / "PWNED"
    text = loss(template.format(marker=marker))
    with pytest.raises(SpecError) as info:
        parse_spec(text, SOURCE)
    assert_one_line_error(str(info.value), SOURCE, ("equation 'L'",))
    assert not marker.exists(), "an equation was executed"
    assert no_eval == [], f"eval/exec/sympify saw spec text: {no_eval}"


def test_valid_spec_is_read_without_eval(no_eval: list[Any]) -> None:
    spec = parse_spec(VALID, SOURCE)
    assert spec.loss == "L"
    assert no_eval == []
    assert eval("1 + 1") == 2  # the spy itself works: this call is recorded
    assert no_eval == [("eval", "1 + 1")]


def test_warnings_for_unused_names() -> None:
    spec = parse_spec(with_var('d = { shape = "scalar", role = "param" }'), SOURCE)
    assert "param 'd' is declared but never used" in spec.warnings


# ---------------------------------------------------------------------------------------
# The CLI: in-process through `derive.cli.main` for every CLI row (cheap), and as a real
# subprocess for a subset, started together in one fixture so the file stays fast.
# ---------------------------------------------------------------------------------------


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`gradproof ARGV` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help, bad options
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_cli_error(
    code: int | None, out: str, err: str, path: Path, fragments: tuple[str, ...] = ()
) -> None:
    assert code is not None, "did not finish in time"
    assert code == 2, (code, err[-2000:])
    assert "Traceback" not in err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, f"stderr is not one line: {err[-2000:]!r}"
    assert err.endswith("\n")
    line = lines[0]
    assert line.startswith("gradproof: error: "), line
    assert str(path) in line, line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} missing from {line[:500]!r}"


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_cli_main_rejects_spec(
    case_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    text, fragments = CASE_TABLE[case_id]
    path = tmp_path / f"{case_id}.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_main(["derive", str(path)], capsys)
    assert_cli_error(code, out, err, path, fragments)
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "the CLI created a file"


@pytest.mark.parametrize("case_id", [*FILE_TABLE, "missing"])
def test_cli_main_rejects_file(
    case_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    if case_id == "missing":
        fragments: tuple[str, ...] = ("no such file",)
    else:
        data, fragments = FILE_TABLE[case_id]
        if data is None:
            path.mkdir()
        else:
            path.write_bytes(data)
    code, out, err = run_main(["derive", str(path)], capsys)
    assert_cli_error(code, out, err, path, fragments)


def write_valid(tmp_path: Path) -> Path:
    path = tmp_path / "valid.toml"
    path.write_text(VALID, encoding="utf-8")
    return path


def test_cli_main_valid_spec_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(["derive", str(write_valid(tmp_path))], capsys)
    assert code == 0, err
    assert err == ""
    assert "W" in out and "b" in out


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0
    assert out.startswith("usage: gradproof")
    for word in ("derive", "toml", "latex", "markdown", "json", "exit codes"):
        assert word in out.lower(), word


def test_cli_derive_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(["derive", "--help"], capsys)
    assert code == 0
    assert out.startswith("usage: gradproof derive")
    for word in ("--format", "markdown", "latex", "json", "--wrt", "SPEC"):
        assert word in out, word


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--bogus"], "--bogus"),
        (["--format", "pdf"], "'pdf'"),
        (["--wrt"], "--wrt"),
    ],
    ids=["unknown_option", "bad_format", "missing_value"],
)
def test_cli_bad_options(
    extra: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["derive", str(write_valid(tmp_path)), *extra], capsys)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gradproof"), lines[0]
    assert fragment in lines[0]
    assert "usage:" not in err


def test_cli_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main([], capsys)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert "COMMAND" in err


def test_cli_wrt_unknown_has_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_valid(tmp_path)
    code, out, err = run_main(["derive", str(path), "--wrt", "WW"], capsys)
    assert_cli_error(code, out, err, path, ("'WW'", "did you mean 'W'?"))


def test_cli_unused_param_warns_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "unused.toml"
    path.write_text(with_var('d = { shape = "scalar", role = "param" }'), encoding="utf-8")
    code, out, err = run_main(["derive", str(path)], capsys)
    assert code == 0, err
    assert out.strip(), "no derivation printed"
    assert "warning" not in out
    assert err.splitlines() == [f"gradproof: warning: {path}: param 'd' is declared but never used"]


# Rows also run as `python -m derive.cli derive PATH` in a fresh interpreter.
SUBPROCESS_CASES = [
    "toml_unclosed_table",
    "unknown_name_with_hint",
    "matmul_inner_mismatch",
    "non_scalar_loss_column",
    "import_os_system",
    "lambda",
    "nested_parens_10000",
    "equation_1mb",
    "constant_underflow_power",
]
SUBPROCESS_FILE_CASES = ["non_utf8"]


@dataclass
class Run:
    returncode: int | None  # None: killed after its timeout
    stdout: str
    stderr: str


def _run(args: list[str], cwd: Path, timeout: float) -> Run:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "derive.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        return Run(None, "", "")
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Run]]:
    """Write each subprocess case to disk, run them all at once, return id -> (path, run)."""
    root = tmp_path_factory.mktemp("cli")
    jobs: dict[str, Path] = {}
    for case_id in SUBPROCESS_CASES:
        jobs[case_id] = root / f"{case_id}.toml"
        jobs[case_id].write_text(CASE_TABLE[case_id][0], encoding="utf-8")
    for case_id in SUBPROCESS_FILE_CASES:
        path = jobs[case_id] = root / f"file_{case_id}.toml"
        data = FILE_TABLE[case_id][0]
        if data is None:
            path.mkdir()
        else:
            path.write_bytes(data)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            key: pool.submit(_run, ["derive", str(path)], root, 60) for key, path in jobs.items()
        }
        return {key: (jobs[key], future.result()) for key, future in futures.items()}


@pytest.mark.parametrize("case_id", [*SUBPROCESS_CASES, *SUBPROCESS_FILE_CASES])
def test_cli_subprocess_rejects(case_id: str, subprocess_runs: dict[str, tuple[Path, Run]]) -> None:
    path, run = subprocess_runs[case_id]
    fragments = (CASE_TABLE.get(case_id) or FILE_TABLE[case_id])[1]
    assert_cli_error(run.returncode, run.stdout, run.stderr, path, fragments)


def test_cli_subprocess_ran_nothing(subprocess_runs: dict[str, tuple[Path, Run]]) -> None:
    """The hostile spec ran in this folder: its `touch PWNED` must have done nothing."""
    path, run = subprocess_runs["import_os_system"]
    assert "__import__('os').system('touch PWNED')" in path.read_text()
    assert run.returncode == 2
    expected = {p.name for p, _ in subprocess_runs.values()}
    created = {p.name for p in path.parent.iterdir()} - expected
    assert not created, f"the CLI runs created files: {created}"
