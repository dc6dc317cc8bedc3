"""How long a warm `gradproof check` takes on the seed examples (requirement: median under 50 ms).

    .venv/bin/python benchmarks/check_speed.py [--quick] [--out FILE]

Times `derive.answers.check.check` (the forked, deadline-bounded check the CLI uses) and
`grade` (the same work in-process) on correct, incorrect and invalid answers, after one warm-up
call each. Prints JSON; the baseline in the same run is reading the answer alone (the parser).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import derive
from derive.answers.check import check, grade
from derive.answers.reader import Reader
from derive.errors import AnswerError

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("seed_example2", "W2", r"2(\hat{y}-y)z^T", "correct, identical"),
    ("seed_example2", "W1", r"2 W^{(2)T}(W^{(2)}z + b^{(2)} - y)x^T", "correct, expanded"),
    ("seed_example2", "W2", r"2 (\hat{y}-y) b^{(1)T}", "incorrect, diagnosed"),
    ("seed_example2", "z", r"2 (\hat{y}-y)^T W^{(2)}", "incorrect, transposed"),
    ("seed_example2", "W2", r"2(\hat{y}-y)z", "invalid, shapes"),
    ("seed_example1", "w1", r"2(\hat{y}-y) w_2 x", "correct, scalar"),
    ("seed_example1", "w1", r"(\hat{y}-y) w_2 x", "incorrect, factor"),
]


def timed(fn: object, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.suppress(AnswerError):  # an invalid answer: reading it is the work
            fn()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    repeats = 5 if args.quick else 30
    rows = []
    for spec, wrt, answer, label in CASES:
        net = derive.load(ROOT / "examples" / f"{spec}.toml")
        reader = Reader(net.derivation)
        check(net, wrt, answer)  # warm-up: derivation cached, code paths loaded
        sandboxed = timed(lambda: check(net, wrt, answer), repeats)  # noqa: B023
        inproc = timed(lambda: grade(net.derivation, wrt, answer), repeats)  # noqa: B023
        parse = timed(lambda: reader.read(answer), repeats)  # noqa: B023
        verdict = check(net, wrt, answer).verdict
        rows.append(
            {
                "spec": spec,
                "wrt": wrt,
                "case": label,
                "verdict": verdict,
                "check_ms_median": 1e3 * statistics.median(sandboxed),
                "grade_in_process_ms_median": 1e3 * statistics.median(inproc),
                "parse_ms_median": 1e3 * statistics.median(parse),
                "check_over_parse": statistics.median(sandboxed) / statistics.median(parse),
            }
        )
    overall = statistics.median(r["check_ms_median"] for r in rows)
    data = {"repeats": repeats, "median_check_ms": overall, "rows": rows}
    text = json.dumps(data, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    for r in rows:
        print(
            f"{r['case']:<24} {r['verdict']:<10} check {r['check_ms_median']:6.1f} ms  "
            f"in-process {r['grade_in_process_ms_median']:6.1f} ms  "
            f"parse {r['parse_ms_median']:5.2f} ms",
            file=sys.stderr,
        )
    print(f"median warm check: {overall:.1f} ms (limit 50 ms)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
