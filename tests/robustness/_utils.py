"""Backend-specific helpers of the robustness tests (never in the package)."""

import numpy as np
from keras import backend
from keras import ops

# Elementwise tolerance of a value computed in float32 and cast to dtype.
RTOL = {"float16": 2e-3, "bfloat16": 1.6e-2, "float32": 1e-5, "float64": 1e-9}


def to_numpy(x):
    """Any backend tensor (any float dtype) -> float64 NumPy array."""
    if backend.standardize_dtype(x.dtype) != "float64":
        x = ops.cast(x, "float32")  # NumPy has no bfloat16
    return np.asarray(ops.convert_to_numpy(x)).astype("float64")


def grads(layer, x, cotangent, **call_kwargs):
    """Gradients of `sum(layer(x) * cotangent)` w.r.t. `x` and the weights.

    Returns `(dx, [dw, ...])` as float64 NumPy arrays.
    """
    name = backend.backend()
    if not layer.built:
        layer.build(tuple(x.shape))
    weights = layer.trainable_weights
    if name == "jax":
        import jax

        mask = call_kwargs.pop("padding_mask", None)
        key = ("grads", tuple(sorted(call_kwargs.items())))
        cache = layer.__dict__.setdefault("_robustness_jit", {})
        if key not in cache:

            def loss(x, values, cotangent, mask):
                out, _ = layer.stateless_call(
                    values, [], x, padding_mask=mask, **call_kwargs
                )
                return ops.sum(ops.cast(out, "float32") * cotangent)

            cache[key] = jax.jit(jax.grad(loss, argnums=(0, 1)))
        values = [w.value for w in weights]
        dx, dw = cache[key](
            ops.convert_to_tensor(x),
            values,
            ops.convert_to_tensor(cotangent),
            mask,
        )
    elif name == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, **call_kwargs)
            loss = tf.reduce_sum(tf.cast(out, "float32") * cotangent)
        dx, *dw = tape.gradient(loss, [x] + [w.value for w in weights])
    elif name == "torch":
        import torch

        x = ops.convert_to_tensor(x).detach().requires_grad_(True)
        out = layer(x, **call_kwargs)
        loss = torch.sum(out.float() * ops.convert_to_tensor(cotangent))
        dx, *dw = torch.autograd.grad(
            loss, [x] + [w.value for w in weights], allow_unused=True
        )
    else:  # pragma: no cover
        raise NotImplementedError(name)
    return to_numpy(dx), [
        np.zeros(w.shape) if g is None else to_numpy(g)
        for g, w in zip(dw, weights)
    ]


def float_dtypes():
    """The float dtypes this backend really computes in.

    JAX runs float64 as float32 unless `jax_enable_x64` is set, so float64
    is only tested there when it is.
    """
    dtypes = ["float16", "bfloat16", "float32", "float64"]
    if backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            dtypes.remove("float64")
    return tuple(dtypes)


def apply(layer, x, **call_kwargs):
    """`layer(x, **call_kwargs)`; compiled as one function on JAX.

    JAX compiles every op for every new shape when run eagerly, which costs
    seconds per hypothesis example; one `jit` of the whole call, cached per
    layer and call options, costs one compilation per input shape.
    """
    if backend.backend() != "jax":
        return layer(x, **call_kwargs)
    import jax

    x = ops.convert_to_tensor(x)
    if not layer.built:
        layer.build(x.shape)
    mask = call_kwargs.pop("padding_mask", None)
    key = ("apply", tuple(sorted(call_kwargs.items())))
    cache = layer.__dict__.setdefault("_robustness_jit", {})
    if key not in cache:

        def run(values, x, mask):
            out, _ = layer.stateless_call(
                values, [], x, padding_mask=mask, **call_kwargs
            )
            return out

        cache[key] = jax.jit(run)
    values = [w.value for w in layer.trainable_weights]
    return cache[key](values, x, mask)
