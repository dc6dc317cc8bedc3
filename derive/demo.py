"""`make demo`: derive the course notes' two examples, write them to reports/seed/, print them."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from derive.answers.check import check
from derive.api import Network
from derive.files import write_text_atomic

ROOT = Path(__file__).resolve().parent.parent
SEED = (("seed_example1", "example1"), ("seed_example2", "example2"))
# answers to the notes' Example 2 the demo grades: right, transposed, a transpose left out
SAMPLE_ANSWERS = (
    ("W2", r"2(\hat{y}-y)z^T"),
    ("W2", r"2 z (\hat{y}-y)^T"),
    ("W1", r"2 W^{(2)}(\hat{y}-y)x^T"),
)


def write_example_reports() -> list[Path]:
    """reports/examples/<spec>.{md,tex,svg} for every spec in examples/: the answer keys."""
    out_dir = ROOT / "reports" / "examples"
    written = []
    for spec in sorted((ROOT / "examples").glob("*.toml")):
        net = Network.from_file(spec)
        net.graph().save(out_dir / f"{spec.stem}.svg")
        write_text_atomic(out_dir / f"{spec.stem}.md", net.markdown(picture=f"{spec.stem}.svg"))
        write_text_atomic(out_dir / f"{spec.stem}.tex", net.latex())
        written.append(out_dir / f"{spec.stem}.md")
    return written


def main() -> int:
    if sys.argv[1:] == ["--all"]:
        for path in write_example_reports():
            print(f"written: {path.relative_to(ROOT)} (+ .tex, .svg)")
        return 0
    out_dir = ROOT / "reports" / "seed"
    ok = True
    for spec_name, stem in SEED:
        net = Network.from_file(ROOT / "examples" / f"{spec_name}.toml")
        write_text_atomic(out_dir / f"{stem}.tex", net.latex())
        net.graph().save(out_dir / f"{stem}.svg")
        markdown = net.markdown(picture=f"{stem}.svg")
        write_text_atomic(out_dir / f"{stem}.md", markdown)
        print(markdown)
        results = net.check_elementwise()
        for r in results:
            print(f"element-wise sympy.diff check, {r}")
        ok = ok and all(r.passed for r in results)
        print(f"\nwritten: reports/seed/{stem}.tex, .md and .svg (the network's graph)\n")
    from derive import notes_reports

    for path in notes_reports.write(out_dir, ROOT / "examples"):
        print(f"written: {path.relative_to(ROOT)}")
    print(
        "  (the notes' second half: vanishing gradients, the activation table, initialization;\n"
        "   figures activations.png, init_tanh.png, init_relu.png beside it)\n"
    )
    print_sample_checks()
    return 0 if ok else 1


def check_command(spec: Path, wrt: str, answer: str) -> str:
    """The `gradproof check` command line that grades `answer`, to paste into a shell here: the
    gradproof script beside this interpreter and the spec's path, relative to the current folder
    where they are inside it."""
    script = Path(sys.executable).parent / "gradproof"
    program = _shown_path(script) if script.exists() else "gradproof"
    args = [program, "check", _shown_path(spec), "--wrt", wrt, "--answer", answer]
    return " ".join(shlex.quote(a) for a in args)


def _shown_path(path: Path) -> str:
    absolute = Path(os.path.abspath(path))  # not resolved: a venv's bin/ stays itself
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def print_sample_checks() -> None:
    """Three sample answers graded, each under the command that grades it."""
    spec = ROOT / "examples" / "seed_example2.toml"
    net = Network.from_file(spec)
    for wrt, answer in SAMPLE_ANSWERS:
        print(check_command(spec, wrt, answer))
        verdict = str(check(net, wrt, answer)).split("\ncounterexample")[0]
        print("  " + verdict.replace("\n", "\n  "))


if __name__ == "__main__":
    sys.exit(main())
