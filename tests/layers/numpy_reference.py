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
