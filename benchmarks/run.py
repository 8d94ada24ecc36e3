"""Benchmark suite for keras_daam's DensityAdaptiveAttention.

Usage:

    python benchmarks/run.py [--quick] [--out DIR] [--backends jax,torch]

The parent process starts one worker subprocess per installed backend
(Keras fixes its backend at import time). Each worker times every case,
warm-up excluded, and reports the median of several repeats. The parent
merges the workers' results into `DIR/results.json` and `DIR/results.md`.

Modes: JAX runs under `jax.jit`, TensorFlow under
`tf.function(jit_compile=True)`, PyTorch eagerly (and, with `--compile`,
under `torch.compile` as an extra mode). The authors' package
(`gaussian-adaptive-attention`, PyTorch only) always runs in PyTorch eager
mode, its only mode of use; every backend's worker times it side by side
with our layer so that the ratios come from the same process and minute.

Cases:

1. `vs_package`: authors' `MultiHeadGaussianAdaptiveAttention` vs our
   `DensityAdaptiveAttention(formulation="package")` with copied weights,
   forward and forward+backward (VJP with respect to input and weights).
2. `vs_multiply`: our forward time / one elementwise multiply of two
   tensors of the same shape in the same backend and mode.
3. `densities`: 16 densities / 1 density, product formulation.
4. `vs_mha`: DAAM vs `keras.layers.MultiHeadAttention` (8 heads, width
   768) over sequence lengths; forward time and peak memory.
5. `end_to_end`: one epoch of a DAAM head on cached features vs one epoch
   through a frozen tiny random BertBackbone; feature extraction time vs
   the bare backbone's `predict`.

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
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

BACKENDS = ("jax", "tensorflow", "torch")
HERE = os.path.dirname(os.path.abspath(__file__))

# Case 1 shapes: [batch, axis, features]; 8 heads, 5 densities, axis 1.
PACKAGE_SHAPES = ((32, 24, 1024), (16, 512, 768))
QUICK_PACKAGE_SHAPES = ((8, 24, 256), (4, 128, 192))
MHA_LENGTHS = (256, 512, 1024, 2048, 4096)
QUICK_MHA_LENGTHS = (64, 256)


# ---------------------------------------------------------------- timing
def _now():
    return time.perf_counter()


QUICK = False


def bench(fn, sync, *, warmup=2, min_repeats=5, max_repeats=30, min_time=0.3):
    """Median wall time of `fn()` in seconds, warm-up calls excluded."""
    if QUICK:
        warmup, min_repeats, min_time = 1, 2, 0.0
    for _ in range(warmup):
        sync(fn())
    times = []
    start = _now()
    while len(times) < max_repeats and (
        len(times) < min_repeats or _now() - start < min_time
    ):
        t0 = _now()
        sync(fn())
        times.append(_now() - t0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "repeats": len(times),
    }


def _status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return None


def rss_peak_delta(fn, sync):
    """Peak RSS during `fn()` minus RSS before it, in bytes (Linux only)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    before = _status_kb("VmRSS:")
    sync(fn())
    peak = _status_kb("VmHWM:")
    if before is None or peak is None:
        return None
    return max(peak - before, 0) * 1024


# -------------------------------------------------------------- adapters
class Adapter:
    """Backend-specific compilation, gradients and synchronisation."""

    def __init__(self, backend, use_compile=False):
        self.backend = backend
        self.use_compile = use_compile
        threads = int(os.environ.get("DAAM_BENCH_THREADS", "0"))
        if threads and importlib.util.find_spec("torch"):
            import torch

            torch.set_num_threads(threads)
        if backend == "jax":
            import jax

            self.jax = jax
            self.gpu = jax.devices()[0].platform == "gpu"
            self.mode = "jit"
        elif backend == "tensorflow":
            import tensorflow as tf

            self.tf = tf
            threads = int(os.environ.get("DAAM_BENCH_THREADS", "0"))
            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            self.gpu = bool(tf.config.list_physical_devices("GPU"))
            self.mode = "xla"
        else:
            import torch

            self.torch = torch
            self.gpu = torch.cuda.is_available()
            self.mode = "compile" if use_compile else "eager"

    # -- data
    def tensor(self, array):
        if self.backend == "torch":
            t = self.torch.from_numpy(array)
            return t.cuda() if self.gpu else t
        import keras

        return keras.ops.convert_to_tensor(array)

    def sync(self, out):
        if self.backend == "jax":
            self.jax.block_until_ready(out)
        elif self.backend == "torch":
            if self.gpu:
                self.torch.cuda.synchronize()
        else:
            if self.gpu:
                self.tf.test.experimental.sync_devices()
        return out

    # -- functions of one or more input tensors
    def forward(self, layer, nargs=1):
        """Compiled forward `f(*xs)` of a built Keras layer."""
        if self.backend == "jax":
            tv = [v.value for v in layer.trainable_variables]
            ntv = [v.value for v in layer.non_trainable_variables]

            @self.jax.jit
            def f(tv, ntv, *xs):
                return layer.stateless_call(tv, ntv, *xs)[0]

            return lambda *xs: f(tv, ntv, *xs)
        if self.backend == "tensorflow":
            return self.tf.function(lambda *xs: layer(*xs), jit_compile=True)
        torch = self.torch

        def f(*xs):
            with torch.no_grad():
                return layer(*xs)

        if self.use_compile:
            return torch.compile(f)
        return f

    def forward_backward(self, layer):
        """Compiled `f(x, g)`: VJP of the layer w.r.t. x and its weights."""
        if self.backend == "jax":
            jax = self.jax
            tv = [v.value for v in layer.trainable_variables]
            ntv = [v.value for v in layer.non_trainable_variables]

            @jax.jit
            def f(tv, x, g):
                def fwd(tv, x):
                    return layer.stateless_call(tv, ntv, x)[0]

                _, vjp = jax.vjp(fwd, tv, x)
                return vjp(g)

            return lambda x, g: f(tv, x, g)
        if self.backend == "tensorflow":
            tf = self.tf

            @tf.function(jit_compile=True)
            def f(x, g):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = layer(x)
                return tape.gradient(
                    y, [x] + list(layer.trainable_variables), output_gradients=g
                )

            return f
        return torch_vjp(
            self.torch,
            layer,
            [v.value for v in layer.trainable_variables],
            compile_=self.use_compile,
        )

    def multiply(self):
        if self.backend == "jax":
            return self.jax.jit(lambda a, b: a * b)
        if self.backend == "tensorflow":
            return self.tf.function(lambda a, b: a * b, jit_compile=True)
        torch = self.torch

        def f(a, b):
            with torch.no_grad():
                return torch.mul(a, b)

        return torch.compile(f) if self.use_compile else f

    def peak_memory(self, fn, args):
        """Peak memory of one call (see the module docstring)."""
        out = {}
        if self.gpu:
            if self.backend == "torch":
                torch = self.torch
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                self.sync(fn(*args))
                out["gpu_peak_bytes"] = torch.cuda.max_memory_allocated() - base
                out["method"] = "torch.cuda.max_memory_allocated"
            elif self.backend == "tensorflow":
                tf = self.tf
                tf.config.experimental.reset_memory_stats("GPU:0")
                info = tf.config.experimental.get_memory_info("GPU:0")
                base = info["current"]
                self.sync(fn(*args))
                info = tf.config.experimental.get_memory_info("GPU:0")
                out["gpu_peak_bytes"] = info["peak"] - base
                out["method"] = "tf.config.experimental.get_memory_info"
            else:
                stats = self.jax.devices()[0].memory_stats() or {}
                out["gpu_peak_bytes_process"] = stats.get("peak_bytes_in_use")
                out["method"] = "jax memory_stats (process peak)"
        else:
            out["rss_peak_delta_bytes"] = rss_peak_delta(
                lambda: fn(*args), self.sync
            )
            out["method"] = "peak RSS delta (VmHWM after clear_refs)"
        return out


def torch_vjp(torch, module, params, compile_=False):
    def f(x, g):
        x = x.detach().requires_grad_(True)
        y = module(x)
        return torch.autograd.grad(y, [x] + list(params), g)

    return torch.compile(f) if compile_ else f


# ----------------------------------------------------------------- cases
def make_layers(adapter, shape, num_densities=5, formulation="package"):
    """Our layer, and the authors' module with the same weights (torch)."""
    import keras

    from keras_daam.layers import DensityAdaptiveAttention

    ours = DensityAdaptiveAttention(
        num_heads=8,
        num_densities=num_densities,
        axis=1,
        formulation=formulation,
        seed=0,
    )
    ours.build(shape)
    rng = np.random.default_rng(0)
    # Offsets 0 (the package's own initial value) and moderate scales: with
    # nonzero offsets in input units or small c, the authors' linear-space
    # product underflows on low-variance heads and their output collapses
    # to 0 there (a documented defect), so the outputs would differ by
    # design. The cost of either implementation does not depend on values.
    offsets = np.zeros((8, num_densities), "float32")
    scales = np.exp(rng.normal(0.5, 0.2, (8, num_densities))).astype("float32")
    ours.mean_offset.assign(offsets)
    ours.scale.assign(scales)
    del keras
    return ours, offsets, scales


def authors_module(offsets, scales, gpu):
    import torch
    from gaussian_adaptive_attention import MultiHeadGaussianAdaptiveAttention

    heads, k = offsets.shape
    mod = MultiHeadGaussianAdaptiveAttention(
        norm_axis=1, num_heads=heads, num_gaussians=k
    )
    with torch.no_grad():
        for h, head in enumerate(mod.attention_heads):
            head.mean_offsets.copy_(torch.from_numpy(offsets[h]))
            head.c.copy_(torch.from_numpy(scales[h]))
    if gpu:
        mod = mod.cuda()
    return mod


def case_vs_package(adapter, shapes, record):
    import keras
    import torch

    torch_gpu = torch.cuda.is_available()
    for shape in shapes:
        rng = np.random.default_rng(1)
        x_np = rng.normal(size=shape).astype("float32")
        g_np = rng.normal(size=shape).astype("float32")
        ours, offsets, scales = make_layers(adapter, shape)
        theirs = authors_module(offsets, scales, torch_gpu)
        x, g = adapter.tensor(x_np), adapter.tensor(g_np)
        tx = torch.from_numpy(x_np)
        tg = torch.from_numpy(g_np)
        if torch_gpu:
            tx, tg = tx.cuda(), tg.cuda()

        def their_fwd():
            with torch.no_grad():
                return theirs(tx)

        def tsync(out):
            if torch_gpu:
                torch.cuda.synchronize()
            return out

        their_vjp = torch_vjp(torch, theirs, list(theirs.parameters()))

        fwd = adapter.forward(ours)
        fb = adapter.forward_backward(ours)
        y_ours = keras.ops.convert_to_numpy(fwd(x))
        y_theirs = their_fwd().cpu().numpy()
        parity = float(np.max(np.abs(y_ours - y_theirs)))
        scale = float(np.max(np.abs(y_theirs)))
        # Interleave ours and theirs so both see the same machine load.
        t_ours_f = bench(lambda: fwd(x), adapter.sync)
        t_theirs_f = bench(their_fwd, tsync)
        t_ours_fb = bench(lambda: fb(x, g), adapter.sync)
        t_theirs_fb = bench(lambda: their_vjp(tx, tg), tsync)
        record(
            "vs_package",
            shape=list(shape),
            max_abs_diff=parity,
            max_abs_output=scale,
            ours_forward=t_ours_f,
            theirs_forward=t_theirs_f,
            ours_forward_backward=t_ours_fb,
            theirs_forward_backward=t_theirs_fb,
            ratio_forward=t_ours_f["median_s"] / t_theirs_f["median_s"],
            ratio_forward_backward=t_ours_fb["median_s"]
            / t_theirs_fb["median_s"],
        )


def case_vs_multiply(adapter, shapes, record):
    mul = adapter.multiply()
    for shape in shapes:
        rng = np.random.default_rng(2)
        x = adapter.tensor(rng.normal(size=shape).astype("float32"))
        y = adapter.tensor(rng.normal(size=shape).astype("float32"))
        ours, _, _ = make_layers(adapter, shape)
        fwd = adapter.forward(ours)
        t_mul = bench(lambda: mul(x, y), adapter.sync)
        t_ours = bench(lambda: fwd(x), adapter.sync)
        record(
            "vs_multiply",
            shape=list(shape),
            ours_forward=t_ours,
            multiply=t_mul,
            ratio=t_ours["median_s"] / t_mul["median_s"],
        )


def case_densities(adapter, shapes, record):
    for shape in shapes:
        rng = np.random.default_rng(3)
        x = adapter.tensor(rng.normal(size=shape).astype("float32"))
        g = adapter.tensor(rng.normal(size=shape).astype("float32"))
        res = {}
        for k in (1, 16):
            layer, _, _ = make_layers(adapter, shape, num_densities=k)
            fwd = adapter.forward(layer)
            fb = adapter.forward_backward(layer)
            res[k] = (
                bench(lambda: fwd(x), adapter.sync),
                bench(lambda: fb(x, g), adapter.sync),
            )
        record(
            "densities",
            shape=list(shape),
            k1_forward=res[1][0],
            k16_forward=res[16][0],
            k1_forward_backward=res[1][1],
            k16_forward_backward=res[16][1],
            ratio_forward=res[16][0]["median_s"] / res[1][0]["median_s"],
            ratio_forward_backward=res[16][1]["median_s"]
            / res[1][1]["median_s"],
        )


def case_vs_mha(adapter, lengths, width, batch, record):
    import keras

    entries = []
    for length in lengths:
        shape = (batch, length, width)
        rng = np.random.default_rng(4)
        x = adapter.tensor(rng.normal(size=shape).astype("float32"))
        daam, _, _ = make_layers(adapter, shape)
        mha = keras.layers.MultiHeadAttention(
            num_heads=8, key_dim=width // 8, seed=0
        )
        mha.build(shape, shape)
        f_daam = adapter.forward(daam)
        f_mha = adapter.forward(mha, nargs=2)
        entry = {"length": length, "shape": list(shape)}
        entry["daam_forward"] = bench(lambda: f_daam(x), adapter.sync)
        entry["mha_forward"] = bench(
            lambda: f_mha(x, x), adapter.sync, min_repeats=3, min_time=0.0
        )
        entry["ratio_mha_over_daam"] = (
            entry["mha_forward"]["median_s"] / entry["daam_forward"]["median_s"]
        )
        entries.append((entry, x, daam, mha, f_daam, f_mha))
    # Memory after all timings: on a CPU, glibc is told to serve every
    # block over 64 KiB with mmap and to give it back on free, so the peak
    # RSS reflects the live buffers of the call, not the heap's cache.
    if not adapter.gpu:
        fixed_mmap_threshold()
    for entry, x, daam, mha, f_daam, f_mha in entries:
        entry["daam_memory"] = adapter.peak_memory(f_daam, (x,))
        entry["mha_memory"] = adapter.peak_memory(f_mha, (x, x))
        if adapter.backend == "jax":
            entry["daam_xla_memory"] = jax_memory_analysis(adapter, daam, (x,))
            entry["mha_xla_memory"] = jax_memory_analysis(adapter, mha, (x, x))
        record("vs_mha", **entry)


def fixed_mmap_threshold(threshold=64 * 1024):
    """glibc `mallopt(M_MMAP_THRESHOLD)`; no-op where unavailable."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, threshold)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, threshold)  # M_TRIM_THRESHOLD
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def jax_memory_analysis(adapter, layer, args):
    jax = adapter.jax
    tv = [v.value for v in layer.trainable_variables]
    ntv = [v.value for v in layer.non_trainable_variables]

    def f(tv, ntv, *xs):
        return layer.stateless_call(tv, ntv, *xs)[0]

    try:
        mem = jax.jit(f).lower(tv, ntv, *args).compile().memory_analysis()
        return {
            "temp_bytes": int(mem.temp_size_in_bytes),
            "output_bytes": int(mem.output_size_in_bytes),
            "argument_bytes": int(mem.argument_size_in_bytes),
        }
    except Exception as e:  # noqa: BLE001 - report, never fail the run
        return {"error": repr(e)}


def tiny_bert(num_layers, hidden, seq_len, vocab=1000):
    import keras_hub

    return keras_hub.models.BertBackbone(
        vocabulary_size=vocab,
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=hidden,
        intermediate_dim=hidden * 2,
        max_sequence_length=seq_len,
        dropout=0.0,
    )


def layerwise_extractor(backbone):
    """Tap model: every transformer layer's output, masked mean-pooled.

    Prefer helper A's `LayerwiseFeatureExtractor` when present.
    """
    try:
        from keras_daam.backbones import LayerwiseFeatureExtractor

        ext = LayerwiseFeatureExtractor(backbone, layers="all", pooling="mean")
        return ext, "keras_daam.backbones.LayerwiseFeatureExtractor"
    except ImportError:
        pass
    import keras
    from keras import ops

    mask = backbone.input["padding_mask"]
    m = ops.expand_dims(ops.cast(mask, "float32"), -1)
    pooled = []
    for i in range(backbone.num_layers):
        h = backbone.get_layer(f"transformer_layer_{i}").output
        s = ops.sum(h * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)
        pooled.append(s)
    out = keras.layers.Lambda(lambda t: ops.stack(t, axis=1))(pooled)
    return keras.Model(backbone.input, out), "inline tap model"


def daam_head(num_layers, hidden, classes):
    import keras

    from keras_daam.layers import DensityAdaptiveAttention

    inp = keras.Input((num_layers, hidden), name="features")
    h = DensityAdaptiveAttention(num_heads=1, axis=1, name="attention")(inp)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(classes)(h)
    return keras.Model(inp, out)


def case_end_to_end(adapter, num_samples, record, quick=False):
    import warnings

    import keras

    warnings.filterwarnings("ignore")
    num_layers, hidden, seq_len, classes, batch = 4, 128, 64, 8, 32
    if quick:
        num_layers, hidden, seq_len = 2, 32, 16
    keras.utils.set_random_seed(0)
    backbone = tiny_bert(num_layers, hidden, seq_len)
    backbone.trainable = False
    extractor, ext_kind = layerwise_extractor(backbone)
    rng = np.random.default_rng(5)
    tokens = {
        "token_ids": rng.integers(1, 1000, (num_samples, seq_len)).astype(
            "int32"
        ),
        "segment_ids": np.zeros((num_samples, seq_len), "int32"),
        "padding_mask": np.ones((num_samples, seq_len), "bool"),
    }
    lengths = rng.integers(seq_len // 4, seq_len + 1, num_samples)
    tokens["padding_mask"] = np.arange(seq_len)[None] < lengths[:, None]
    labels = rng.integers(0, classes, num_samples)

    def predict_features():
        if hasattr(extractor, "predict_features"):
            return np.asarray(extractor.predict_features(tokens, batch))
        return extractor.predict(tokens, batch_size=batch, verbose=0)

    def predict_bare():
        return backbone.predict(tokens, batch_size=batch, verbose=0)

    t_bare = bench(predict_bare, lambda o: o, warmup=1, min_repeats=3)
    t_ext = bench(predict_features, lambda o: o, warmup=1, min_repeats=3)
    feats = predict_features()

    def compile_(model):
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    head = compile_(daam_head(num_layers, hidden, classes))

    def epoch_cached():
        head.fit(feats, labels, batch_size=batch, epochs=1, verbose=0)

    # Full model: the frozen tap model feeding a fresh head of the same form.
    tap, _ = layerwise_extractor(backbone)
    if not isinstance(tap, keras.Model):
        tap = getattr(tap, "model", None) or tap
    full_head = daam_head(num_layers, hidden, classes)
    full = compile_(keras.Model(backbone.input, full_head(tap(backbone.input))))

    def epoch_full():
        full.fit(tokens, labels, batch_size=batch, epochs=1, verbose=0)

    t_cached = bench(epoch_cached, lambda o: o, warmup=1, min_repeats=3)
    t_full = bench(epoch_full, lambda o: o, warmup=1, min_repeats=3)
    record(
        "end_to_end",
        extractor=ext_kind,
        num_samples=num_samples,
        backbone=f"BertBackbone {num_layers} layers, hidden {hidden}, "
        f"seq {seq_len}, random weights",
        bare_predict=t_bare,
        extract_features=t_ext,
        epoch_cached_features=t_cached,
        epoch_with_backbone=t_full,
        extraction_overhead=t_ext["median_s"] / t_bare["median_s"] - 1.0,
        speedup_cached_epoch=t_full["median_s"] / t_cached["median_s"],
    )


# ---------------------------------------------------------------- worker
def worker(args):
    os.environ["KERAS_BACKEND"] = args.worker
    if args.worker == "torch" or importlib.util.find_spec("torch"):
        import torch  # noqa: F401 - import torch before tensorflow

    import keras

    global QUICK
    QUICK = args.quick
    adapter = Adapter(args.worker, use_compile=args.compile)
    results = []

    def record(case, **fields):
        fields.update(
            case=case, backend=args.worker, mode=adapter.mode, gpu=adapter.gpu
        )
        results.append(fields)
        print(json.dumps(_brief(fields)), flush=True)

    shapes = QUICK_PACKAGE_SHAPES if args.quick else PACKAGE_SHAPES
    cases = set(args.cases.split(","))
    t0 = time.time()
    if "vs_package" in cases:
        case_vs_package(adapter, shapes, record)
    if "vs_multiply" in cases:
        case_vs_multiply(adapter, shapes, record)
    if "densities" in cases:
        case_densities(adapter, shapes, record)
    if "vs_mha" in cases:
        lengths = QUICK_MHA_LENGTHS if args.quick else MHA_LENGTHS
        width = 64 if args.quick else 768
        case_vs_mha(adapter, lengths, width, 1, record)
    if "end_to_end" in cases:
        case_end_to_end(
            adapter, 64 if args.quick else 1024, record, quick=args.quick
        )
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
    keys = ("case", "backend", "mode", "shape", "length")
    out = {k: fields[k] for k in keys if k in fields}
    for k, v in fields.items():
        if k.startswith(("ratio", "speedup", "extraction")):
            out[k] = round(v, 3)
    return out


def _versions(backend):
    mod = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}[backend]
    m = __import__(mod)
    return {mod: m.__version__}


# ---------------------------------------------------------------- parent
ALL_CASES = "vs_package,vs_multiply,densities,vs_mha,end_to_end"


def thread_env(threads):
    """Environment limiting every backend's CPU thread pools."""
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1:
        flags += " --xla_cpu_multi_thread_eigen=false"
    flags += f" intra_op_parallelism_threads={threads}"
    return {
        "DAAM_BENCH_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "XLA_FLAGS": flags.strip(),
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument(
        "--backends", default=None, help="comma list; default: all installed"
    )
    parser.add_argument("--cases", default=ALL_CASES)
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time torch under torch.compile (extra worker)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads per backend (0: the backends' defaults). One "
        "thread gives far steadier numbers on a loaded machine.",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
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
        proc = subprocess.run(cmd, env=env)
        if proc.returncode != 0:
            merged["workers"].append(
                {"backend": backend, "error": f"exit {proc.returncode}"}
            )
            continue
        with open(path) as f:
            data = json.load(f)
        os.unlink(path)
        merged["results"].extend(data.pop("results"))
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


def _ms(t):
    return f"{t['median_s'] * 1e3:.2f}"


def _mb(mem):
    for key in ("gpu_peak_bytes", "rss_peak_delta_bytes"):
        if mem.get(key) is not None:
            return f"{mem[key] / 2**20:.1f}"
    return "n/a"


def markdown(merged):
    rows = merged["results"]
    lines = [
        f"Run {merged['date']}: `{merged['command']}`",
        "",
        "### 1. vs the authors' package (ours / theirs; < 1 is faster)",
        "",
        "| backend | mode | shape | fwd ms ours | fwd ms theirs | fwd ratio "
        "| fwd+bwd ms ours | fwd+bwd ms theirs | fwd+bwd ratio "
        "| max abs diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["case"] == "vs_package":
            lines.append(
                f"| {r['backend']} | {r['mode']} | {r['shape']} "
                f"| {_ms(r['ours_forward'])} | {_ms(r['theirs_forward'])} "
                f"| {r['ratio_forward']:.3f} "
                f"| {_ms(r['ours_forward_backward'])} "
                f"| {_ms(r['theirs_forward_backward'])} "
                f"| {r['ratio_forward_backward']:.3f} "
                f"| {r['max_abs_diff']:.1e} |"
            )
    lines += [
        "",
        "### 2. vs one elementwise multiply (our forward / multiply)",
        "",
        "| backend | mode | shape | ours ms | multiply ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["case"] == "vs_multiply":
            lines.append(
                f"| {r['backend']} | {r['mode']} | {r['shape']} "
                f"| {_ms(r['ours_forward'])} | {_ms(r['multiply'])} "
                f"| {r['ratio']:.2f} |"
            )
    lines += [
        "",
        "### 3. 16 densities / 1 density (package formulation)",
        "",
        "| backend | mode | shape | fwd K=1 ms | fwd K=16 ms | fwd ratio "
        "| fwd+bwd K=1 ms | fwd+bwd K=16 ms | fwd+bwd ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["case"] == "densities":
            lines.append(
                f"| {r['backend']} | {r['mode']} | {r['shape']} "
                f"| {_ms(r['k1_forward'])} | {_ms(r['k16_forward'])} "
                f"| {r['ratio_forward']:.2f} "
                f"| {_ms(r['k1_forward_backward'])} "
                f"| {_ms(r['k16_forward_backward'])} "
                f"| {r['ratio_forward_backward']:.2f} |"
            )
    lines += [
        "",
        "### 4. DAAM vs MultiHeadAttention (8 heads), forward, batch 1",
        "",
        "| backend | mode | length | DAAM ms | MHA ms | MHA / DAAM "
        "| DAAM peak MiB | MHA peak MiB | XLA temp+out MiB DAAM / MHA |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["case"] == "vs_mha":
            xla = "-"
            if "daam_xla_memory" in r and "temp_bytes" in r["daam_xla_memory"]:
                d, m = r["daam_xla_memory"], r["mha_xla_memory"]
                xla = (
                    f"{(d['temp_bytes'] + d['output_bytes']) / 2**20:.1f} / "
                    f"{(m['temp_bytes'] + m['output_bytes']) / 2**20:.1f}"
                )
            lines.append(
                f"| {r['backend']} | {r['mode']} | {r['length']} "
                f"| {_ms(r['daam_forward'])} | {_ms(r['mha_forward'])} "
                f"| {r['ratio_mha_over_daam']:.1f} "
                f"| {_mb(r['daam_memory'])} | {_mb(r['mha_memory'])} | {xla} |"
            )
    growth = []
    for backend in sorted({r["backend"] + "/" + r["mode"] for r in rows}):
        mha = [
            r
            for r in rows
            if r["case"] == "vs_mha"
            and r["backend"] + "/" + r["mode"] == backend
        ]
        by_len = {r["length"]: r for r in mha}
        for lo in sorted(by_len):
            hi = lo * 4
            if hi in by_len:
                d = (
                    by_len[hi]["daam_forward"]["median_s"]
                    / by_len[lo]["daam_forward"]["median_s"]
                )
                m = (
                    by_len[hi]["mha_forward"]["median_s"]
                    / by_len[lo]["mha_forward"]["median_s"]
                )
                growth.append(
                    f"| {backend} | {lo} -> {hi} | {d:.2f} | {m:.2f} |"
                )
    if growth:
        lines += [
            "",
            "Time growth for 4x the length:",
            "",
            "| backend/mode | lengths | DAAM | MHA |",
            "|---|---|---|---|",
        ] + growth
    lines += [
        "",
        "### 5. End to end (tiny random BertBackbone, frozen)",
        "",
        "| backend | epoch cached ms | epoch with backbone ms | speed-up "
        "| bare predict ms | extraction ms | extraction overhead |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["case"] == "end_to_end":
            lines.append(
                f"| {r['backend']} | {_ms(r['epoch_cached_features'])} "
                f"| {_ms(r['epoch_with_backbone'])} "
                f"| {r['speedup_cached_epoch']:.1f}x "
                f"| {_ms(r['bare_predict'])} | {_ms(r['extract_features'])} "
                f"| {r['extraction_overhead'] * 100:+.1f}% |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
