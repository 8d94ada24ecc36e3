"""A/B timing of two versions of `density_attention.py`, side by side.

Usage:

    [DAAM_BENCH_THREADS=1 OMP_NUM_THREADS=1] \
    KERAS_BACKEND=torch python benchmarks/compare_layer.py OLD_FILE \
        [--shape 32,24,1024] [--formulation package] [--densities 5] \
        [--heads 8] [--rounds 3] [--package] [--multiply] [--clock cpu]

`OLD_FILE` is a copy of `keras_daam/layers/density_attention.py` from an
earlier commit (e.g. `git show REV:keras_daam/layers/density_attention.py >
/tmp/old.py`). Both layers get the same weights; the script checks that
they agree, then times forward and forward+backward in the current
backend's mode (see `run.py`). `--package` adds the authors' module
(`gaussian-adaptive-attention`, PyTorch eager, same weights; formulation
`"package"` only) and `--multiply` one elementwise multiply of two tensors
of the input's shape. All contestants are interleaved in every round so
that they see the same machine load; the script prints, per contestant,
the minimum over rounds of each round's minimum (on a loaded machine the
noise only ever adds time), and the ratios between them.

`--clock cpu` measures the process's CPU time (user + system) instead of
wall time: with one thread (`DAAM_BENCH_THREADS=1 OMP_NUM_THREADS=1`) it is
the work of the call itself, page faults included, and much less sensitive
than wall time to other processes competing for the cores.
"""

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def load_old(path):
    source = (
        open(path)
        .read()
        .replace('package="keras_daam"', 'package="keras_daam_baseline"')
    )
    spec = importlib.util.spec_from_loader("daam_baseline", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def cpu_bench(fn, sync, warmup=2, min_repeats=5, min_time=0.3):
    """`run.bench`'s loop on the process CPU clock; returns `{"min_s"}`."""
    for _ in range(warmup):
        sync(fn())
    times = []
    start = time.perf_counter()
    while len(times) < min_repeats or time.perf_counter() - start < min_time:
        t0 = time.process_time()
        sync(fn())
        times.append(time.process_time() - t0)
        if len(times) >= 30:
            break
    return {"min_s": min(times)}


def package_weights(heads, densities):
    # Offsets 0 (the package's initial value) and moderate scales: the
    # authors' linear-space product then does not underflow, so their
    # outputs are comparable; the cost does not depend on the values.
    rng = np.random.default_rng(0)
    offsets = np.zeros((heads, densities), "float32")
    scales = np.exp(rng.normal(0.5, 0.2, (heads, densities))).astype("float32")
    return offsets, scales


def authors_functions(offsets, scales, x_np, g_np):
    """Forward and forward+backward of the authors' module (torch eager)."""
    import torch
    from gaussian_adaptive_attention import MultiHeadGaussianAdaptiveAttention

    heads, k = offsets.shape
    module = MultiHeadGaussianAdaptiveAttention(
        norm_axis=1, num_heads=heads, num_gaussians=k
    )
    with torch.no_grad():
        for h, head in enumerate(module.attention_heads):
            head.mean_offsets.copy_(torch.from_numpy(offsets[h]))
            head.c.copy_(torch.from_numpy(scales[h]))
    params = list(module.parameters())
    x, g = torch.from_numpy(x_np), torch.from_numpy(g_np)

    def forward():
        with torch.no_grad():
            return module(x)

    def forward_backward():
        xr = x.detach().requires_grad_(True)
        return torch.autograd.grad(module(xr), [xr] + params, g)

    return forward, forward_backward


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("--shape", default="32,24,1024")
    parser.add_argument("--formulation", default="package")
    parser.add_argument("--densities", type=int, default=5)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--package", action="store_true")
    parser.add_argument("--multiply", action="store_true")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    if args.package and args.formulation != "package":
        parser.error("--package needs --formulation package")

    import run  # noqa: I001 - the benchmark helpers, next to this file

    import keras

    from keras_daam.layers import density_attention as new_mod

    old_mod = load_old(args.old)
    backend = keras.backend.backend()
    adapter = run.Adapter(backend)
    shape = tuple(int(s) for s in args.shape.split(","))
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=shape).astype("float32")
    g_np = rng.normal(size=shape).astype("float32")
    x, g = adapter.tensor(x_np), adapter.tensor(g_np)
    layers = {}
    for name, mod in (("old", old_mod), ("new", new_mod)):
        layer = mod.DensityAdaptiveAttention(
            num_heads=args.heads,
            num_densities=args.densities,
            axis=1,
            formulation=args.formulation,
            seed=0,
        )
        layer.build(shape)
        layers[name] = layer
    if args.formulation == "package":
        offsets, scales = package_weights(args.heads, args.densities)
        layers["old"].mean_offset.assign(offsets)
        layers["old"].scale.assign(scales)
    for v_old, v_new in zip(layers["old"].weights, layers["new"].weights):
        v_new.assign(v_old.value)
    fns = {
        k: (
            (lambda f: lambda: f(x))(adapter.forward(v)),
            (lambda f: lambda: f(x, g))(adapter.forward_backward(v)),
        )
        for k, v in layers.items()
    }
    syncs = {k: adapter.sync for k in fns}
    y_old = keras.ops.convert_to_numpy(fns["old"][0]())
    y_new = keras.ops.convert_to_numpy(fns["new"][0]())
    print(
        f"{backend}/{adapter.mode} {shape} {args.formulation} "
        f"({args.clock} clock) "
        f"K={args.densities}: max |new - old| = "
        f"{np.max(np.abs(y_new - y_old)):.2e} (max |y| "
        f"{np.max(np.abs(y_old)):.2e})"
    )
    if args.package:
        fns["package"] = authors_functions(offsets, scales, x_np, g_np)
        syncs["package"] = lambda out: out  # CPU eager: already done
        y_pkg = fns["package"][0]().numpy()
        print(f"  max |new - package| = {np.max(np.abs(y_new - y_pkg)):.2e}")
    if args.multiply:
        mul = adapter.multiply()
        y = adapter.tensor(rng.normal(size=shape).astype("float32"))
        fns["multiply"] = (lambda: mul(x, y), None)
        syncs["multiply"] = adapter.sync
    bench = run.bench if args.clock == "wall" else cpu_bench
    times = {(k, m): [] for k in fns for m in ("fwd", "fwd+bwd")}
    for _ in range(args.rounds):
        for k, (fwd, fb) in fns.items():
            times[(k, "fwd")].append(bench(fwd, syncs[k])["min_s"])
            if fb is not None:
                times[(k, "fwd+bwd")].append(bench(fb, syncs[k])["min_s"])
    best = {key: float(np.min(t)) for key, t in times.items() if t}
    for m in ("fwd", "fwd+bwd"):
        line = f"  {m:8s}" + "".join(
            f" {k} {best[(k, m)] * 1e3:8.3f} ms" for k in fns if (k, m) in best
        )
        line += f"  new/old {best[('new', m)] / best[('old', m)]:.2f}"
        if args.package:
            for k in ("old", "new"):
                line += (
                    f"  package/{k} {best[('package', m)] / best[(k, m)]:.2f}"
                )
        print(line)
    if args.multiply:
        for k in ("old", "new"):
            print(
                f"  fwd {k}/multiply "
                f"{best[(k, 'fwd')] / best[('multiply', 'fwd')]:.2f}"
            )


if __name__ == "__main__":
    main()
