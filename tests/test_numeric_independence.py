"""numeric/ stays independent: no sympy, nothing from derive/, no eval/exec/compile/pickle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

NUMERIC = Path(__file__).resolve().parent.parent / "numeric"
SOURCES = sorted(NUMERIC.glob("*.py"))
FORBIDDEN_MODULES = ("sympy", "derive", "pickle", "marshal", "shelve", "dill", "cloudpickle")
FORBIDDEN_CALLS = ("eval", "exec", "compile", "__import__")


def _top(module: str) -> str:
    return module.split(".")[0]


def imported_modules(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:  # from .. import x: reaches outside numeric/
                names.append("<relative import beyond numeric/>")
            names.append(node.module or "")
    return names


def test_there_are_sources_to_scan() -> None:
    assert {p.name for p in SOURCES} >= {"ops.py", "tape.py", "gradcheck.py", "spec.py"}


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_sympy_no_derive_no_pickle_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for module in imported_modules(tree):
        assert not module.startswith("<"), f"{path.name}: {module}"
        assert _top(module) not in FORBIDDEN_MODULES, f"{path.name} imports {module}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_eval_exec_compile_or_dynamic_import(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} uses {node.id}"
        if isinstance(node, ast.Attribute):
            assert node.attr not in (*FORBIDDEN_CALLS, "import_module"), (
                f"{path.name}:{node.lineno} uses .{node.attr}"
            )
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert node.value not in FORBIDDEN_MODULES, f"{path.name} names {node.value!r}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_every_module_starts_with_a_one_line_docstring(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring, f"{path.name} has no module docstring"
    assert docstring.splitlines()[0].strip()


def test_importing_numeric_loads_neither_sympy_nor_derive() -> None:
    code = (
        "import sys, numeric, numeric.gradcheck, numeric.ops, numeric.tape\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sympy', 'derive'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=NUMERIC.parent,
    )
    assert out.stdout.strip() == ""
