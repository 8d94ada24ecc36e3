"""Plain NumPy transcriptions of SPEC section 2, used as test oracles.

Written to be obviously right, not fast: explicit loops over heads and
densities, float64 throughout.
"""

import numpy as np


def _heads(x, axis, num_heads):
    return np.split(x, num_heads, axis=axis)


def paper_daam(x, delta, xi, num_heads, axis=1):
    """SPEC 2.1 (Algorithm 1) for x [B, L, d], delta/xi [H, d].

    mu = mean_a(x); var = |mean_a(x^2) - mu^2| + 1e-8;
    z = (x - (mu + delta)) / sqrt(var + 1e-5); G = exp(-z^2 / (2 xi)).
    """
    x = np.asarray(x, np.float64)
    outs, gates = [], []
    for h, chunk in enumerate(_heads(x, axis, num_heads)):
        mu = chunk.mean(axis=axis, keepdims=True)
        var = np.abs((chunk**2).mean(axis=axis, keepdims=True) - mu**2) + 1e-8
        z = (chunk - (mu + delta[h])) / np.sqrt(var + 1e-5)
        gate = np.exp(-(z**2) / (2.0 * xi[h]))
        outs.append(chunk * gate)
        gates.append(gate)
    return np.concatenate(outs, axis), np.concatenate(gates, axis)


def package_daam(x, offsets, scales, num_heads, axis=1, eps=1e-8):
    """SPEC 2.2 for scalar parameters offsets/scales [H, K], no underflow.

    The product of K Gaussians, normalised along the axis, computed
    literally (in log space only to keep the oracle itself exact).
    """
    x = np.asarray(x, np.float64)
    outs, weights = [], []
    for h, chunk in enumerate(_heads(x, axis, num_heads)):
        mu = chunk.mean(axis=axis, keepdims=True)
        var = chunk.var(axis=axis, ddof=1, keepdims=True) + eps
        log_m = 0.0
        for m, c in zip(offsets[h], scales[h]):
            y = (chunk - mu - m) / np.sqrt(var)
            log_m = log_m - y**2 / (2 * c**2) - 0.5 * np.log(2 * np.pi * c**2)
        log_m = log_m - log_m.max(axis=axis, keepdims=True)
        w = np.exp(log_m)
        w = w / w.sum(axis=axis, keepdims=True)
        outs.append(chunk * w)
        weights.append(w)
    return np.concatenate(outs, axis), np.concatenate(weights, axis)


def mixture_daam(
    x, offsets, raw_scales, logits, num_heads, axis=1, eps=1e-5, normalize=True
):
    """SPEC 2.3 for scalar parameters [H, K]: sum_k pi_k N(z; m_k, s_k)."""
    x = np.asarray(x, np.float64)
    outs, weights = [], []
    for h, chunk in enumerate(_heads(x, axis, num_heads)):
        mu = chunk.mean(axis=axis, keepdims=True)
        var = chunk.var(axis=axis, keepdims=True) + eps
        z = (chunk - mu) / np.sqrt(var)
        s = np.log1p(np.exp(raw_scales[h])) + 1e-2
        pi = np.exp(logits[h]) / np.exp(logits[h]).sum()
        dens = 0.0
        for k in range(len(pi)):
            kern = np.exp(-((z - offsets[h][k]) ** 2) / (2 * s[k] ** 2))
            dens = dens + pi[k] * (kern / s[k] if normalize else kern)
        if normalize:
            dens = dens / dens.sum(axis=axis, keepdims=True)
        outs.append(chunk * dens)
        weights.append(dens)
    return np.concatenate(outs, axis), np.concatenate(weights, axis)


def jepa_daam(
    x,
    offsets,
    raw_scales,
    num_heads,
    axis=1,
    feature_axis=None,
    padding_mask=None,
    var_floor=1e-6,
    normalize=False,
):
    """SPEC 2.4 (Density-Adaptive JEPA) for offsets/raw_scales [H, K] (or
    [H, K, F] with F along `feature_axis`).

    mu = mean_a(x); var = max(population var_a(x), 1e-6); std = sqrt(var);
    sigma_k = softplus(raw_k) + 1e-3;
    z_k = (x - (mu + m_k)) / (std * sigma_k + 1e-8);
    log N_k = -z_k^2 / 2 - log(sigma_k) - log(sqrt(2 pi));
    G = exp(logsumexp_k(log N_k) - log K); output x * G.
    `padding_mask` (boolean, broadcastable to x): padded elements are left
    out of mu and var, and get G = 0. `normalize=True`: G / sum_a(G) over
    the real elements of each head (a softmax of log G).
    """
    x = np.asarray(x, np.float64)
    offsets = np.asarray(offsets, np.float64)
    raw_scales = np.asarray(raw_scales, np.float64)
    mask = np.ones(x.shape, bool)
    if padding_mask is not None:
        mask = np.broadcast_to(np.asarray(padding_mask, bool), x.shape)

    def param(p):  # a scalar, or a vector along the feature axis
        if p.ndim == 0:
            return p
        shape = [1] * x.ndim
        shape[feature_axis] = p.shape[0]
        return p.reshape(shape)

    outs, gates = [], []
    for h, (chunk, m) in enumerate(
        zip(_heads(x, axis, num_heads), _heads(mask, axis, num_heads))
    ):
        count = np.maximum(m.sum(axis=axis, keepdims=True), 1)
        mu = np.where(m, chunk, 0).sum(axis=axis, keepdims=True) / count
        dev = np.where(m, chunk - mu, 0)
        var = (dev**2).sum(axis=axis, keepdims=True) / count
        var = np.maximum(var, var_floor)
        std = np.sqrt(var)
        log_terms = []
        for k in range(offsets.shape[1]):
            sigma = np.log1p(np.exp(param(raw_scales[h, k]))) + 1e-3
            z = (chunk - (mu + param(offsets[h, k]))) / (std * sigma + 1e-8)
            log_terms.append(
                -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
            )
        log_terms = np.stack(np.broadcast_arrays(*log_terms), axis=-1)
        top = log_terms.max(axis=-1)
        lse = top + np.log(np.exp(log_terms - top[..., None]).sum(axis=-1))
        log_gate = lse - np.log(offsets.shape[1])
        if normalize:  # a softmax of log G: exact where G itself underflows
            log_gate = np.where(m, log_gate, -np.inf)
            top = log_gate.max(axis=axis, keepdims=True)
            gate = np.exp(log_gate - np.where(np.isfinite(top), top, 0.0))
            total = gate.sum(axis=axis, keepdims=True)
            gate = gate / np.where(total > 0, total, 1.0)
        else:
            gate = np.where(m, np.exp(log_gate), 0.0)
        outs.append(np.where(m, chunk * gate, 0.0))
        gates.append(gate)
    return np.concatenate(outs, axis), np.concatenate(gates, axis)
