"""How well general LaTeX-to-SymPy tools grade matrix-calculus answers, next to `gradproof check`.

Every answer of the labelled corpus (tests/answers/corpus.toml, an array `[[answer]]` with keys
spec (a path, or a name in examples/), wrt, latex, verdict = correct | incorrect | invalid,
mistake, note) is graded by

  latex2sympy2           1.9.1   `latex2sympy(s)`; equal iff `sympy.simplify(a - b) == 0`
  latex2sympy2_extended  1.11.0  the same, with `ConversionConfig(lowercase_symbols=False)`
  math-verify            0.9.0   `verify(parse(gold), parse(answer))`, both wrapped in `$...$`
                                 (without delimiters `parse` extracts only the leading number)
  gradproof                      `gradproof check SPEC --wrt W --answer=LATEX --json`

each used as a grader would use it. The expected answer is the "latex" of that wrt in
`gradproof derive SPEC --all --format json`. For the three foreign tools the student's text has
surrounding `$` removed and a left-hand side dropped (the text after the last top-level `=`);
gradproof gets the answer exactly as written. Verdicts: "correct" if the tool says the two are
equal, "invalid" if the student's text does not parse, "incorrect" otherwise; besides those,
"timeout" (killed at the per-answer limit) and "error" (the tool could not grade at all, e.g. the
expected LaTeX did not parse, or the worker died).

Isolation. Each foreign tool lives in its own throw-away venv under --cache-dir (default
/tmp/gradproof-grader-venvs/<tool>; latex2sympy2 pins antlr4-python3-runtime==4.7.2, which
conflicts with the others), installed from PyPI by `--setup`. Each is driven by a small worker
run with that venv's python (`-I`, in an empty temp dir) over JSON lines on stdin/stdout, one
worker per tool for the whole corpus. The worker imports the tool once and forks a child per
answer, so nothing a parse leaves in module globals (latex2sympy2 keeps some) reaches the next
answer, and a child stuck in C code is SIGKILLed at its deadline. The whole worker's process group
is killed on --total-timeout. Student text is never evaluated in this process: it only moves
strings around (no SymPy import here).

Times per answer ("median", "p90"): for the foreign tools the grading inside the child (parse
expected + parse answer + compare; imports and ANTLR's first-parse set-up done once before,
SymPy's cache as it was after that warm-up); for gradproof the "seconds" its JSON reports.
"wall med" is the median wall time per answer seen from outside: fork and pipes for the foreign
tools, a whole `gradproof check` process (interpreter start and imports included) for gradproof.

Usage (from the repository root, with the project's Python 3.11):

    .venv/bin/python benchmarks/grader_comparison.py --setup      # once: create the three venvs
    .venv/bin/python benchmarks/grader_comparison.py [--quick] [--out FILE]
        [--corpus FILE] [--tools latex2sympy2,latex2sympy2_extended,math-verify,gradproof]
        [--timeout S] [--total-timeout S] [--cache-dir DIR]

--quick grades the first 30 answers only. Prints JSON to stdout (also to --out FILE) and a table
to stderr: per tool the answers graded, correct answers accepted, incorrect ones rejected,
invalid ones flagged, wrong answers (labelled incorrect or invalid) accepted as correct — the
headline —, timeouts/errors, median and p90 time per answer, then the wrong answers accepted by
mistake kind. Exit 0 after a run (a tool that is not installed or not available is reported as
such, with the command that fixes it), 2 on bad input (no corpus, bad corpus), 3 if --setup failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO / "tests" / "answers" / "corpus.toml"
DEFAULT_CACHE = Path("/tmp/gradproof-grader-venvs")
QUICK_N = 30
LABELS = ("correct", "incorrect", "invalid")
VERDICTS = (*LABELS, "timeout", "error")


@dataclass(frozen=True)
class ForeignTool:
    name: str
    requirements: tuple[str, ...]
    dists: tuple[str, ...]  # distributions whose versions are reported


FOREIGN_TOOLS = (
    ForeignTool(
        "latex2sympy2",
        ("latex2sympy2==1.9.1", "sympy==1.14.0"),
        ("latex2sympy2", "antlr4-python3-runtime", "sympy"),
    ),
    ForeignTool(
        "latex2sympy2_extended",
        ("latex2sympy2_extended==1.11.0", "antlr4-python3-runtime==4.13.2", "sympy==1.14.0"),
        ("latex2sympy2_extended", "antlr4-python3-runtime", "sympy"),
    ),
    ForeignTool(
        "math-verify",
        ("math-verify==0.9.0", "antlr4-python3-runtime==4.13.2", "sympy==1.14.0"),
        ("math-verify", "latex2sympy2_extended", "antlr4-python3-runtime", "sympy"),
    ),
)
ALL_TOOLS = (*(t.name for t in FOREIGN_TOOLS), "gradproof")

# ---------------------------------------------------------------------------------------------
# The worker: runs under the tool's venv python, never in this process.
# Protocol: first line in {"tool", "timeout"}; out {"ready", "versions", "import_s", ...} or
# {"ready": false, "error"}. Then per line in {"id", "expected", "answer"}; out
# {"id", "verdict", "time_s", "wall_s", "detail", ...}.
# ---------------------------------------------------------------------------------------------
WORKER_SOURCE = r"""
import json, logging, os, select, signal, sys, time, traceback

DISTS = {DISTS}


def _short(obj, n=200):
    s = str(obj)
    return s if len(s) <= n else s[: n - 3] + "..."


def _number_only(e):
    # the expected gradient always has a letter in it: read as a bare number, the parser
    # stopped at the first thing it did not know (math-verify does this without an error)
    import sympy
    return isinstance(e, sympy.Basic) and bool(e.is_Number)


def _is_zero(d):
    import sympy
    if isinstance(d, sympy.MatrixBase):
        return bool(d.applyfunc(sympy.simplify).is_zero_matrix)
    return sympy.simplify(d) == 0


def make_latex2sympy_grader(parse_fn):
    def grade(expected, answer):
        t0 = time.perf_counter()
        try:
            g = parse_fn(expected)
        except Exception as exc:
            return {"verdict": "error", "reason": "expected did not parse",
                    "detail": type(exc).__name__ + ": " + _short(exc)}
        try:
            a = parse_fn(answer)
        except Exception as exc:
            return {"verdict": "invalid", "detail": type(exc).__name__ + ": " + _short(exc)}
        out = {"parse_s": time.perf_counter() - t0}
        out.update(parsed_expected=_short(g), parsed_answer=_short(a))
        if _number_only(g):
            out["expected_read_as_number"] = True
        try:
            out["verdict"] = "correct" if _is_zero(g - a) else "incorrect"
        except Exception as exc:
            out["verdict"] = "incorrect"
            out["detail"] = "compare failed: " + type(exc).__name__ + ": " + _short(exc)
        return out
    return grade


def load(tool):
    if tool == "latex2sympy2":
        from latex2sympy2 import latex2sympy
        return make_latex2sympy_grader(latex2sympy)
    if tool == "latex2sympy2_extended":
        from latex2sympy2_extended.latex2sympy2 import ConversionConfig, latex2sympy
        cfg = ConversionConfig(lowercase_symbols=False)
        return make_latex2sympy_grader(lambda s: latex2sympy(s, conversion_config=cfg))
    if tool == "math-verify":
        import sympy
        from math_verify import parse, verify

        notes = []

        class _Catch(logging.Handler):
            def emit(self, record):
                notes.append(record.getMessage())

        log = logging.getLogger("math_verify")
        log.addHandler(_Catch(level=logging.WARNING))
        log.propagate = False

        def parsed(xs):
            return [x for x in xs if isinstance(x, (sympy.Basic, sympy.MatrixBase))]

        def grade(expected, answer):
            notes.clear()
            t0 = time.perf_counter()
            g = parse("$" + expected + "$")
            if not parsed(g):
                return {"verdict": "error", "reason": "expected did not parse",
                        "detail": _short(g)}
            a = parse("$" + answer + "$")
            out = {"parse_s": time.perf_counter() - t0}
            out.update(parsed_expected=_short(g), parsed_answer=_short(a))
            if all(_number_only(x) for x in parsed(g)):
                out["expected_read_as_number"] = True
            if not parsed(a):
                out["verdict"] = "invalid"
                return out
            ok = verify(g, a)
            out["verdict"] = "correct" if ok else "incorrect"
            if any("imeout" in m or "timed out" in m for m in notes):
                out["tool_timeout"] = True
                out["detail"] = "; ".join(notes)[:300]
            return out
        return grade
    raise SystemExit("unknown tool " + tool)


def versions():
    from importlib import metadata
    out = {"python": sys.version.split()[0]}
    for d in DISTS:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            out[d] = None
    return out


def run_child(grade, req, w):
    t0 = time.perf_counter()
    try:
        res = grade(req["expected"], req["answer"])
    except BaseException as exc:  # math-verify's TimeoutException is a BaseException
        name = type(exc).__name__
        res = {"verdict": "timeout" if "Timeout" in name else "error",
               "reason": "tool raised " + name, "detail": _short(exc)}
    res["time_s"] = time.perf_counter() - t0
    data = (json.dumps(res) + "\n").encode()
    while data:
        data = data[os.write(w, data):]


def grade_one(grade, req, limit):
    r, w = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            run_child(grade, req, w)
        finally:
            os._exit(0)
    os.close(w)
    chunks, deadline, killed = [], time.monotonic() + limit, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    wall = time.perf_counter() - t0
    if killed:
        return {"verdict": "timeout", "reason": "killed at the per-answer limit",
                "time_s": wall, "wall_s": wall}
    try:
        res = json.loads(b"".join(chunks).decode())
    except ValueError:
        return {"verdict": "error", "reason": "child died",
                "detail": "wait status %d" % status, "time_s": wall, "wall_s": wall}
    res["wall_s"] = wall
    return res


def main():
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # anything the libraries print must not break the protocol
    hello = json.loads(sys.stdin.readline())
    t0 = time.perf_counter()
    try:
        grade = load(hello["tool"])
    except BaseException as exc:
        proto.write(json.dumps({"ready": False, "error": traceback.format_exc()[-2000:]}) + "\n")
        return
    import_s = time.perf_counter() - t0
    # warm up once here (ANTLR builds its automaton on the first parse), so that each forked
    # child starts warm, as a long-running grader would; then every answer forks from this state
    t0 = time.perf_counter()
    try:
        warm = grade("x + 1", "1 + x").get("verdict")
    except BaseException as exc:
        warm = "raised " + type(exc).__name__
    proto.write(json.dumps({"ready": True, "versions": versions(), "import_s": import_s,
                            "warmup_s": time.perf_counter() - t0, "warmup": warm}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        res = grade_one(grade, req, float(hello["timeout"]))
        res["id"] = req["id"]
        proto.write(json.dumps(res) + "\n")


main()
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Setup of the venvs
# ---------------------------------------------------------------------------------------------
def venv_python(cache: Path, tool: ForeignTool) -> Path:
    return cache / tool.name / "bin" / "python"


def setup(cache: Path, tools: list[ForeignTool], python: str) -> int:
    failed = 0
    for tool in tools:
        where = cache / tool.name
        log(f"[setup] {tool.name}: venv at {where}")
        t0 = time.perf_counter()
        steps = [
            [python, "-m", "venv", "--clear", str(where)],
            [
                str(where / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *tool.requirements,
            ],
        ]
        for cmd in steps:
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                log(f"[setup] {tool.name}: `{' '.join(cmd)}` failed:\n{done.stderr[-3000:]}")
                failed += 1
                break
        else:
            ok, info = probe_worker(cache, tool)
            if ok:
                log(f"[setup] {tool.name}: ready in {time.perf_counter() - t0:.0f} s, {info}")
            else:
                log(f"[setup] {tool.name}: installed but the worker cannot start: {info}")
                failed += 1
    return 3 if failed else 0


def probe_worker(cache: Path, tool: ForeignTool) -> tuple[bool, Any]:
    with Worker(cache, tool, timeout=30.0) as worker:
        hello = worker.start(deadline=time.monotonic() + 120)
    if hello.get("ready"):
        return True, hello["versions"]
    return False, hello.get("error")


# ---------------------------------------------------------------------------------------------
# Driving a worker
# ---------------------------------------------------------------------------------------------
class Worker:
    """One worker process for one tool, with a hard kill of its whole process group."""

    def __init__(self, cache: Path, tool: ForeignTool, timeout: float) -> None:
        self.cache, self.tool, self.timeout = cache, tool, timeout
        self.tmp = tempfile.TemporaryDirectory(prefix=f"grader-{tool.name}-")
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self.tmp.cleanup()

    def start(self, deadline: float) -> dict[str, Any]:
        script = Path(self.tmp.name) / "worker.py"
        script.write_text(WORKER_SOURCE.replace("{DISTS}", repr(list(self.tool.dists))))
        self.stderr_path = Path(self.tmp.name) / "worker.stderr"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.lines = queue.Queue()  # a fresh one: a dead worker's reader leaves a None behind
        with self.stderr_path.open("a") as err:
            self.proc = subprocess.Popen(
                [str(venv_python(self.cache, self.tool)), "-I", str(script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=self.tmp.name,
                env=env,
                text=True,
                start_new_session=True,
            )
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        self._send({"tool": self.tool.name, "timeout": self.timeout})
        reply = self._receive(deadline)
        if reply is None:
            return {"ready": False, "error": "worker did not start: " + self.stderr_tail()}
        return reply

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                lines.put(line)
        except (OSError, ValueError):  # closed under us by kill()
            pass
        lines.put(None)

    def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        return None if line is None else json.loads(line)

    def grade(self, ident: int, expected: str, answer: str, deadline: float) -> dict[str, Any]:
        try:
            self._send({"id": ident, "expected": expected, "answer": answer})
        except (BrokenPipeError, OSError):
            return {"verdict": "error", "reason": "worker died", "detail": self.stderr_tail()}
        # the worker kills its child at `timeout`; the grace covers fork and pipes
        reply = self._receive(min(deadline, time.monotonic() + self.timeout + 10))
        if reply is None:
            alive = self.proc is not None and self.proc.poll() is None
            self.kill()
            reason = "overall timeout" if alive else "worker died"
            return {
                "verdict": "timeout" if alive else "error",
                "reason": reason,
                "detail": self.stderr_tail(),
            }
        return reply

    def stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-1000:]
        except (OSError, AttributeError):
            return ""

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


# ---------------------------------------------------------------------------------------------
# Corpus, expected answers, gradproof
# ---------------------------------------------------------------------------------------------
def load_corpus(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    answers = data.get("answer")
    if not isinstance(answers, list) or not answers:
        raise ValueError(f"{path}: no [[answer]] tables")
    out = []
    for i, a in enumerate(answers):
        missing = [k for k in ("spec", "wrt", "latex", "verdict") if k not in a]
        if missing:
            raise ValueError(f"{path}: answer #{i + 1} lacks {', '.join(missing)}")
        if a["verdict"] not in LABELS:
            raise ValueError(f"{path}: answer #{i + 1}: verdict {a['verdict']!r} not in {LABELS}")
        out.append(
            {
                "index": i,
                "spec": str(a["spec"]),
                "wrt": str(a["wrt"]),
                "latex": str(a["latex"]),
                "label": a["verdict"],
                "mistake": str(
                    a.get("mistake") or ("none" if a["verdict"] == "correct" else a["verdict"])
                ),
                "note": str(a.get("note", "")),
            }
        )
    return out


def resolve_spec(spec: str, corpus: Path) -> Path:
    """A path (absolute, or from the repository or the corpus) or a bare name in examples/."""
    p = Path(spec)
    if p.is_absolute():
        return p
    for candidate in (REPO / p, corpus.parent / p, REPO / "examples" / f"{spec}.toml"):
        if candidate.exists():
            return candidate.resolve()
    return (REPO / p).resolve()


def gradproof_exe() -> list[str]:
    exe = REPO / ".venv" / "bin" / "gradproof"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("gradproof")
    return [found] if found else [sys.executable, "-m", "derive.cli"]


def expected_latex(spec: Path, wrts: set[str]) -> dict[str, str | None]:
    """wrt -> expected LaTeX (None with a message on stderr if derive cannot give it)."""
    gp = gradproof_exe()
    got: dict[str, str] = {}
    for cmd in (
        [*gp, "derive", str(spec), "--all", "--format", "json"],
        [*gp, "derive", str(spec), "--format", "json", *(f"--wrt={w}" for w in sorted(wrts))],
    ):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
        except subprocess.TimeoutExpired:
            continue
        if done.returncode == 0:
            for g in json.loads(done.stdout).get("gradients", []):
                got.setdefault(g["wrt"], g["latex"])
        if wrts <= got.keys():
            break
    missing = wrts - got.keys()
    if missing:
        log(f"[expected] {spec.name}: no derived gradient for {sorted(missing)}")
    return {w: got.get(w) for w in wrts}


def strip_answer(latex: str) -> str:
    """What a grader would compare: no $ delimiters, and the text after the last top-level =."""
    s = latex.strip()
    for left, right in (("$$", "$$"), ("$", "$"), (r"\[", r"\]"), (r"\(", r"\)")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left) : len(s) - len(right)].strip()
            break
    depth, cut = 0, -1
    for i, ch in enumerate(s):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "=" and depth == 0 and (i == 0 or s[i - 1] not in "<>!\\"):
            cut = i
    return s[cut + 1 :].strip() if cut >= 0 else s


def gradproof_available() -> tuple[bool, str]:
    try:
        done = subprocess.run(
            [*gradproof_exe(), "check", "--help"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if done.returncode != 0 or "--answer" not in done.stdout:
        return False, (done.stderr or done.stdout).strip()[-300:]
    return True, ""


def gradproof_check(spec: Path, wrt: str, answer: str, limit: float) -> dict[str, Any]:
    cmd = [*gradproof_exe(), "check", str(spec), "--wrt", wrt, f"--answer={answer}", "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        wall = time.perf_counter() - t0
        return {
            "verdict": "timeout",
            "reason": "killed at the per-answer limit",
            "time_s": wall,
            "wall_s": wall,
        }
    wall = time.perf_counter() - t0
    res: dict[str, Any] = {"wall_s": wall, "exit": proc.returncode}
    data: Any = None
    with contextlib.suppress(ValueError):
        data = json.loads(out)
    verdict = data.get("verdict") if isinstance(data, dict) else None
    if verdict not in LABELS:
        verdict = {0: "correct", 1: "incorrect", 2: "invalid"}.get(proc.returncode, "error")
        if verdict == "error":
            res["reason"] = f"exit {proc.returncode}"
            res["detail"] = (err or out)[-300:]
    res["verdict"] = verdict
    # the time of the check itself as gradproof reports it, comparable to the foreign tools'
    # in-child time; the wall time adds interpreter start and imports
    inner = data.get("seconds") if isinstance(data, dict) else None
    res["time_s"] = float(inner) if isinstance(inner, int | float) else wall
    if isinstance(data, dict):
        for key in ("mistake", "diagnosis", "method", "reason", "message"):
            if data.get(key) not in (None, "", []) and key not in res:
                res[key] = str(data[key])[:300]
    return res


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------
def percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))  # nearest rank
    return s[k]


def summarize(answers: list[dict[str, Any]], tool: str) -> dict[str, Any]:
    rows = [(a, a["results"][tool]) for a in answers if tool in a["results"]]
    by_label = Counter(a["label"] for a, _ in rows)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for a, r in rows:
        confusion[a["label"]][r["verdict"]] += 1
    wrong = [(a, r) for a, r in rows if a["label"] != "correct"]
    wrong_acc = [a for a, r in wrong if r["verdict"] == "correct"]
    kinds_total = Counter(a["mistake"] for a, _ in wrong)
    kinds_acc = Counter(a["mistake"] for a in wrong_acc)
    times = [r["time_s"] for _, r in rows if r["verdict"] in LABELS and "time_s" in r]
    walls = [r["wall_s"] for _, r in rows if r["verdict"] in LABELS and "wall_s" in r]
    reasons = Counter(
        r.get("reason", r["verdict"]) for _, r in rows if r["verdict"] in ("timeout", "error")
    )
    return {
        "answers": len(rows),
        "graded": sum(1 for _, r in rows if r["verdict"] in LABELS),
        "labels": dict(by_label),
        "correct_accepted": confusion["correct"]["correct"],
        "incorrect_rejected": confusion["incorrect"]["incorrect"]
        + confusion["incorrect"]["invalid"],
        "invalid_flagged": confusion["invalid"]["invalid"],
        "valid_flagged_invalid": confusion["correct"]["invalid"]
        + confusion["incorrect"]["invalid"],
        "wrong_answers": len(wrong),
        "wrong_accepted": len(wrong_acc),
        "wrong_graded": sum(1 for _, r in wrong if r["verdict"] in LABELS),
        "timeouts": sum(1 for _, r in rows if r["verdict"] == "timeout"),
        "errors": sum(1 for _, r in rows if r["verdict"] == "error"),
        "tool_internal_timeouts": sum(1 for _, r in rows if r.get("tool_timeout")),
        "expected_read_as_number": sum(1 for _, r in rows if r.get("expected_read_as_number")),
        "timeout_error_reasons": dict(reasons),
        "median_s": percentile(times, 0.5),
        "p90_s": percentile(times, 0.9),
        "wall_median_s": percentile(walls, 0.5),
        "wall_p90_s": percentile(walls, 0.9),
        "confusion": {k: dict(v) for k, v in confusion.items()},
        "wrong_accepted_by_mistake": {
            k: {"accepted": kinds_acc[k], "of": kinds_total[k]} for k in sorted(kinds_total)
        },
    }


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 10 else f"{x:.0f} s"


def print_table(report: dict[str, Any]) -> None:
    tools = report["tools"]
    lab = report["labels"]
    log("")
    log(
        f"corpus {report['corpus']}: {report['answers_run']} of {report['corpus_size']} answers "
        f"(correct {lab.get('correct', 0)}, incorrect {lab.get('incorrect', 0)}, "
        f"invalid {lab.get('invalid', 0)}); per-answer limit {report['settings']['timeout_s']} s"
    )
    head = (
        f"{'tool':<30}{'graded':>8}{'correct ok':>12}{'incorr. rej':>13}{'invalid':>9}"
        f"{'WRONG ACCEPTED':>16}{'t/o/err':>9}{'median':>9}{'p90':>9}{'wall med':>10}"
    )
    log(head)
    log("-" * len(head))
    for name, t in tools.items():
        s = t.get("summary")
        label = f"{name} {t.get('version') or ''}".strip()
        if not s:
            log(f"{label:<30}  {t['status']}: {t.get('message', '')}")
            continue
        lab_t = s["labels"]
        log(
            f"{label:<30}{s['graded']:>8}"
            f"{s['correct_accepted']:>7}/{lab_t.get('correct', 0):<4}"
            f"{s['incorrect_rejected']:>8}/{lab_t.get('incorrect', 0):<4}"
            f"{s['invalid_flagged']:>5}/{lab_t.get('invalid', 0):<3}"
            f"{s['wrong_accepted']:>11}/{s['wrong_answers']:<4}"
            f"{s['timeouts']:>5}/{s['errors']:<3}"
            f"{fmt_s(s['median_s']):>9}{fmt_s(s['p90_s']):>9}{fmt_s(s['wall_median_s']):>10}"
        )
        if s["tool_internal_timeouts"]:
            log(f"{'':<30}  ({s['tool_internal_timeouts']} verdicts after the tool's own timeout)")
        if s["wrong_graded"] < s["wrong_answers"]:
            log(
                f"{'':<30}  (wrong accepted: {s['wrong_accepted']} of the "
                f"{s['wrong_graded']} wrong answers it could grade)"
            )
        if s["expected_read_as_number"]:
            log(
                f"{'':<30}  ({s['expected_read_as_number']} graded against an expected answer "
                "read as a bare number)"
            )
        if s["timeout_error_reasons"]:
            why = ", ".join(f"{k}: {v}" for k, v in s["timeout_error_reasons"].items())
            log(f"{'':<30}  timeouts/errors: {why}")
    log(
        "correct ok: correct answers graded correct; incorr. rej: incorrect ones graded incorrect"
        " or invalid; invalid: invalid ones graded invalid; WRONG ACCEPTED: incorrect or invalid"
        " ones graded correct; t/o/err: not graded"
    )
    kinds = sorted(
        {
            k
            for t in tools.values()
            for k in t.get("summary", {}).get("wrong_accepted_by_mistake", {})
        }
    )
    if kinds:
        names = [n for n, t in tools.items() if t.get("summary")]
        log("")
        log("wrong answers accepted as correct, by mistake kind (accepted/of):")
        width = max(12, *(len(k) for k in kinds)) + 2
        log(f"{'mistake':<{width}}" + "".join(f"{n[:21]:>22}" for n in names))
        for k in kinds:
            cells = []
            for n in names:
                c = tools[n]["summary"]["wrong_accepted_by_mistake"].get(k)
                cells.append(f"{c['accepted']}/{c['of']}" if c else "-")
            log(f"{k:<{width}}" + "".join(f"{c:>22}" for c in cells))
    log("")
    log(f"run took {report['elapsed_s']:.0f} s")


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def run_foreign(
    tool: ForeignTool, cache: Path, answers: list[dict[str, Any]], timeout: float, total: float
) -> dict[str, Any]:
    py = venv_python(cache, tool)
    fix = f"{sys.executable} {Path(__file__).relative_to(REPO)} --setup"
    if cache != DEFAULT_CACHE:
        fix += f" --cache-dir {cache}"
    if not py.exists():
        return {"status": "not installed", "message": f"no venv at {py.parent.parent}; run: {fix}"}
    t0 = time.perf_counter()
    deadline = time.monotonic() + total
    with Worker(cache, tool, timeout) as worker:
        hello = worker.start(deadline=time.monotonic() + 120)
        if not hello.get("ready"):
            return {"status": "broken", "message": f"{hello.get('error')}; run: {fix}"}
        versions = hello["versions"]
        log(
            f"[{tool.name}] {versions}, import {hello['import_s']:.2f} s, "
            f"warm-up {hello['warmup_s']:.2f} s ({hello['warmup']})"
        )
        restarts = 0
        for n, a in enumerate(answers, 1):
            if not worker.alive and time.monotonic() < deadline:
                restarts += 1
                log(f"[{tool.name}] worker died or was killed; restarting it")
                worker.kill()
                worker.start(deadline=min(deadline, time.monotonic() + 120))
            if a["expected"] is None:
                res = {"verdict": "error", "reason": "no expected answer from gradproof derive"}
            elif time.monotonic() >= deadline:
                res = {"verdict": "timeout", "reason": "overall timeout"}
            elif not worker.alive:
                res = {"verdict": "error", "reason": "worker died"}
            else:
                res = worker.grade(a["index"], a["expected"], a["stripped"], deadline)
                res.pop("id", None)
            a["results"][tool.name] = res
            if n % 25 == 0:
                log(f"[{tool.name}] {n}/{len(answers)}")
    return {
        "status": "ok",
        "version": versions.get(tool.dists[0]),
        "versions": versions,
        "import_s": hello["import_s"],
        "warmup_s": hello["warmup_s"],
        "worker_restarts": restarts,
        "wall_s": time.perf_counter() - t0,
    }


def run_gradproof(answers: list[dict[str, Any]], timeout: float, total: float) -> dict[str, Any]:
    ok, why = gradproof_available()
    if not ok:
        return {
            "status": "not available",
            "message": f"`gradproof check` is not there yet ({why[:120]})",
        }
    t0 = time.perf_counter()
    deadline = time.monotonic() + total
    for n, a in enumerate(answers, 1):
        if time.monotonic() >= deadline:
            res: dict[str, Any] = {"verdict": "timeout", "reason": "overall timeout"}
        else:
            limit = min(timeout, deadline - time.monotonic())
            res = gradproof_check(a["spec_path"], a["wrt"], a["latex"], limit)
        a["results"]["gradproof"] = res
        if n % 25 == 0:
            log(f"[gradproof] {n}/{len(answers)}")
    return {"status": "ok", "version": "(this tree)", "wall_s": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Compare LaTeX graders on the labelled answer corpus (see module docstring)."
    )
    ap.add_argument("--setup", action="store_true", help="create the tools' venvs, then exit")
    ap.add_argument("--quick", action="store_true", help=f"grade the first {QUICK_N} answers")
    ap.add_argument("--out", type=Path, help="also write the JSON report here")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated subset")
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--timeout", type=float, default=10.0, help="per answer, seconds")
    ap.add_argument("--total-timeout", type=float, default=1800.0, help="per tool, seconds")
    ap.add_argument("--python", default=sys.executable, help="interpreter for --setup's venvs")
    args = ap.parse_args(argv)

    chosen = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(chosen) - set(ALL_TOOLS)
    if unknown:
        ap.error(f"unknown tools {sorted(unknown)}; choose from {', '.join(ALL_TOOLS)}")
    foreign = [t for t in FOREIGN_TOOLS if t.name in chosen]

    if args.setup:
        return setup(args.cache_dir, foreign, args.python)

    if not args.corpus.exists():
        log(f"no corpus at {args.corpus}")
        return 2
    try:
        answers = load_corpus(args.corpus)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        log(f"bad corpus: {exc}")
        return 2
    corpus_size = len(answers)
    if args.quick:
        answers = answers[:QUICK_N]

    t_start = time.perf_counter()
    by_spec: dict[Path, set[str]] = defaultdict(set)
    for a in answers:
        a["spec_path"] = resolve_spec(a["spec"], args.corpus)
        by_spec[a["spec_path"]].add(a["wrt"])
    expected = {spec: expected_latex(spec, wrts) for spec, wrts in by_spec.items()}
    for a in answers:
        a["expected"] = expected[a["spec_path"]][a["wrt"]]
        a["stripped"] = strip_answer(a["latex"])
        a["results"] = {}

    tools: dict[str, dict[str, Any]] = {}
    for tool in foreign:
        tools[tool.name] = run_foreign(
            tool, args.cache_dir, answers, args.timeout, args.total_timeout
        )
    if "gradproof" in chosen:
        tools["gradproof"] = run_gradproof(answers, args.timeout, args.total_timeout)
    for name, t in tools.items():
        if t["status"] == "ok":
            t["summary"] = summarize(answers, name)
        else:
            log(f"[{name}] {t['status']}: {t['message']}")

    report = {
        "benchmark": "grader_comparison",
        "corpus": str(args.corpus),
        "corpus_size": corpus_size,
        "answers_run": len(answers),
        "labels": dict(Counter(a["label"] for a in answers)),
        "settings": {
            "quick": args.quick,
            "timeout_s": args.timeout,
            "total_timeout_s": args.total_timeout,
            "cache_dir": str(args.cache_dir),
        },
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "tools": tools,
        "answers": [
            {k: (str(v) if isinstance(v, Path) else v) for k, v in a.items() if k != "spec_path"}
            for a in answers
        ],
        "elapsed_s": time.perf_counter() - t_start,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
