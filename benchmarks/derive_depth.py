"""How long deriving the gradients of an L-layer sigmoid MLP takes, by depth and width.

The derivation is symbolic (dims are symbols), so the layer width only changes the numbers in
[dims] and must not change the time: the width-2048/width-16 ratio per depth should be ~1.

Measured per (L, width), interleaved round-robin so machine noise hits every case alike:
  derive   `derive.spec.load_spec` + `derive.chain_rule.derive_gradients`
  latex    the same plus rendering the LaTeX document (`report.to_latex_document`, which is
           what `Network.latex()` does for the default names)
  cli      `gradproof derive SPEC --format latex` as a subprocess (wall time), L = 10 only;
           the requirement is under 1 s.
SymPy's cache is cleared before every in-process sample, so each sample is as cold as a fresh
`gradproof` process would be (imports aside).

    .venv/bin/python benchmarks/derive_depth.py [--quick] [--out FILE]

prints JSON to stdout and a short summary to stderr; writes nothing else unless --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sympy

import derive
from derive import report
from derive.chain_rule import derive_gradients
from derive.spec import load_spec

DEPTHS = (2, 4, 8, 10, 16, 32)
WIDTHS = (16, 2048)
CLI_DEPTH = 10
CLI_LIMIT_S = 1.0


def mlp_toml(depth: int, width: int) -> str:
    """An L-layer MLP spec written like examples/mlp10.toml: x -> sigmoid layers -> linear, SE."""
    lines = [
        f'title = "{depth}-layer sigmoid MLP, width {width}"',
        "[dims]",
        f"n = {width}",
        f"h = {width}",
        f"m = {width}",
        "[vars]",
        'x = { shape = ["n", 1], role = "input" }',
        'y = { shape = ["m", 1], role = "target" }',
    ]
    for layer in range(1, depth + 1):
        rows = "m" if layer == depth else "h"
        cols = "n" if layer == 1 else "h"
        lines.append(
            f'W{layer} = {{ shape = ["{rows}", "{cols}"], role = "param", '
            f'latex = "W^{{({layer})}}" }}'
        )
        lines.append(
            f'b{layer} = {{ shape = ["{rows}", 1], role = "param", latex = "b^{{({layer})}}" }}'
        )
    lines.append("[forward]")
    prev = "x"
    for layer in range(1, depth):
        lines.append(
            f'a{layer} = {{ expr = "W{layer} @ {prev} + b{layer}", latex = "a^{{({layer})}}" }}'
        )
        lines.append(f'h{layer} = {{ expr = "sigmoid(a{layer})", latex = "h^{{({layer})}}" }}')
        prev = f"h{layer}"
    lines.append(f'yhat = {{ expr = "W{depth} @ {prev} + b{depth}", latex = "\\\\hat{{y}}" }}')
    lines.append('J = { expr = "sum((yhat - y)**2)", latex = "\\\\mathcal{J}" }')
    return "\n".join(lines) + "\n"


def time_in_process(path: Path) -> tuple[float, float, int]:
    """(derive seconds, derive+latex seconds, LaTeX characters) for one cold-cache sample."""
    sympy.core.cache.clear_cache()
    t0 = time.perf_counter()
    spec = load_spec(path)
    deriv = derive_gradients(spec)
    t1 = time.perf_counter()
    # Network.latex() without wrt renders derivation.default_names(); same call, no re-derive.
    text = report.to_latex_document(deriv, deriv.default_names())
    t2 = time.perf_counter()
    return t1 - t0, t2 - t0, len(text)


def gradproof_command() -> list[str]:
    exe = Path(sys.executable).with_name("gradproof")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("gradproof")
    return [found] if found else [sys.executable, "-m", "derive.cli"]


def time_cli(cmd: list[str], path: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [*cmd, "derive", str(path), "--format", "latex"],
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(
            f"gradproof derive {path} exited {done.returncode}: {done.stderr.decode()[-500:]}"
        )
    return elapsed, len(done.stdout)


def ms(seconds: list[float]) -> float:
    return round(1000 * statistics.median(seconds), 3)


def run(quick: bool) -> dict[str, Any]:
    depths = (2, CLI_DEPTH) if quick else DEPTHS
    repeats = 3 if quick else 7
    cli_repeats = 3 if quick else 5
    cases = [(d, w) for d in depths for w in WIDTHS]
    cmd = gradproof_command()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gradproof-bench-") as tmp:
        paths: dict[tuple[int, int], Path] = {}
        for d, w in cases:
            paths[d, w] = Path(tmp) / f"mlp{d}_w{w}.toml"
            paths[d, w].write_text(mlp_toml(d, w), encoding="utf-8")
        # sanity: the spec we write is the one examples/mlp10.toml describes
        net = derive.load(paths[CLI_DEPTH, WIDTHS[0]])
        n_params = len(net.spec.params)
        # warm-up: imports, lazily built tables (activation rules are cached per function)
        for d, w in cases:
            time_in_process(paths[d, w])
        t_derive: dict[tuple[int, int], list[float]] = {c: [] for c in cases}
        t_latex: dict[tuple[int, int], list[float]] = {c: [] for c in cases}
        chars: dict[tuple[int, int], int] = {}
        for r in range(repeats):
            order = cases[r % len(cases) :] + cases[: r % len(cases)]  # rotate the start
            for c in order:
                a, b, n = time_in_process(paths[c])
                t_derive[c].append(a)
                t_latex[c].append(b)
                chars[c] = n
        cli_cases = [(CLI_DEPTH, w) for w in WIDTHS]
        t_cli: dict[tuple[int, int], list[float]] = {c: [] for c in cli_cases}
        cli_chars: dict[tuple[int, int], int] = {}
        time_cli(cmd, paths[cli_cases[0]])  # warm the OS file cache; not counted
        for r in range(cli_repeats):
            for c in cli_cases if r % 2 == 0 else cli_cases[::-1]:
                s, n = time_cli(cmd, paths[c])
                t_cli[c].append(s)
                cli_chars[c] = n
        # what the CLI pays before deriving anything: the interpreter plus `import derive.cli`
        t_import = []
        for _ in range(cli_repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import derive.cli"], check=True)
            t_import.append(time.perf_counter() - t0)

    rows = []
    for d in depths:
        row: dict[str, Any] = {"L": d}
        for w in WIDTHS:
            row[f"derive_ms_w{w}"] = ms(t_derive[d, w])
            row[f"derive_latex_ms_w{w}"] = ms(t_latex[d, w])
            row[f"latex_chars_w{w}"] = chars[d, w]
        lo, hi = WIDTHS[0], WIDTHS[-1]
        row[f"ratio_derive_w{hi}_over_w{lo}"] = round(
            statistics.median(t_derive[d, hi]) / statistics.median(t_derive[d, lo]), 3
        )
        row[f"ratio_derive_latex_w{hi}_over_w{lo}"] = round(
            statistics.median(t_latex[d, hi]) / statistics.median(t_latex[d, lo]), 3
        )
        rows.append(row)
    cli = {
        "command": " ".join([*[Path(c).name for c in cmd], "derive", "SPEC", "--format", "latex"]),
        "L": CLI_DEPTH,
        "params": n_params,
        "repeats": cli_repeats,
        "limit_s": CLI_LIMIT_S,
        "python_import_derive_cli_median_s": round(statistics.median(t_import), 4),
    }
    for w in WIDTHS:
        med = statistics.median(t_cli[CLI_DEPTH, w])
        cli[f"median_s_w{w}"] = round(med, 4)
        cli[f"all_s_w{w}"] = [round(s, 4) for s in t_cli[CLI_DEPTH, w]]
        cli[f"stdout_chars_w{w}"] = cli_chars[CLI_DEPTH, w]
        cli[f"under_limit_w{w}"] = med < CLI_LIMIT_S
    return {
        "benchmark": "derive_depth",
        "quick": quick,
        "repeats": repeats,
        "statistic": "median over repeats, cases interleaved round-robin; sympy cache cleared",
        "machine": {
            "python": platform.python_version(),
            "sympy": sympy.__version__,
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "widths": list(WIDTHS),
        "rows": rows,
        "cli": cli,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def summary(result: dict[str, Any]) -> str:
    lo, hi = WIDTHS[0], WIDTHS[-1]
    out = [
        f"derive_depth: median ms over {result['repeats']} repeats "
        f"(widths {lo} / {hi}; ratio = w{hi}/w{lo})",
        f"{'L':>3} {'derive':>17} {'ratio':>6} {'derive+latex':>19} {'ratio':>6}"
        f" {'latex chars':>12}",
    ]
    for r in result["rows"]:
        out.append(
            f"{r['L']:>3} {r[f'derive_ms_w{lo}']:>8.1f} {r[f'derive_ms_w{hi}']:>8.1f} "
            f"{r[f'ratio_derive_w{hi}_over_w{lo}']:>6.2f} "
            f"{r[f'derive_latex_ms_w{lo}']:>9.1f} {r[f'derive_latex_ms_w{hi}']:>9.1f} "
            f"{r[f'ratio_derive_latex_w{hi}_over_w{lo}']:>6.2f} {r[f'latex_chars_w{lo}']:>12}"
        )
    c = result["cli"]
    verdict = "OK" if c[f"under_limit_w{lo}"] and c[f"under_limit_w{hi}"] else "OVER LIMIT"
    out.append(
        f"CLI `{c['command']}` L={c['L']}: median {c[f'median_s_w{lo}']:.3f} s (w{lo}), "
        f"{c[f'median_s_w{hi}']:.3f} s (w{hi}); limit {c['limit_s']} s: {verdict}; "
        f"of which `import derive.cli` {c['python_import_derive_cli_median_s']:.3f} s"
    )
    out.append(f"total {result['total_seconds']} s")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="L in (2, 10), fewer repeats")
    parser.add_argument("--out", metavar="FILE", help="also write the JSON to FILE")
    args = parser.parse_args()
    result = run(args.quick)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(summary(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
