"""Hostile spec files through every command: no injection, no traceback, one line on error.

Each row is a spec file an attacker could write (TeX escapes, Python quoting, HTML, XML, code in
equations). Every command (`derive` as markdown, LaTeX and JSON with `--graph`, `codegen`,
`verify --no-torch`, `check`) runs through `derive.cli.main` in one fresh interpreter per spec
(one process per command would take minutes); each must exit 0, 1 or 2, a failure must be one
line on stderr, nothing may print a traceback or run planted code (the sentinel file stays
absent), no written .tex may hold ^^, \\input, \\write18, \\csname or \\catcode, and every
generated module must import and run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from derive.spec import check_latex_name
from tests.conftest import ROOT
from tests.markdown_oracle import elements

# what our markdown renders to: headings, paragraphs, math, the shapes table, lists, emphasis, the
# graph's picture (a local file), a quote (a box), code spans; never a link, raw HTML or a script
MARKDOWN_TAGS = {
    "h1", "h2", "h3", "h4", "p", "div", "eqn", "span", "section", "table", "thead", "tbody", "tr",
    "th", "td", "ul", "li", "strong", "img", "blockquote", "code",
}  # fmt: skip
SENTINEL = "PWNED"
TOUCH = f"__import__('os').system('touch {SENTINEL}')"


def spec(
    title: str = "t",
    description: str = "d",
    x_latex: str | None = None,
    loss_latex: str | None = None,
    loss: str = "sum((W @ x - y)**2)",
    extra_vars: str = "",
    dims: str = "n = 2\nm = 3\n",
) -> str:
    """A small valid spec (TOML) with one field replaced; fields are written as TOML literals."""
    xl = f", latex = {json.dumps(x_latex)}" if x_latex is not None else ""
    ll = f", latex = {json.dumps(loss_latex)}" if loss_latex is not None else ""
    return (
        f"title = {json.dumps(title)}\ndescription = {json.dumps(description)}\n"
        f"[dims]\n{dims}[vars]\n"
        f'x = {{ shape = ["n", 1], role = "input"{xl} }}\n'
        'y = { shape = ["m", 1], role = "target" }\n'
        'W = { shape = ["m", "n"], role = "param" }\n'
        f"{extra_vars}"
        f"[forward]\nL = {{ expr = {json.dumps(loss)}{ll} }}\n"
    )


HOSTILE = {
    # --- TeX in latex names ------------------------------------------------------------------
    "latex_hathat_input": spec(x_latex=r"W^^5cinput^^7b^^2fetc^^2fhostname^^7d"),
    "latex_hathat_write18": spec(x_latex=r"x^^5cimmediate^^5cwrite18^^7btouch PWNED^^7d"),
    "latex_input": spec(x_latex=r"\input{/etc/passwd}"),
    "latex_write18": spec(x_latex=r"\immediate\write18{touch PWNED}"),
    "latex_csname": spec(x_latex=r"\csname input\endcsname{/etc/hostname}"),
    "latex_catcode": spec(x_latex=r"\catcode`\^=7"),
    "latex_def": spec(x_latex=r"\def\x{\input{/etc/passwd}}\x"),
    "latex_percent": spec(x_latex="x%"),
    "latex_hash_amp": spec(x_latex="x#1&"),
    "latex_unbalanced_open": spec(x_latex=r"\hat{x"),
    "latex_unbalanced_close": spec(x_latex="x}}\\input{a}{{"),
    "latex_dollar_end_document": spec(x_latex=r"x$\end{document}"),
    "latex_newline": spec(x_latex="x\n\\input{a}"),
    "latex_nul": spec(x_latex="x\u0000"),
    "latex_non_ascii": spec(x_latex="α"),
    "loss_latex_input": spec(loss_latex=r"\input{/etc/passwd}"),
    "loss_latex_hathat": spec(loss_latex="L^^5cinput"),
    # --- Python quoting into generated modules -------------------------------------------------
    "latex_triple_single": spec(x_latex="W'''+str(" + TOUCH + ")+r'''"),
    "latex_primes_only": spec(x_latex="x'''"),  # valid math: must not break the module
    "loss_latex_primes": spec(loss_latex="L''''"),
    "title_triple_single": spec(title="t'''+str(" + TOUCH + ")+r'''"),
    "title_triple_double": spec(title='t"""\n' + TOUCH + '\n"""'),
    "title_backslash": spec(title="ends with a backslash \\"),
    "description_quotes_newlines": spec(description='"""\n' + TOUCH + "\n'''\\\n"),
    "title_nul": spec(title="a\u0000b"),
    "title_escape_sequence": spec(title="\u001b[2J\u001b]0;pwned\u0007"),
    "title_coding_cookie": spec(title="-*- coding: latin-1 -*-"),
    # --- TeX, markdown, HTML, XML in titles and descriptions ---------------------------------
    "title_newline_end_document": spec(title="a\n\\end{document}"),
    "description_end_document": spec(description="a\n\n\\end{document}\n\\input{/etc/passwd}"),
    "title_all_tex_specials": spec(title=r"# $ % & ~ _ ^ \ { } ^^5cinput \write18 < > |"),
    "description_hathat": spec(description="^^5cinput^^7b/etc/hostname^^7d"),
    "title_script": spec(title="<script>alert(1)</script>"),
    "description_html": spec(description="<img src=x onerror=alert(1)> [x](javascript:alert(1))"),
    "description_markdown_math": spec(description="$$\n\\input{a}\n$$ `code` *em* ---"),
    "title_svg_close": spec(title="</title><script>alert(1)</script><title>"),
    "title_xml_entity": spec(title='<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>&e;'),
    "title_u2028": spec(title="a\u2028b"),
    "description_nonascii": spec(description="ŷ ⊙ ∂ — 漢字 \U0001f600"),
    # --- names and dims ------------------------------------------------------------------------
    "name_with_newline": spec(extra_vars='"v\\n" = { shape = "scalar", role = "param" }\n'),
    "name_quote": spec(extra_vars="\"v'''\" = { shape = \"scalar\", role = \"param\" }\n"),
    "name_dunder": spec(extra_vars='__import__ = { shape = "scalar", role = "param" }\n'),
    "name_builtin": spec(extra_vars='print = { shape = "scalar", role = "param" }\n'),
    "name_keyword": spec(extra_vars='lambda = { shape = "scalar", role = "param" }\n'),
    "name_np": spec(
        extra_vars='np = { shape = "scalar", role = "param" }\n', loss="np * sum((W @ x - y)**2)"
    ),
    "dim_injection": spec(dims='n = 2\nm = 3\n"k\\n)" = 2\n'),
    "dim_string": spec(dims='n = "__import__(\'os\')"\nm = 3\n'),
    # --- Python in the equation text -----------------------------------------------------------
    "eq_import": spec(loss=TOUCH),
    "eq_attribute": spec(loss="x.__class__.__bases__"),
    "eq_lambda": spec(loss="(lambda: 0)()"),
    "eq_fstring": spec(loss="f'{" + TOUCH + "}'"),
    "eq_comprehension": spec(loss="sum([a for a in (W, x)])"),
    "eq_walrus": spec(loss="(a := sum(x))"),
    "eq_subscript": spec(loss="sum(x)[0]"),
    "eq_string": spec(loss="'sum(x)'"),
    "eq_call_attr": spec(loss="sum.__call__(x)"),
}


DRIVER = r"""
import contextlib, io, json, sys, traceback
from derive.cli import main
runs = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:
            code = -1
            err.write(traceback.format_exc())
    runs.append({"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(runs))
"""


def _commands(path: Path, out: Path) -> list[list[str]]:
    s = str(path)
    return [
        ["derive", s, "--format", "markdown", "-o", str(out / "d.md"), "--graph", str(out / "g.svg")],  # noqa: E501
        ["derive", s, "--format", "latex", "-o", str(out / "d.tex")],
        ["derive", s, "--format", "json", "-o", str(out / "d.json")],
        ["codegen", s, "-o", str(out / "gen.py")],
        ["verify", "--no-torch", s],
        ["check", s, "--wrt", "W", "--answer", "2(Wx-y)x^T"],
    ]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_spec_every_command(tmp_path: Path, case: str) -> None:
    path = tmp_path / "hostile.toml"
    path.write_text(HOSTILE[case], encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(_commands(path, out))],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the sentinel would land here
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for run in json.loads(proc.stdout):
        where = f"{case}: {run['argv'][0]}"
        assert run["code"] in (0, 1, 2), f"{where}: exit {run['code']}: {run['stderr'][-1500:]}"
        assert "Traceback" not in run["stderr"] + run["stdout"], where
        if run["code"] == 2:  # bad input: one line (exit 1, a failed check, prints its result)
            lines = run["stderr"].splitlines()
            assert len(lines) == 1, f"{where}: {run['stderr'][-1500:]!r}"
    assert not (tmp_path / SENTINEL).exists() and not (out / SENTINEL).exists()
    for tex in out.glob("*.tex"):
        text = tex.read_text(encoding="utf-8")
        for bad in ("^^", "\\input", "\\write18", "\\csname", "\\catcode"):
            assert bad not in text, f"{case}: {bad} in {tex.name}"
    for md in out.glob("*.md"):  # what a renderer makes of it: only the tags we write
        for tag, attrs in elements(md.read_text(encoding="utf-8")):
            assert tag in MARKDOWN_TAGS, f"{case}: <{tag}> in {md.name}"
            assert not any(a.startswith("on") for a in attrs), f"{case}: {attrs} in {md.name}"
            if tag == "img":  # the network's graph, a file beside it
                assert re.fullmatch(r"[\w.-]+\.svg", attrs.get("src") or ""), f"{case}: {attrs}"
    for svg in out.glob("*.svg"):
        text = svg.read_text(encoding="utf-8")
        assert "<script" not in text and "<!DOCTYPE" not in text and "\x00" not in text
    module = out / "gen.py"
    if module.exists():
        _import_and_run(module, tmp_path)


def _import_and_run(module: Path, cwd: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"hostile_{abs(hash(module))}", module)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(2, 1)), "y": rng.normal(size=(3, 1))}
    arrays["W"] = rng.normal(size=(3, 2))
    for name in mod._NAMES:
        arrays.setdefault(name, rng.normal(size=(1, 1)))
    grads = mod.gradients(**arrays)
    assert grads["W"].shape == (3, 2)
    assert not (cwd / SENTINEL).exists() and not Path(SENTINEL).exists()


def test_there_are_at_least_35_hostile_specs() -> None:
    assert len(HOSTILE) >= 35


@pytest.mark.parametrize(
    "latex",
    [r"W^{(1)}", r"\hat{y}", r"\mathcal{J}(W)", r"\sigma^{2}", "w_{1}", "x^\\prime", "W''",
     r"\mathbf{\hat{x}}_{i}^{T}", r"\operatorname{softmax}", "x_1^2", r"\delta^{(l)}"],
)  # fmt: skip
def test_math_names_are_accepted(latex: str) -> None:
    assert check_latex_name(latex) is None


@pytest.mark.parametrize(
    ("latex", "why"),
    [("W^^5cinput", "^^ is TeX's character-code escape"), (r"\input{a}", r"\input is not one"),
     (r"\write18{ls}", r"\write is not one"), (r"\csname x", r"\csname is not one"),
     ("a%", "'%' is not allowed"), ("{a", "never closed"), ("a}", "closes nothing"),
     ("x^2^3", "second superscript"), ("a^", "followed by nothing"), ("α", r"write \alpha"),
     ("a\x00", "control character"), (r"\\", "not one of the math-name commands")],
)  # fmt: skip
def test_anything_else_is_refused_with_the_reason(latex: str, why: str) -> None:
    message = check_latex_name(latex)
    assert message is not None and why in message and "expected a math name" in message
