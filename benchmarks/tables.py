"""Markdown tables of the benchmark results in benchmarks/results/, for the README.

    .venv/bin/python benchmarks/tables.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def speed_table(name: str) -> str:
    data = json.loads((RESULTS / name).read_text())
    cands = ["generated", "numeric", "floor", "torch"]
    lines = [
        "| depth, batch, width | hand-written (ms) | generated | numeric/ | matmuls alone "
        "(floor) | generated / floor | PyTorch |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in data["configs"]:
        got = c["candidates"]
        hand = got["handwritten"]["median_s"] * 1e3
        ratio = {k: got[k]["ratio"] for k in cands if k in got}
        over_floor = ratio["generated"] / ratio["floor"]
        torch = f"{ratio['torch']:.2f}" if "torch" in ratio else "n/a"
        lines.append(
            f"| {c['depth']}, {c['B']}, {c['width']} | {hand:.3g} | {ratio['generated']:.2f} | "
            f"{ratio['numeric']:.2f} | {ratio['floor']:.2f} | {over_floor:.2f} | {torch} |"
        )
    d = data["directional_check"]
    lines.append("")
    lines.append(
        f"Directional check of the width-2048, depth-8 network (batch 64): median "
        f"{d['median_s']:.2f} s, {d.get('verdict', '')}."
    )
    return "\n".join(lines)


def depth_table() -> str:
    data = json.loads((RESULTS / "derive_depth.json").read_text())
    lines = [
        "| layers | derive (ms), width 16 / 2048 | derive + LaTeX (ms), width 16 / 2048 "
        "| LaTeX chars |",
        "|---|---|---|---|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['L']} | {r['derive_ms_w16']:.1f} / {r['derive_ms_w2048']:.1f} | "
            f"{r['derive_latex_ms_w16']:.1f} / {r['derive_latex_ms_w2048']:.1f} | "
            f"{r['latex_chars_w16']:,} |"
        )
    cli = data["cli"]
    lines.append("")
    lines.append(
        f"Whole `{cli['command']}` for the {cli['L']}-layer MLP (a fresh Python process): "
        f"median {cli['median_s_w16']:.2f} s at width 16, {cli['median_s_w2048']:.2f} s at "
        f"width 2048, of which {cli['python_import_derive_cli_median_s']:.2f} s is importing "
        "Python, SymPy and gradproof."
    )
    return "\n".join(lines)


def main() -> None:
    for name in ("gradient_speed.json", "gradient_speed_1core.json"):
        if (RESULTS / name).exists():
            print(f"## {name}\n\n{speed_table(name)}\n")
    print(f"## derive_depth.json\n\n{depth_table()}\n")


if __name__ == "__main__":
    main()
