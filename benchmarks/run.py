"""Benchmark suite for keras_daam: the layer, the heads and the pipeline.

Usage:

    python benchmarks/run.py [--quick] [--threads N] [--out DIR] \\
        [--backends jax,tensorflow,torch] [--cases ...] [--compile]

The parent process starts one worker subprocess per installed backend
(Keras fixes its backend at import time). Each worker times every case,
warm-up excluded, and reports the median of several repeats. The parent
merges the workers' results into `DIR/results.json` and `DIR/results.md`.

Modes: JAX runs under `jax.jit`, TensorFlow under
`tf.function(jit_compile=True)`, PyTorch eagerly (and, with `--compile`,
under `torch.compile` as an extra worker). The authors' package
(`gaussian-adaptive-attention`, PyTorch only) always runs in PyTorch eager
mode, its only mode of use; every backend's worker times it side by side
with our layer so that the ratios come from the same process and minute.

Layout (this folder):

- `run.py`: arguments, the worker subprocesses, the merge.
- `adapters.py`: per-backend compilation, VJPs, synchronisation, memory.
- `timing.py`: `bench` (median of repeats) and the peak-RSS probe.
- `cases/`: the cases (`cases.CASES`, in run order).
- `report.py`: `results.md`.

Cases (`--cases`, comma-separated; see `benchmarks/README.md`):

1. `vs_package`: authors' `MultiHeadGaussianAdaptiveAttention` vs our
   `DensityAdaptiveAttention(formulation="package")` with copied weights,
   forward and forward+backward (VJP with respect to input and weights).
2. `vs_multiply`: our forward time / one elementwise multiply of two
   tensors of the same shape in the same backend and mode.
3. `densities`: 16 densities / 1 density, product formulation.
4. `vs_mha`: DAAM vs `keras.layers.MultiHeadAttention` (8 heads, width
   768) over sequence lengths; forward time and peak memory.
5. `end_to_end`: one epoch of the `daam_h1_flatten` head on cached
   features vs one epoch through a frozen tiny random BertBackbone;
   feature extraction time vs the bare backbone's `predict`.
6. `pipeline`: texts/s of `extract_to_cache` on the packaged MiniLM over
   WordNet glosses vs Hugging Face `transformers` (PyTorch CPU) in the same
   process; cosine agreement of the features.

Peak memory: on a GPU, the backend's own allocator statistics. On a CPU,
the peak resident set size (RSS) of the worker during the call minus its
RSS before it (Linux `VmHWM`, reset through `/proc/self/clear_refs`); the
allocators cache freed memory, so this undercounts reused buffers. JAX
additionally reports XLA's compiled memory analysis (temporaries +
outputs), which is exact for the compiled program.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from adapters import Adapter
from cases import CASES
from report import markdown
from timing import bench  # noqa: F401 - run.bench for compare_layer.py
from timing import set_quick

BACKENDS = ("jax", "tensorflow", "torch")
HERE = os.path.dirname(os.path.abspath(__file__))
ALL_CASES = ",".join(CASES)


# ---------------------------------------------------------------- worker
def worker(args):
    os.environ["KERAS_BACKEND"] = args.worker
    if args.worker == "torch" or importlib.util.find_spec("torch"):
        import torch  # noqa: F401 - import torch before tensorflow

    import keras

    set_quick(args.quick)
    adapter = Adapter(args.worker, use_compile=args.compile)
    results = []

    def record(case, **fields):
        fields.update(
            case=case, backend=args.worker, mode=adapter.mode, gpu=adapter.gpu
        )
        results.append(fields)
        print(json.dumps(_brief(fields)), flush=True)

    selected = set(args.cases.split(","))
    t0 = time.time()
    for name, case in CASES.items():
        if name in selected:
            case(adapter, args.quick, record)
    with open(args.json, "w") as f:
        json.dump(
            {
                "backend": args.worker,
                "mode": adapter.mode,
                "keras": keras.__version__,
                "versions": _versions(args.worker),
                "seconds": time.time() - t0,
                "results": results,
            },
            f,
        )


def _brief(fields):
    """The one-line progress report of a result row."""
    keys = ("case", "backend", "mode", "shape", "length", "skipped")
    out = {k: fields[k] for k in keys if k in fields}
    for k, v in fields.items():
        if k.startswith(("ratio", "speedup", "extraction")):
            out[k] = round(v, 3)
        elif k.endswith("texts_per_s"):
            out[k] = round(v, 1)
    if "cosine_min" in fields:
        out["cosine_min"] = round(fields["cosine_min"], 6)
    return out


def _versions(backend):
    mods = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}
    out = {}
    for mod in (mods[backend], "transformers"):
        if importlib.util.find_spec(mod):
            out[mod] = __import__(mod).__version__
    return out


# ---------------------------------------------------------------- parent
def thread_env(threads):
    """Environment limiting every backend's CPU thread pools.

    Also TensorFlow's (KerasHub tokenizes with TensorFlow ops on every
    backend) and the Hugging Face tokenizers' (Rayon) pools.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1:
        # XLA's CPU backend has no thread-count flag; one thread is
        # "no multi-threaded Eigen". More threads: XLA's default pool.
        flags += " --xla_cpu_multi_thread_eigen=false"
    return {
        "DAAM_BENCH_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "XLA_FLAGS": flags.strip(),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "RAYON_NUM_THREADS": str(threads),
    }


def machine():
    info = {"platform": platform.platform(), "python": sys.version.split()[0]}
    for cmd, key in ((["nproc"], "nproc"), (["free", "-h"], "free")):
        try:
            info[key] = subprocess.run(
                cmd, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True
        ).stdout
        info["cpu"] = next(
            (
                line.split(":", 1)[1].strip()
                for line in out.splitlines()
                if line.startswith("Model name")
            ),
            None,
        )
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


def _run_worker(backend, comp, args):
    """Runs one worker subprocess; returns its JSON, or an error dict."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        path = tmp.name
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        backend,
        "--json",
        path,
        "--cases",
        args.cases,
    ]
    if args.quick:
        cmd.append("--quick")
    if comp:
        cmd.append("--compile")
    env = dict(os.environ, KERAS_BACKEND=backend)
    if args.threads:
        env.update(thread_env(args.threads))
    print(f"== {backend}{' (torch.compile)' if comp else ''}", flush=True)
    try:
        proc = subprocess.run(cmd, env=env)
        if proc.returncode != 0:
            return {"backend": backend, "error": f"exit {proc.returncode}"}
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes (smoke test)"
    )
    parser.add_argument(
        "--out",
        default=os.path.join(HERE, "results"),
        help="folder of results.json and results.md (default: %(default)s)",
    )
    parser.add_argument(
        "--backends",
        default=None,
        help="comma-separated backends (default: all installed of "
        f"{','.join(BACKENDS)})",
    )
    parser.add_argument(
        "--cases",
        default=ALL_CASES,
        help="comma-separated cases (default: %(default)s)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time torch under torch.compile (extra worker)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads per backend (default 0: the backends' defaults). "
        "One thread gives far steadier numbers on a loaded machine.",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.cases.split(",")) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {ALL_CASES}")
    if args.backends:
        bad = sorted(set(args.backends.split(",")) - set(BACKENDS))
        if bad:
            parser.error(
                f"unknown backend(s) {bad}; choose from {','.join(BACKENDS)}"
            )
    if args.threads < 0:
        parser.error(f"--threads must be >= 0, received {args.threads}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)

    backends = (
        args.backends.split(",")
        if args.backends
        else [b for b in BACKENDS if importlib.util.find_spec(b)]
    )
    runs = [(b, False) for b in backends]
    if args.compile and "torch" in backends:
        runs.append(("torch", True))
    os.makedirs(args.out, exist_ok=True)
    merged = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/run.py"] + sys.argv[1:]),
        "quick": args.quick,
        "threads": args.threads or "backend default",
        "machine": machine(),
        "workers": [],
        "results": [],
    }
    for backend, comp in runs:
        data = _run_worker(backend, comp, args)
        merged["results"].extend(data.pop("results", []))
        merged["workers"].append(data)
    json_path = os.path.join(args.out, "results.json")
    with open(json_path, "w") as f:
        json.dump(merged, f, indent=1)
    md_path = os.path.join(args.out, "results.md")
    with open(md_path, "w") as f:
        f.write(markdown(merged))
    print(f"wrote {json_path} and {md_path}")
    failed = [w for w in merged["workers"] if "error" in w]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
