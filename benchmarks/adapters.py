"""Per-backend compilation, gradients, synchronisation and peak memory.

One `Adapter` per worker process (Keras fixes its backend at import time):
JAX runs under `jax.jit`, TensorFlow under `tf.function(jit_compile=True)`,
PyTorch eagerly or, with `use_compile`, under `torch.compile`. The cases
ask the adapter for compiled functions and never branch on the backend
themselves.

Threads: `run.py --threads N` passes `DAAM_BENCH_THREADS=N` (with the
environment of `run.thread_env`); the adapter applies it to PyTorch (every
worker may run the authors' PyTorch module or the Hugging Face anchor) and
to TensorFlow's pools on the TensorFlow backend.
"""

import importlib.util
import os

from timing import rss_peak_delta


def bench_threads():
    """The `--threads` setting of this worker (0: backend defaults)."""
    return int(os.environ.get("DAAM_BENCH_THREADS", "0"))


class Adapter:
    """Backend-specific compilation, gradients and synchronisation.

    Attributes:
        backend: `"jax"`, `"tensorflow"` or `"torch"`.
        mode: `"jit"`, `"xla"`, `"eager"` or `"compile"` (the results'
            `mode` column).
        gpu: bool. Whether the backend runs on a GPU.
        use_compile: bool. PyTorch under `torch.compile`.
    """

    def __init__(self, backend, use_compile=False):
        self.backend = backend
        self.use_compile = use_compile
        threads = bench_threads()
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
        """Peak memory of one call (see `run.py`'s docstring)."""
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

    def xla_memory(self, layer, args):
        """XLA's compiled memory analysis of the forward (JAX only).

        Exact for the compiled program (temporaries + outputs); `None` on
        the other backends.
        """
        if self.backend != "jax":
            return None
        jax = self.jax
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


def torch_vjp(torch, module, params, compile_=False):
    """`f(x, g)`: the VJP of a PyTorch module w.r.t. x and `params`."""

    def f(x, g):
        x = x.detach().requires_grad_(True)
        y = module(x)
        return torch.autograd.grad(y, [x] + list(params), g)

    return torch.compile(f) if compile_ else f
