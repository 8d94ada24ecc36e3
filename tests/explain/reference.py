"""A numpy reference of the paper's DAAM gate, for known-answer tests."""

import numpy as np
from keras import ops

EPSILON = 1e-5 + 1e-8  # the "paper" formulation's default


def weights_of(layer):
    """`(delta, xi)` of a built paper-formulation DAAM, K=1 squeezed."""
    delta = np.asarray(ops.convert_to_numpy(layer.mean_offset))[:, 0]
    xi = np.asarray(ops.convert_to_numpy(layer.scale))[:, 0]
    return delta, xi


def paper_gate(x, num_heads, delta, xi, mask=None, axis=1):
    """Gate `exp(-(x - mu - delta)^2 / (2 xi var))` per head along `axis`.

    `delta`, `xi`: `[H]` (scalars per head) or `[H, d]` (per feature of the
    last axis, with `axis=1` on `[B, L, d]`). `mask`: `[B, n]` along
    `axis`, True = real; padded elements are excluded from the statistics
    and get a gate of 0.
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 1)
    b, n = x.shape[:2]
    rest = x.shape[2:]
    h = num_heads
    xs = x.reshape(b, h, n // h, *rest)
    if mask is None:
        m = np.ones((b, n), dtype=np.float64)
    else:
        m = np.asarray(mask, dtype=np.float64)
    m = m.reshape(b, h, n // h, *([1] * len(rest)))
    cnt = np.maximum(m.sum(axis=2, keepdims=True), 1.0)
    mu = (xs * m).sum(axis=2, keepdims=True) / cnt
    var = (((xs - mu) * m) ** 2).sum(axis=2, keepdims=True) / cnt + EPSILON
    delta = np.asarray(delta, dtype=np.float64)
    xi = np.asarray(xi, dtype=np.float64)
    if delta.ndim == 2:  # per feature of the last axis
        shape = (1, h, 1) + (1,) * (len(rest) - 1) + (rest[-1],)
    else:
        shape = (1, h, 1) + (1,) * len(rest)
    delta = delta.reshape(shape)
    xi = xi.reshape(shape)
    z2 = (xs - mu - delta) ** 2 / var
    gate = np.exp(-z2 / (2.0 * xi)) * m
    return np.moveaxis(gate.reshape(b, n, *rest), 1, axis)
