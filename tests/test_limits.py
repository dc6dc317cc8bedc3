"""What a hostile spec may cost is bounded: every command ends within its limits, in one line.

The reproductions of issue 8 (exponential fan-out, 95,000 equations, long sigmoid chains, TOML
nested 100,000 deep, /dev/zero, a 50 MB file, output over its limit) and a table of hostile spec
files, each run through derive, codegen, verify and check as a real subprocess with small
limits (--time-limit 5): exit 0, 1 or 2, one line on stderr when it fails, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from pathlib import Path

import pytest

from derive.api import Network
from derive.errors import TooLargeError
from derive.limits import DEFAULT, Limits, read_bounded, run_bounded, toml_depth

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT = 5.0
SLACK = 4.0  # interpreter start-up and the parent's reporting, beyond the deadline


def fan_chain(n: int) -> str:
    """e_i = e_{i-1} * e_{i-1} + e_{i-1}: the substituted gradient doubles at every line."""
    lines = ["[vars]", 'e0 = { shape = "scalar", role = "param" }', "[forward]"]
    lines += [f'e{i} = "e{i - 1} * e{i - 1} + e{i - 1}"' for i in range(1, n + 1)]
    return "\n".join([*lines, f'L = "e{n}"']) + "\n"


def long_chain(n: int, body: str = "e{p} + c") -> str:
    lines = ["[vars]", 'e0 = { shape = "scalar", role = "param" }']
    lines += ['c = { shape = "scalar", role = "input" }', "[forward]"]
    lines += [f'e{i} = "{body.format(p=i - 1)}"' for i in range(1, n + 1)]
    return "\n".join([*lines, f'L = "e{n} * c"']) + "\n"


def sigmoid_mlp(depth: int) -> str:
    lines = ["[dims]", "n = 3", "[vars]", 'x = { shape = ["n", 1], role = "input" }']
    lines.append('y = { shape = ["n", 1], role = "target" }')
    for i in range(1, depth + 1):
        lines.append(f'W{i} = {{ shape = ["n", "n"], role = "param" }}')
    lines.append("[forward]")
    prev = "x"
    for i in range(1, depth + 1):
        lines.append(f'a{i} = "sigmoid(W{i} @ {prev})"')
        prev = f"a{i}"
    return "\n".join([*lines, f'J = "sum(({prev} - y)**2)"']) + "\n"


def one_loss(expr: str, dims: str = "n = 3") -> str:
    return (
        f"[dims]\n{dims}\n[vars]\n"
        'x = { shape = ["n", 1], role = "input" }\n'
        'W = { shape = ["n", "n"], role = "param" }\n'
        f'[forward]\nL = "{expr}"\n'
    )


VALID_TAIL = one_loss("sum((W @ x)**2)")

# id -> the file's content (str or bytes), or a callable making the path in a directory
HOSTILE: dict[str, str | bytes | Callable[[Path], Path]] = {
    "fan_out_20": fan_chain(20),
    "fan_out_25": fan_chain(25),
    "fan_out_60": fan_chain(60),
    "chain_95000": long_chain(95_000),
    "chain_3000": long_chain(3_000),
    "sigmoid_chain_12": long_chain(12, "sigmoid(e{p}) * e{p}"),
    "sigmoid_mlp_12": sigmoid_mlp(12),
    "sigmoid_mlp_200": sigmoid_mlp(200),
    "exp_chain_400": long_chain(400, "exp(e{p})"),
    "toml_array_100000": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "toml_inline_tables_50": "x = " + "{a = " * 50 + "1" + "}" * 50 + "\n",
    "brackets_in_strings": 'title = "' + "[" * 5000 + '"\n' + VALID_TAIL,
    "equation_parens_10000": one_loss("(" * 10_000 + "sum(x)" + ")" * 10_000),
    "equation_5000_chars": one_loss("+".join(["sum(x)"] * 800)),
    "power_10_10": one_loss("sum(x**(10**10))"),
    "tower_10_10_10": one_loss("10**10**10 * sum(x)"),
    "huge_constant": one_loss("100000000000000000000000000000 * sum(x)"),
    "huge_dims": one_loss("sum(W @ x)", "n = 1000000"),
    "many_dims": "[dims]\n" + "".join(f"d{i} = 2\n" for i in range(5000)) + VALID_TAIL[7:],
    "many_vars": "[vars]\n"
    + "".join(f'v{i} = {{ shape = "scalar", role = "input" }}\n' for i in range(5000))
    + '[forward]\nL = "v0 * v1"\n',
    "long_sum_chain": one_loss("+".join(["sum(x)"] * 300)),
    "empty": "",
    "binary": bytes(range(256)) * 4,
    "nul_bytes": b"\x00" * 10_000,
    "big_file_3mb": "# " + "x" * 3_000_000 + "\n" + VALID_TAIL,
    "directory": lambda d: _mkdir(d / "spec_dir"),
    "fifo": lambda d: _mkfifo(d / "spec_fifo"),
    "dev_zero": lambda d: Path("/dev/zero"),
}


def _mkdir(p: Path) -> Path:
    p.mkdir()
    return p


def _mkfifo(p: Path) -> Path:
    os.mkfifo(p)
    return p


def gradproof(*args: str, limit: float = TIME_LIMIT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "derive.cli", "--time-limit", str(limit), "--memory-limit", "1500",
         *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=limit + 30,
    )  # fmt: skip


COMMANDS = ("derive", "codegen", "verify", "check")


def command_args(command: str, spec: Path, out: Path) -> list[str]:
    return {
        "derive": ["derive", str(spec)],
        "codegen": ["codegen", str(spec), "-o", str(out)],
        "verify": ["verify", "--no-torch", str(spec)],
        "check": ["check", str(spec), "--wrt", "x", "--answer", "x"],
    }[command]


@pytest.fixture(scope="module")
def hostile_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], tuple[subprocess.CompletedProcess[str], float]]:
    d = tmp_path_factory.mktemp("hostile")
    paths: dict[str, Path] = {}
    for name, content in HOSTILE.items():
        if callable(content):
            paths[name] = content(d)
        else:
            p = d / f"{name}.toml"
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
            paths[name] = p

    def run(key: tuple[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
        name, command = key
        started = time.monotonic()
        out = d / f"{name}_{command}.py"
        proc = gradproof(*command_args(command, paths[name], out))
        return proc, time.monotonic() - started

    keys = [(n, c) for n in HOSTILE for c in COMMANDS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(keys, pool.map(run, keys), strict=True))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_spec_is_bounded(
    hostile_runs: dict[tuple[str, str], tuple[subprocess.CompletedProcess[str], float]],
    name: str,
    command: str,
) -> None:
    proc, seconds = hostile_runs[(name, command)]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert seconds < TIME_LIMIT + SLACK, f"{seconds:.1f} s"
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("gradproof: warning:")]
    if proc.returncode == 2:  # bad input: one line (1 is a verdict, printed on stdout)
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("gradproof: "), lines


def test_there_are_enough_hostile_specs() -> None:
    assert len(HOSTILE) >= 25


# -- the reproductions of issue 8, each with its expected outcome -----------------------------


def _spec(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "spec.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("n", [20, 25])
def test_fan_out_chain_is_too_large_at_once(tmp_path: Path, n: int) -> None:
    started = time.monotonic()
    proc = gradproof("derive", str(_spec(tmp_path, fan_chain(n))))
    assert time.monotonic() - started < 3
    assert proc.returncode == 2
    assert "too large" in proc.stderr and "--limit expression-nodes=" in proc.stderr


def test_fan_out_chain_derives_within_raised_limit(tmp_path: Path) -> None:
    spec = _spec(tmp_path, fan_chain(10))
    proc = gradproof("--limit", "expression-nodes=100000", "derive", str(spec))
    assert proc.returncode == 0, proc.stderr


def test_95000_equations_refused_by_count(tmp_path: Path) -> None:
    spec = _spec(tmp_path, long_chain(95_000))
    proc = gradproof("--limit", "file-bytes=10000000", "derive", str(spec))
    assert proc.returncode == 2
    assert "the limit equations" in proc.stderr and "--limit equations=" in proc.stderr


def test_200_layer_sigmoid_mlp_derives(tmp_path: Path) -> None:
    proc = gradproof("derive", str(_spec(tmp_path, sigmoid_mlp(200))), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_deep_toml_is_refused_before_tomllib(tmp_path: Path) -> None:
    proc = gradproof("derive", str(_spec(tmp_path, "x = " + "[" * 100_000 + "]" * 100_000)))
    assert proc.returncode == 2
    assert "the limit toml_depth" in proc.stderr


def test_dev_zero_is_read_bounded() -> None:
    proc = gradproof("derive", "/dev/zero")
    assert proc.returncode == 2
    assert "the limit file_bytes" in proc.stderr


def test_50mb_spec_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.truncate(50_000_000)
    started = time.monotonic()
    with pytest.raises(TooLargeError, match="50000000 bytes"):
        read_bounded(big, DEFAULT.file_bytes, "the spec file", DEFAULT, "file_bytes")
    assert time.monotonic() - started < 0.1
    proc = gradproof("derive", str(big))
    assert proc.returncode == 2 and "50000000 bytes" in proc.stderr


def test_output_over_its_limit(tmp_path: Path) -> None:
    spec = _spec(tmp_path, sigmoid_mlp(12))
    proc = gradproof("--limit", "output-bytes=10000", "derive", str(spec))
    assert proc.returncode == 2
    assert "the limit output_bytes" in proc.stderr and proc.stdout == ""


def test_deadline_kills_the_whole_command(tmp_path: Path) -> None:
    spec = _spec(tmp_path, sigmoid_mlp(3))
    started = time.monotonic()
    proc = gradproof("--limit", "expression-nodes=100000000", "--limit", "expression-depth=100000",
                     "derive", str(_spec(tmp_path, fan_chain(24))), limit=1.0)  # fmt: skip
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert "too large: time" in proc.stderr and "--time-limit" in proc.stderr
    assert proc.stdout == "" and elapsed < 1.0 + SLACK
    assert spec.exists()


def test_help_lists_the_limits() -> None:
    proc = gradproof("--help")
    for name in ("--time-limit", "--memory-limit", "--limit", "expression-nodes", "file-bytes"):
        assert name in proc.stdout


def test_help_lists_every_limit_with_its_option_default_and_meaning() -> None:
    # the list is made from the table in derive/limits.py, so no limit can be left out of it
    from derive.cli import build_parser

    text = build_parser().format_help()
    table = text.split("gradproof --limit equations=5000 derive SPEC.\n", 1)[1].split("\n\n")[0]
    rows = table.splitlines()
    assert len(rows) == len(fields(Limits)) == 10
    for f, row in zip(fields(Limits), rows, strict=True):
        option = DEFAULT.option(f.name)
        option += "N" if option.endswith("=") else ""
        default = f"{float(getattr(DEFAULT, f.name)):.0f}"
        assert row.startswith(f"  {option} ") and f" {default}  " in row, row
        assert row.endswith(f.metadata["what"]) and f.name.replace("_", "-") in row, row
    assert '"gradproof: error: too large: ..."' in " ".join(text.split())


# -- the API ----------------------------------------------------------------------------------


def test_api_derivation_checks_expression_size() -> None:
    with pytest.raises(TooLargeError, match="expression_nodes"):
        _ = Network.from_toml(fan_chain(20)).derivation
    small = Network.from_toml(fan_chain(20), limits=replace(DEFAULT, expression_nodes=10**8))
    assert small.derivation.gradients


def test_api_counts_and_depth_limits() -> None:
    tight = replace(DEFAULT, equations=5, toml_depth=2)
    with pytest.raises(TooLargeError, match="equations"):
        Network.from_toml(long_chain(10), limits=tight)
    with pytest.raises(TooLargeError, match="toml_depth"):
        Network.from_toml("x = [[[1]]]\n" + VALID_TAIL, limits=tight)


def test_limits_from_names() -> None:
    limits = DEFAULT.with_values(["expression-nodes=5", "time_limit=2.5"])
    assert limits.expression_nodes == 5 and limits.time_limit == 2.5
    with pytest.raises(Exception, match="NAME=VALUE"):
        DEFAULT.with_values(["nodes"])
    with pytest.raises(Exception, match="positive"):
        DEFAULT.with_values(["equations=-1"])


def test_toml_depth_ignores_strings_and_comments() -> None:
    assert toml_depth('a = "[[[["  # [[[[\nb = [[1], [2]]\n', 10) == 2
    assert toml_depth("a = '''\n{{{{\n'''\n[t]\n", 10) == 1


def test_run_bounded_kills_work_past_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(TooLargeError, match="time"):
        run_bounded(lambda: time.sleep(30) or 0, Limits(time_limit=0.5))
    assert time.monotonic() - started < 3


def test_run_bounded_passes_output_and_code(capsys: pytest.CaptureFixture[str]) -> None:
    def work() -> int:
        print("hello")
        print("note", file=sys.stderr)
        return 1

    assert run_bounded(work, DEFAULT) == 1
    captured = capsys.readouterr()
    assert captured.out == "hello\n" and captured.err == "note\n"


def test_memory_limit_counts_from_the_fork_not_from_zero() -> None:
    """A parent that has mapped a large library (torch reserves gigabytes) still gets workers
    with the whole limit to spend: only what the work adds is capped."""
    import mmap

    reserved = mmap.mmap(-1, 3 * 1024**3)  # 3 GiB of address space, never touched
    try:

        def allocate(mib: int) -> int:
            try:
                return 0 if len(bytearray(mib * 1024**2)) else 1
            except MemoryError:
                return 2

        small = replace(DEFAULT, memory_limit=512, time_limit=20)  # 256 MiB is the deep stack
        assert run_bounded(lambda: allocate(64), small) == 0
        assert run_bounded(lambda: allocate(2048), small) == 2  # still capped
    finally:
        reserved.close()
