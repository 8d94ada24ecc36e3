"""A/B timing of two versions of `density_attention.py`, side by side.

Usage:

    [DAAM_BENCH_THREADS=1 OMP_NUM_THREADS=1] \
    KERAS_BACKEND=torch python benchmarks/compare_layer.py OLD_FILE \
        [--shape 32,24,1024] [--formulation package] [--densities 5]

`OLD_FILE` is a copy of `keras_daam/layers/density_attention.py` from an
earlier commit (e.g. `git show REV:keras_daam/layers/density_attention.py >
/tmp/old.py`). Both layers get the same weights; the script checks that
they agree, then times forward and forward+backward in the current
backend's mode (see `run.py`), interleaving old and new so that both see
the same machine load, and prints the medians and the new/old ratios.
"""

import argparse
import importlib.util
import os
import sys

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("--shape", default="32,24,1024")
    parser.add_argument("--formulation", default="package")
    parser.add_argument("--densities", type=int, default=5)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

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
    for v_old, v_new in zip(layers["old"].weights, layers["new"].weights):
        v_new.assign(v_old.value)
    fns = {
        k: (adapter.forward(v), adapter.forward_backward(v))
        for k, v in layers.items()
    }
    y_old = keras.ops.convert_to_numpy(fns["old"][0](x))
    y_new = keras.ops.convert_to_numpy(fns["new"][0](x))
    print(
        f"{backend}/{adapter.mode} {shape} {args.formulation} "
        f"K={args.densities}: max |new - old| = "
        f"{np.max(np.abs(y_new - y_old)):.2e} (max |y| "
        f"{np.max(np.abs(y_old)):.2e})"
    )
    times = {(k, m): [] for k in fns for m in ("fwd", "fwd+bwd")}
    for _ in range(args.rounds):
        for k, (fwd, fb) in fns.items():
            times[(k, "fwd")].append(
                run.bench(lambda: fwd(x), adapter.sync)["min_s"]
            )
            times[(k, "fwd+bwd")].append(
                run.bench(lambda: fb(x, g), adapter.sync)["min_s"]
            )
    # Minimum over repeats and rounds: on a loaded machine the noise only
    # ever adds time, so the minimum estimates the intrinsic cost.
    for m in ("fwd", "fwd+bwd"):
        old = float(np.min(times[("old", m)]))
        new = float(np.min(times[("new", m)]))
        print(
            f"  {m:8s} old {old * 1e3:8.3f} ms  new {new * 1e3:8.3f} ms  "
            f"new/old {new / old:.2f}"
        )


if __name__ == "__main__":
    main()
