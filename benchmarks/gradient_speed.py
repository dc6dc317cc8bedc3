"""Forward + backward speed of an MLP: generated code vs numeric/ vs hand-written NumPy.

One call computes the loss and the gradients of every W_l and b_l of
    A_l = W_l @ H_{l-1} + b_l,  H_l = sigmoid(A_l) (or tanh),  H_0 = X [n, B],
    Yhat = W_L @ H_{L-1} + b_L (linear output),  J = mean((Yhat - Y)**2),  n = h = m = width.
Candidates, interleaved round-robin within each config so machine noise hits all alike:
  generated    the module derive/codegen.py writes (imported from a real file), `gradients()`
  numeric      numeric/'s reverse-mode engine, `Network.backward(values)`
  handwritten  textbook NumPy backprop written below: the BASELINE, ratio 1.0
  floor        the same matmuls (count and shapes) as one forward + backward and nothing else
  torch        PyTorch CPU autograd, float64 (if `import torch` works), same thread count
  jax          JAX CPU, jit(value_and_grad), float64 (if `import jax` works)
Before timing, the generated and numeric gradients must match the hand-written ones to rtol 1e-8
(normwise: max|a - b| <= 1e-8 max|b| per array) or the config is reported as an error.
Separately: `numeric.directional_check` on the width-2048 depth-8 network, B = 64 (limit 5 s).

    .venv/bin/python benchmarks/gradient_speed.py [--quick] [--activation tanh] [--out FILE]

prints JSON to stdout and a short summary to stderr; writes nothing else unless --out.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import derive
import numeric
from derive import codegen

RTOL = 1e-8
DIRECTIONAL_LIMIT_S = 5.0
BASELINE = "handwritten"

Arrays = dict[str, np.ndarray]


# ---- the network -----------------------------------------------------------------------------


def mlp_toml(depth: int, width: int, batch: int, activation: str) -> str:
    """The batched MLP spec (X [n, B], bias columns broadcast over the batch, mean SE)."""
    lines = [
        f'title = "{depth}-layer {activation} MLP, width {width}, batch {batch}"',
        "[dims]",
        f"n = {width}",
        f"h = {width}",
        f"m = {width}",
        f"B = {batch}",
        "[vars]",
        'X = { shape = ["n", "B"], role = "input" }',
        'Y = { shape = ["m", "B"], role = "target" }',
    ]
    for layer in range(1, depth + 1):
        rows = "m" if layer == depth else "h"
        cols = "n" if layer == 1 else "h"
        lines.append(f'W{layer} = {{ shape = ["{rows}", "{cols}"], role = "param" }}')
        lines.append(f'b{layer} = {{ shape = ["{rows}", 1], role = "param" }}')
    lines.append("[forward]")
    prev = "X"
    for layer in range(1, depth):
        lines.append(f'A{layer} = "W{layer} @ {prev} + b{layer}"')
        lines.append(f'H{layer} = "{activation}(A{layer})"')
        prev = f"H{layer}"
    lines.append(f'Yhat = "W{depth} @ {prev} + b{depth}"')
    lines.append('J = "mean((Yhat - Y)**2)"')
    return "\n".join(lines) + "\n"


def make_values(depth: int, width: int, batch: int, seed: int) -> Arrays:
    """X, Y standard normal; W_l ~ N(0, 1/fan_in) so no layer saturates; small biases."""
    rng = np.random.default_rng(seed)
    values: Arrays = {
        "X": rng.standard_normal((width, batch)),
        "Y": rng.standard_normal((width, batch)),
    }
    for layer in range(1, depth + 1):
        values[f"W{layer}"] = rng.standard_normal((width, width)) / math.sqrt(width)
        values[f"b{layer}"] = 0.1 * rng.standard_normal((width, 1))
    return values


def param_names(depth: int) -> list[str]:
    return [f"{p}{layer}" for layer in range(1, depth + 1) for p in ("W", "b")]


# ---- (iii) the baseline: textbook NumPy backprop ------------------------------------------------


def handwritten(values: Arrays, depth: int, activation: str) -> tuple[float, Arrays]:
    """Loss and {W_l, b_l: gradient}: forward storing activations, then backward deltas."""
    Ws = [values[f"W{layer}"] for layer in range(1, depth + 1)]
    bs = [values[f"b{layer}"] for layer in range(1, depth + 1)]
    X, Y = values["X"], values["Y"]
    Hs = [X]  # Hs[l] is the input of layer l (0-based)
    H = X
    for layer in range(depth - 1):
        A = Ws[layer] @ H + bs[layer]
        H = 1.0 / (1.0 + np.exp(-A)) if activation == "sigmoid" else np.tanh(A)
        Hs.append(H)
    Yhat = Ws[-1] @ H + bs[-1]
    diff = Yhat - Y
    loss = float(np.mean(diff**2))
    delta = (2.0 / diff.size) * diff
    grads: Arrays = {}
    for layer in reversed(range(depth)):
        grads[f"W{layer + 1}"] = delta @ Hs[layer].T
        grads[f"b{layer + 1}"] = delta.sum(axis=1, keepdims=True)
        if layer > 0:
            h = Hs[layer]
            if activation == "sigmoid":
                delta = (Ws[layer].T @ delta) * h * (1 - h)
            else:
                delta = (Ws[layer].T @ delta) * (1 - h * h)
    return loss, grads


# ---- (iv) the floor: the matmuls alone -----------------------------------------------------


def floor_operands(values: Arrays, depth: int, seed: int) -> tuple[list, list, list]:
    """Ws, layer inputs and deltas with the shapes one forward + backward multiplies."""
    rng = np.random.default_rng(seed + 1)
    Ws = [values[f"W{layer}"] for layer in range(1, depth + 1)]
    ins = [values["X"]] + [rng.standard_normal(values["X"].shape) for _ in range(depth - 1)]
    deltas = [rng.standard_normal((W.shape[0], values["X"].shape[1])) for W in Ws]
    return Ws, ins, deltas


def floor(Ws: list, ins: list, deltas: list) -> None:
    """3L - 1 products: W_l @ H_{l-1}; delta_l @ H_{l-1}.T; W_l.T @ delta_l for l > 1."""
    for W, H in zip(Ws, ins, strict=True):
        W @ H
    for layer in reversed(range(len(Ws))):
        deltas[layer] @ ins[layer].T
        if layer > 0:
            Ws[layer].T @ deltas[layer]


def floor_matmuls(depth: int) -> int:
    return 3 * depth - 1


# ---- (v), (vi) torch and jax ------------------------------------------------------------------


def try_import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install raising something else
        return None


def torch_candidate(torch: ModuleType, values: Arrays, depth: int, activation: str) -> Callable:
    t = {k: torch.from_numpy(v) for k, v in values.items()}
    params = [t[n].requires_grad_(True) for n in param_names(depth)]
    names = param_names(depth)
    act = torch.sigmoid if activation == "sigmoid" else torch.tanh

    def run() -> tuple[float, Arrays]:
        H = t["X"]
        for layer in range(1, depth):
            H = act(t[f"W{layer}"] @ H + t[f"b{layer}"])
        Yhat = t[f"W{depth}"] @ H + t[f"b{depth}"]
        loss = torch.mean((Yhat - t["Y"]) ** 2)
        grads = torch.autograd.grad(loss, params)
        return loss, dict(zip(names, grads, strict=True))

    return run


def jax_candidate(jax: ModuleType, values: Arrays, depth: int, activation: str) -> Callable:
    jnp = jax.numpy
    names = param_names(depth)
    params = {n: jnp.asarray(values[n]) for n in names}
    X, Y = jnp.asarray(values["X"]), jnp.asarray(values["Y"])
    act = jax.nn.sigmoid if activation == "sigmoid" else jnp.tanh

    def loss_fn(p: dict, X: Any, Y: Any) -> Any:
        H = X
        for layer in range(1, depth):
            H = act(p[f"W{layer}"] @ H + p[f"b{layer}"])
        Yhat = p[f"W{depth}"] @ H + p[f"b{depth}"]
        return jnp.mean((Yhat - Y) ** 2)

    step = jax.jit(jax.value_and_grad(loss_fn))

    def run() -> tuple[Any, Any]:
        loss, grads = step(params, X, Y)
        jax.block_until_ready(grads)
        return loss, grads

    return run


# ---- machine info ---------------------------------------------------------------------------


def blas_info() -> dict[str, Any]:
    """The BLAS numpy uses and its thread count: threadpoolctl if importable, else best effort."""
    info: dict[str, Any] = {"numpy": np.__version__}
    tpc = try_import("threadpoolctl")
    if tpc is not None:
        pools = tpc.threadpool_info()
        keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer")
        info["source"] = "threadpoolctl"
        info["pools"] = [{k: p.get(k) for k in keep} | {"file": p.get("filepath")} for p in pools]
        blas = [p for p in pools if p.get("user_api") == "blas"]
        if blas:
            info["blas"] = f"{blas[0].get('internal_api')} {blas[0].get('version')}"
            info["threads"] = blas[0].get("num_threads")
            return info
    info["source"] = "numpy.show_config + ctypes (best effort)"
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]  # numpy >= 1.25
        blas_cfg = deps.get("blas", {})
        info["blas"] = f"{blas_cfg.get('name')} {blas_cfg.get('version')}"
    except Exception as exc:  # older numpy: no dicts mode
        info["blas"] = f"unknown ({type(exc).__name__})"
    info["threads"] = openblas_threads()
    if info["threads"] is None:
        env = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        info["threads"] = int(env) if env else os.cpu_count()
        info["threads_note"] = "assumed from the environment / cpu count"
    return info


def openblas_threads() -> int | None:
    """openblas_get_num_threads from the OpenBLAS bundled in numpy's wheel, if there is one."""
    libs = Path(np.__file__).parent.parent / "numpy.libs"
    for lib in sorted(libs.glob("*openblas*")) if libs.is_dir() else []:
        try:
            handle = ctypes.CDLL(str(lib))
        except OSError:
            continue
        for sym in (
            "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads64_",
            "openblas_get_num_threads",
        ):
            fn = getattr(handle, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                return int(fn())
    return None


def torch_info(torch: ModuleType) -> dict[str, Any]:
    config = torch.__config__.show()
    parts = [part for line in config.splitlines() for part in line.split(", ")]
    blas = [part for part in parts if "BLAS_INFO" in part]
    return {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas[0].strip() if blas else "unknown",
    }


# ---- timing -------------------------------------------------------------------------------


def load_generated(derivation: Any, source: Path, path: Path) -> ModuleType:
    codegen.write_module(derivation, str(source), path)
    spec = importlib.util.spec_from_file_location(f"gradproof_bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rel_err(a: Any, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    scale = float(np.max(np.abs(b))) or 1.0
    return float(np.max(np.abs(a - b))) / scale


def max_rel_err(grads: Any, ref: Arrays) -> float:
    return max(rel_err(grads[n], ref[n]) for n in ref)


def timed(fn: Callable[[], Any], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def bench_config(
    tmp: Path,
    depth: int,
    width: int,
    batch: int,
    activation: str,
    quick: bool,
    torch: ModuleType | None,
    jax: ModuleType | None,
) -> dict[str, Any]:
    cfg: dict[str, Any] = {"depth": depth, "width": width, "B": batch, "activation": activation}
    tag = f"d{depth}_w{width}_b{batch}_{activation}"
    spec_path = tmp / f"{tag}.toml"
    spec_path.write_text(mlp_toml(depth, width, batch, activation), encoding="utf-8")
    values = make_values(depth, width, batch, seed=depth * 10_000 + width + batch)
    ref_loss, ref = handwritten(values, depth, activation)

    cands: dict[str, Callable[[], Any]] = {}
    check: dict[str, Callable[[], Any]] = {}
    errors: list[str] = []
    notes: dict[str, str] = {}

    def setup(name: str, make: Callable[[], tuple[Callable, Callable]], required: bool) -> None:
        try:
            run, grads_of = make()
            err = max_rel_err(grads_of(), ref)
        except Exception as exc:
            msg = f"{name}: {type(exc).__name__}: {exc}".strip()[:500]
            if required:
                errors.append(msg)
            notes[name] = msg
            traceback.print_exc(file=sys.stderr)
            return
        cfg.setdefault("max_rel_err", {})[name] = err
        if not err <= RTOL:
            msg = f"{name}: gradients differ from hand-written by {err:.2e} > rtol {RTOL:g}"
            if required:
                errors.append(msg)
            notes[name] = msg
            return
        cands[name] = run
        check[name] = grads_of

    def make_generated() -> tuple[Callable, Callable]:
        t0 = time.perf_counter()
        net = derive.load(spec_path)
        module = load_generated(net.derivation, spec_path, tmp / f"gen_{tag}.py")
        cfg["codegen_seconds"] = round(time.perf_counter() - t0, 3)
        return (lambda: module.gradients(**values)), (lambda: module.gradients(**values))

    def make_numeric() -> tuple[Callable, Callable]:
        net = numeric.load_network(spec_path, dtype=np.float64)
        return (lambda: net.backward(values)), (lambda: net.backward(values)[1])

    cands[BASELINE] = lambda: handwritten(values, depth, activation)
    setup("generated", make_generated, required=True)
    setup("numeric", make_numeric, required=True)
    if errors:
        cfg["status"] = "error"
        cfg["errors"] = errors
        return cfg
    operands = floor_operands(values, depth, seed=width + batch)
    cands["floor"] = lambda: floor(*operands)
    if torch is not None:

        def make_torch() -> tuple[Callable, Callable]:
            run = torch_candidate(torch, values, depth, activation)
            return run, lambda: {k: v.numpy() for k, v in run()[1].items()}

        setup("torch", make_torch, required=False)
    if jax is not None:

        def make_jax() -> tuple[Callable, Callable]:
            run = jax_candidate(jax, values, depth, activation)
            return run, lambda: {k: np.asarray(v) for k, v in run()[1].items()}

        setup("jax", make_jax, required=False)

    # warm-up (at least one call and 0.3 s: torch's first calls are much slower), then a
    # per-call estimate for the sample plan
    estimate = {}
    for name, fn in cands.items():
        t0, calls = time.perf_counter(), 0
        while calls < 1 or time.perf_counter() - t0 < 0.3:
            fn()
            calls += 1
        estimate[name] = timed(fn, 1)
    min_sample = 0.01 if quick else 0.03
    number = {n: max(1, math.ceil(min_sample / max(t, 1e-7))) for n, t in estimate.items()}
    per_round = sum(number[n] * estimate[n] for n in cands)
    budget = 4.0 if quick else 22.0
    rounds = max(3, min(5 if quick else 9, int(budget / per_round)))
    samples: dict[str, list[float]] = {n: [] for n in cands}
    names = list(cands)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(timed(cands[name], number[name]))
    base = statistics.median(samples[BASELINE])
    cfg["status"] = "ok"
    cfg["rounds"] = rounds
    cfg["matmuls_floor"] = floor_matmuls(depth)
    cfg["loss"] = ref_loss
    cfg["candidates"] = {
        n: {
            "median_s": statistics.median(samples[n]),
            "ratio": round(statistics.median(samples[n]) / base, 3),
            "calls_per_sample": number[n],
            "samples_s": [float(f"{s:.6g}") for s in samples[n]],
        }
        for n in names
    }
    if notes:
        cfg["notes"] = notes
    return cfg


def bench_directional(tmp: Path, activation: str, repeats: int) -> dict[str, Any]:
    depth, width, batch = 8, 2048, 64
    spec_path = tmp / f"directional_{activation}.toml"
    spec_path.write_text(mlp_toml(depth, width, batch, activation), encoding="utf-8")
    net = numeric.load_network(spec_path, dtype=np.float64)
    values = make_values(depth, width, batch, seed=1)
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = numeric.directional_check(net, values)
        times.append(time.perf_counter() - t0)
    assert result is not None
    med = statistics.median(times)
    return {
        "depth": depth,
        "width": width,
        "B": batch,
        "activation": activation,
        "repeats": repeats,
        "median_s": round(med, 3),
        "all_s": [round(t, 3) for t in times],
        "limit_s": DIRECTIONAL_LIMIT_S,
        "under_limit": med < DIRECTIONAL_LIMIT_S,
        "verdict": result.verdict,
        "max_rel_error": result.max_rel_error,
        "unchecked": len(result.unchecked),
    }


def run(quick: bool, activation: str) -> dict[str, Any]:
    started = time.perf_counter()
    blas = blas_info()
    torch, jax = try_import("torch"), None
    libs: dict[str, Any] = {}
    if torch is not None:
        if isinstance(blas.get("threads"), int):
            torch.set_num_threads(blas["threads"])
        libs["torch"] = torch_info(torch)
    else:
        libs["torch"] = "not importable"
    jax = try_import("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        libs["jax"] = {
            "version": jax.__version__,
            "devices": [str(d) for d in jax.devices()],
            "threads": "XLA's own pool (not settable per call)",
        }
    else:
        libs["jax"] = "not importable"
    if quick:
        grid = [(2, 64, w) for w in (16, 512)]
    else:
        grid = [(d, b, w) for d in (2, 8) for b in (64, 1024) for w in (16, 128, 512, 2048)]
    configs = []
    with tempfile.TemporaryDirectory(prefix="gradproof-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for depth, batch, width in grid:
            t0 = time.perf_counter()
            cfg = bench_config(tmp, depth, width, batch, activation, quick, torch, jax)
            cfg["config_seconds"] = round(time.perf_counter() - t0, 1)
            configs.append(cfg)
            print(f"  {short_row(cfg)}", file=sys.stderr, flush=True)
        directional = bench_directional(tmp, activation, repeats=1 if quick else 3)
    return {
        "benchmark": "gradient_speed",
        "quick": quick,
        "activation": activation,
        "dtype": "float64",
        "loss": "mean((Yhat - Y)**2)",
        "baseline": BASELINE,
        "rtol": RTOL,
        "statistic": "median seconds per call; candidates interleaved round-robin per config",
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "blas": blas,
        "libraries": libs,
        "configs": configs,
        "directional_check": directional,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


ORDER = ("generated", "numeric", "floor", "torch", "jax")


def short_row(cfg: dict[str, Any]) -> str:
    head = f"L={cfg['depth']} B={cfg['B']:>4} w={cfg['width']:>4}"
    if cfg["status"] != "ok":
        return f"{head}  ERROR: {'; '.join(cfg['errors'])}"
    c = cfg["candidates"]
    base = c[BASELINE]["median_s"]
    ratios = " ".join(f"{n}={c[n]['ratio']:.2f}" for n in ORDER if n in c)
    return f"{head}  hand {base * 1e3:9.3f} ms  {ratios}"


def summary(result: dict[str, Any]) -> str:
    blas = result["blas"]
    out = [
        f"gradient_speed ({result['activation']}, float64): ratio = median / hand-written median",
        f"BLAS: {blas.get('blas')} threads={blas.get('threads')} (via {blas.get('source')})",
    ]
    out += [short_row(cfg) for cfg in result["configs"]]
    d = result["directional_check"]
    out.append(
        f"directional_check L={d['depth']} w={d['width']} B={d['B']}: median {d['median_s']} s "
        f"(limit {d['limit_s']} s: {'OK' if d['under_limit'] else 'OVER'}), {d['verdict']}"
    )
    out.append(f"total {result['total_seconds']} s")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="B=64, widths 16 and 512, depth 2")
    parser.add_argument("--activation", choices=("sigmoid", "tanh"), default="sigmoid")
    parser.add_argument("--out", metavar="FILE", help="also write the JSON to FILE")
    args = parser.parse_args()
    result = run(args.quick, args.activation)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(summary(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
