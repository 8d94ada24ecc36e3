"""The Importance Factor (IF), layer contributions and layer rankings.

Everything here is NumPy (SciPy for the rank correlation) on collected
maps (see `collect_density_maps`). The first axis of a map is its "layer"
axis: the rows of the paper's Figure 2.
"""

import numpy as np


def _as_map(maps, name="maps"):
    arr = np.asarray(maps, dtype=np.float64)
    if arr.ndim < 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty array (e.g. `[L, d]`). Received "
            f"shape {arr.shape}."
        )
    if np.isinf(arr).any():
        raise ValueError(f"`{name}` contains Inf; IF is undefined.")
    return arr


def _minmax(arr, axis):
    """Min-max to [0, 1]; NaN entries ignored and kept; constant -> 0."""
    finite = np.isfinite(arr)
    if not finite.any():
        return np.full_like(arr, np.nan)
    lo = np.nanmin(arr, axis=axis, keepdims=True)
    hi = np.nanmax(arr, axis=axis, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (arr - lo) / np.where(span > 0, span, 1.0)
    return np.where(span > 0, out, np.where(np.isnan(arr), np.nan, 0.0))


def importance_factor(maps, per_layer=False):
    """The Importance Factor: Density Attention maps min-max scaled to [0, 1].

    `IF = (DA - min DA) / (max DA - min DA)` with the global min and max of
    the whole map, as the paper defines it (Ioannides et al., 2024,
    section on explainability). An IF of 1 marks the element the averaged
    DAAM gate lets through most; 0 the one it suppresses most. Because the
    scaling is global, IF values compare across layers.

    What IF does not prove: the averaged map mixes the data's statistics
    with what training learned. With the paper's parameterisation `delta`
    and `xi` barely move from their initial values (0 and 2), and an
    untrained head can rank the layers exactly as the trained one does. Use
    `compare_with_initialization` to see how much training changed, and
    `retrain_on_layers` / `importance_ablation` as the actual test of a
    layer's importance.

    Args:
        maps: array-like, a collected map, usually `[L, d]` (any rank >= 1;
            axis 0 is the layer axis). NaN entries (never observed) are
            ignored by the min and max and stay NaN.
        per_layer: bool. If `True`, scale every layer (row of axis 0)
            separately to [0, 1]: this shows the pattern over features
            within each layer, but IF then no longer compares across layers
            (every row spans [0, 1]), so layer contributions computed from
            it are not meaningful. Defaults to `False` (the paper's global
            scaling).

    Returns:
        float32 array of the same shape, in [0, 1]. A constant map (or, with
        `per_layer=True`, a constant row) has no contrast: its IF is 0
        everywhere, never NaN.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> maps = np.array([[1.0, 2.0], [3.0, 5.0]])
    >>> keras_daam.explain.importance_factor(maps)
    array([[0.  , 0.25],
           [0.5 , 1.  ]], dtype=float32)
    """
    arr = _as_map(maps)
    if per_layer:
        if arr.ndim < 2:
            raise ValueError(
                "`per_layer=True` needs a map of rank >= 2 (layers first). "
                f"Received shape {arr.shape}."
            )
        axes = tuple(range(1, arr.ndim))
        return _minmax(arr, axes).astype(np.float32)
    return _minmax(arr, None).astype(np.float32)


def layer_scores(maps_or_if):
    """Per-layer sums over every axis but the first (NaN counted as 0).

    A 1-D input is already per layer and is returned as float64.
    """
    arr = _as_map(maps_or_if, "maps_or_if")
    if arr.ndim == 1:
        return np.nan_to_num(arr, nan=0.0)
    return np.nansum(arr.reshape(arr.shape[0], -1), axis=1)


def layer_contribution(maps_or_if):
    """Each layer's percentage of the total (the paper's Figure 3).

    `contribution[l] = 100 * sum(IF[l]) / sum(IF)`. The paper computes it on
    the Importance Factor: pass `importance_factor(maps)` for that. Raw
    Density Attention maps are accepted too (the gate's own mass per
    layer, with less contrast). Do not pass a per-layer-normalised IF: its
    rows all span [0, 1] by construction.

    Args:
        maps_or_if: array `[L, ...]` of non-negative values, or per-layer
            scores `[L]`. NaN entries count as 0.

    Returns:
        float64 array `[L]` summing to 100. If every value is 0 (e.g. the IF
        of a constant map) no layer stands out and each gets `100 / L`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> if_map = np.array([[1.0, 1.0], [0.0, 2.0]])
    >>> keras_daam.explain.layer_contribution(if_map)
    array([50., 50.])
    """
    scores = layer_scores(maps_or_if)
    if (scores < 0).any() or (
        np.nanmin(np.asarray(maps_or_if, dtype=np.float64)) < 0
    ):
        raise ValueError(
            "Layer contributions need non-negative values (an IF or a DAAM "
            "gate); received negative entries. Pass "
            "`importance_factor(maps)`."
        )
    total = scores.sum()
    if total <= 0:
        return np.full(scores.shape, 100.0 / scores.shape[0])
    return 100.0 * scores / total


def _ranked(if_map, k, descending):
    scores = layer_scores(if_map)
    n = scores.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"`k` must be an integer. Received: {k!r}")
    if not 1 <= k <= n:
        raise ValueError(
            f"`k` must be between 1 and the number of layers ({n}). "
            f"Received: k={k}"
        )
    key = -scores if descending else scores
    # Stable sort: ties go to the lower layer index, deterministically.
    return np.argsort(key, kind="stable")[:k]


def top_k_layers(if_map, k):
    """Indices (0-based) of the `k` layers with the highest importance.

    Layers are ranked by their IF row sum (equivalently, their
    contribution); a 1-D input is taken as per-layer scores. Ties go to
    the lower index. Most important first.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> keras_daam.explain.top_k_layers(np.array([0.1, 0.9, 0.5]), 2)
    array([1, 2])
    """
    return _ranked(if_map, k, descending=True)


def bottom_k_layers(if_map, k):
    """Indices (0-based) of the `k` layers with the lowest importance.

    The mirror of `top_k_layers`: least important first, ties to the lower
    index.
    """
    return _ranked(if_map, k, descending=False)


def class_profiles(class_maps, per_class=False):
    """Per-class IF profile over layers, on one common scale.

    All class maps are min-max scaled together (the global min and max
    over every class), so a profile's height compares across classes; each
    profile is the mean IF of each layer.

    Args:
        class_maps: dict `{class: map [L, ...]}` (from
            `collect_class_maps`) or an array `[C, L, ...]`.
        per_class: bool. Scale each class's map separately instead (shape
            comparison only). Defaults to `False`.

    Returns:
        `(classes, profiles)`: the class keys and a float64 array `[C, L]`.
    """
    if isinstance(class_maps, dict):
        classes = list(class_maps)
        stacked = np.stack([np.asarray(class_maps[c]) for c in classes])
    else:
        stacked = np.asarray(class_maps)
        classes = list(range(stacked.shape[0]))
    if stacked.ndim < 2:
        raise ValueError(
            "Class maps must be `[C, L, ...]` or a dict of `[L, ...]` maps. "
            f"Received shape {stacked.shape}."
        )
    if per_class:
        scaled = np.stack([importance_factor(m) for m in stacked])
    else:
        scaled = importance_factor(stacked)
    flat = scaled.reshape(scaled.shape[0], scaled.shape[1], -1)
    with np.errstate(invalid="ignore"):
        profiles = np.nanmean(flat.astype(np.float64), axis=-1)
    return classes, profiles


def spearman_rank_correlation(a, b):
    """Spearman's rank correlation of two 1-D score vectors.

    The Pearson correlation of the ranks, ties given their average rank:
    `scipy.stats.spearmanr` (SciPy is imported on first use; `pip install
    scipy`). 1 means the same order, -1 the reverse.

    Args:
        a: array-like `[n]`, e.g. per-layer contributions of a trained head.
        b: array-like `[n]`, e.g. the same at initialisation.

    Returns:
        float in [-1, 1], or NaN when either input is constant (no order)
        or has fewer than 2 entries.

    Raises:
        ValueError: inputs of different lengths, or containing NaN.

    Example:

    >>> import keras_daam
    >>> keras_daam.explain.spearman_rank_correlation([1, 2, 3], [10, 30, 20])
    0.5
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(
            f"Spearman needs two vectors of the same length. Received "
            f"lengths {a.size} and {b.size}."
        )
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("Spearman inputs contain NaN.")
    if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        # No order to correlate (SciPy would warn and return NaN too).
        return float("nan")
    from scipy import stats

    rho = float(stats.spearmanr(a, b).statistic)
    return float(np.clip(rho, -1.0, 1.0))
