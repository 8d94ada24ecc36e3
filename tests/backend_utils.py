"""Backend-specific helpers for tests (the package itself uses keras.ops)."""

import numpy as np
from keras import backend
from keras import ops

OTHER_BACKEND = {"tensorflow": "jax", "jax": "torch", "torch": "tensorflow"}


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def input_and_weight_grads(layer, x, cotangent, **call_kwargs):
    """Gradients of sum(layer(x) * cotangent) w.r.t. x and the weights.

    Returns (outputs, dx, [d weight for weight in layer.trainable_weights]).
    """
    name = backend.backend()
    weights = layer.trainable_weights
    if name == "jax":
        import jax

        def loss(x, values):
            out, _ = layer.stateless_call(values, [], x, **call_kwargs)
            return ops.sum(out * cotangent), out

        values = [w.value for w in weights]
        (_, out), (dx, dw) = jax.value_and_grad(
            loss, argnums=(0, 1), has_aux=True
        )(ops.convert_to_tensor(x), values)
        return to_numpy(out), to_numpy(dx), [to_numpy(g) for g in dw]
    if name == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, **call_kwargs)
            loss = tf.reduce_sum(out * cotangent)
        grads = tape.gradient(loss, [x] + [w.value for w in weights])
        return (
            to_numpy(out),
            to_numpy(grads[0]),
            [to_numpy(g) for g in grads[1:]],
        )
    if name == "torch":
        import torch

        x = torch.tensor(np.asarray(x), requires_grad=True)
        for w in weights:
            w.value.grad = None
        out = layer(x, **call_kwargs)
        loss = (out * torch.as_tensor(cotangent)).sum()
        grads = torch.autograd.grad(loss, [x] + [w.value for w in weights])
        return (
            out.detach().cpu().numpy(),
            grads[0].cpu().numpy(),
            [g.cpu().numpy() for g in grads[1:]],
        )
    raise NotImplementedError(name)
