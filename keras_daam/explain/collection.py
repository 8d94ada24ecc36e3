"""Collect Density Attention maps from a layer or a trained head.

The Density Attention (DA) map of an input is the DAAM gate (or weights) at
every element: the layer returns it with `return_attention_scores=True`, with
the input's shape. Averaged over a dataset it shows where the attention
module lets the signal through. Collection streams: only running sums and
counts of the map's (reduced) shape are held, never the batches.
"""

import numbers

import keras
import numpy as np

from keras_daam.layers.density_attention import DensityAdaptiveAttention
from keras_daam.layers.density_block import DensityBlock
from keras_daam.layers.density_gate import DensityAdaptiveGate

DEFAULT_LAYER_NAME = "attention"


# --------------------------------------------------------------- the source
class _MapSource:
    """Turns a layer or a model into `maps(x, mask) -> [np.ndarray, ...]`.

    Each returned map has the shape of the attention layer's input, batch
    first. The maps are computed by a small functional model built on the
    first batch (inputs -> attention map), so every backend runs it
    compiled (`predict_on_batch`) rather than op by op.
    """

    def __init__(self, model_or_layer, layer_name=DEFAULT_LAYER_NAME):
        self.model = None
        self.attention_input = None
        layer = model_or_layer
        if isinstance(model_or_layer, keras.Model) and not isinstance(
            model_or_layer,
            (DensityBlock, DensityAdaptiveAttention, DensityAdaptiveGate),
        ):
            self.model = model_or_layer
            layer = self._attention_of(model_or_layer, layer_name)
        self.layer = layer
        self.kind = self._classify(layer)
        self._fn = None
        self._fn_has_mask = None

    @staticmethod
    def _classify(layer):
        if isinstance(layer, DensityAdaptiveAttention):
            return "daam"
        if isinstance(layer, DensityBlock):
            return "block"
        if isinstance(layer, DensityAdaptiveGate):
            # Its map is its own gate `[batch, time, 1]` along time (axis
            # 1), not the inner DAAM's (which sees the projected channel).
            return "gate"
        inner = getattr(layer, "density_attention", None)
        if isinstance(inner, DensityAdaptiveAttention):
            # GroupedQueryDensityAttention: its DAAM is applied first, to the
            # layer's own input, so the map is the inner layer's gate.
            return "inner"
        if (
            inner is None
            and isinstance(layer, keras.layers.Layer)
            and not layer.built
        ):
            # Sublayers may be created in `build()`: decide once built.
            return "pending"
        raise ValueError(
            "Expected a DensityAdaptiveAttention, a DensityBlock, a "
            "DensityAdaptiveGate, a layer with a `.density_attention` "
            "DensityAdaptiveAttention (such as "
            "GroupedQueryDensityAttention), or a model containing one. "
            f"Received: {layer!r} (class {type(layer).__name__}). Heads "
            "without DAAM (mha, weighted_sum, ...) have no density map."
        )

    def _attention_of(self, model, layer_name):
        try:
            layer = model.get_layer(layer_name)
        except ValueError as e:
            names = [lyr.name for lyr in model.layers]
            raise ValueError(
                f"The model has no layer named {layer_name!r}: heads from "
                "`keras_daam.heads.build_head` name their attention module "
                f"'attention'. Pass `layer_name=`. Layers: {names}"
            ) from e
        inp = layer.input
        if isinstance(inp, (list, tuple)):
            inp = inp[0]  # (features, padding_mask): the features come first
        self.attention_input = inp
        return layer

    @property
    def density(self):
        """The layer whose map is read (not a block): a
        `DensityAdaptiveAttention`, or a `DensityAdaptiveGate`."""
        if self.kind == "inner":
            return self.layer.density_attention
        return self.layer

    @property
    def axes(self):
        """Normalisation axis of each returned map."""
        if self.kind == "block":
            return [lyr.axis for lyr in self.layer.attention_layers]
        if self.kind == "gate":
            return [1]  # time
        return [self.density.axis]

    def _build(self, x, mask):
        prefix = None
        model_mask = None
        if self.model is None:
            inputs = [keras.Input(x.shape[1:], dtype="float32")]
            feature_shape = inputs[0].shape
        else:
            # Fresh inputs: the trained model's own graph is left untouched.
            fresh = {
                t.name: keras.Input(t.shape[1:], dtype=t.dtype, name=t.name)
                for t in self.model.inputs
            }
            name = self.attention_input.name
            if name in fresh:
                inputs = [fresh[name]]
            else:
                prefix = keras.Model(self.model.inputs, self.attention_input)
                inputs = list(fresh.values())
            model_mask = fresh.get("padding_mask")
            if model_mask is not None and not any(
                model_mask is t for t in inputs
            ):
                inputs.append(model_mask)
            feature_shape = self.attention_input.shape
        mask_in = model_mask
        self._model_takes_mask = model_mask is not None
        if mask is not None and mask_in is None:
            mask_in = keras.Input(mask.shape[1:], dtype="bool")
            inputs.append(mask_in)
        if self.kind == "pending":
            self.layer.build(feature_shape)
            self.kind = self._classify(self.layer)
        mask_index = None
        if mask_in is not None:
            mask_index = next(i for i, t in enumerate(inputs) if t is mask_in)
        num_model_inputs = len(self.model.inputs) if prefix else 1
        target = self.layer if self.kind == "block" else self.density
        probe = _MapProbe(target, prefix, num_model_inputs, mask_index)
        self._input_names = [t.name for t in inputs]
        self._mask_name = None if mask_in is None else mask_in.name
        # One new node (the probe) rather than a second call of the
        # attention layer in a new graph, which Keras cannot wire when the
        # call returns a different structure (scores) than in the model.
        outputs = probe(inputs)
        self._fn = keras.Model(
            inputs if len(inputs) > 1 else inputs[0], outputs
        )

    def __call__(self, x, mask):
        x = np.asarray(x, dtype=np.float32)
        if mask is not None:
            mask = np.asarray(mask).astype(bool)
        if self._fn is None or (
            self._fn_has_mask is not (mask is not None)
            and self._mask_name is None
        ):
            # (Re)build when a mask first appears: the map must use it.
            self._build(x, mask)
            self._fn_has_mask = mask is not None
        if self._mask_name is not None and mask is None:
            if self._model_takes_mask:
                raise ValueError(
                    "The model takes a 'padding_mask' input: pass "
                    "`padding_mask=` or batches of "
                    "{'features': ..., 'padding_mask': ...}."
                )
            raise ValueError(
                "Some batches have a padding mask and some do not: give "
                "every batch one (all True where nothing is padded)."
            )
        feeds = []
        for name in self._input_names:
            if name == self._mask_name:
                feeds.append(mask)
            else:
                feeds.append(x)  # every other input is the features
        maps = self._fn.predict_on_batch(feeds if len(feeds) > 1 else feeds[0])
        if not isinstance(maps, (list, tuple)):
            maps = [maps]
        return [np.asarray(m) for m in maps]


class _MapProbe(keras.layers.Layer):
    """Computes the attention map(s) of `target` inside one graph node."""

    def __init__(self, target, prefix, num_model_inputs, mask_index, **kw):
        super().__init__(**kw)
        self.target = target
        self.prefix = prefix
        self.num_model_inputs = num_model_inputs
        self.mask_index = mask_index

    def call(self, inputs):
        mask = None if self.mask_index is None else inputs[self.mask_index]
        if self.prefix is not None:
            feats = self.prefix(list(inputs[: self.num_model_inputs]))
        else:
            feats = inputs[0]
        _, maps = self.target(
            feats, padding_mask=mask, return_attention_scores=True
        )
        return list(maps) if isinstance(maps, (list, tuple)) else [maps]


# ----------------------------------------------------------------- the data
def _to_numpy(value):
    if value is None or isinstance(value, np.ndarray):
        return value
    if hasattr(value, "numpy") and not hasattr(value, "__array_interface__"):
        try:
            return np.asarray(value.numpy())
        except (TypeError, RuntimeError):
            pass
    if hasattr(value, "detach"):  # torch tensors that require grad
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)


def _split_x(x):
    """`x` may be an array or a dict with 'features' and 'padding_mask'."""
    if isinstance(x, dict):
        if "features" not in x:
            raise ValueError(
                "A dict of inputs must have a 'features' entry (and "
                f"optionally 'padding_mask'). Received keys: {sorted(x)}"
            )
        return x["features"], x.get("padding_mask")
    return x, None


def _is_array(value):
    return isinstance(value, np.ndarray) or (
        hasattr(value, "shape")
        and hasattr(value, "__getitem__")
        and not isinstance(value, (list, tuple, dict))
        and getattr(value, "ndim", 0) >= 2
    )


def _cache_mask(features, mask):
    """A cache's token mask `[N, T]` applies to unpooled `[N, L, T, d]`."""
    if mask is None:
        return None
    if features.ndim == 4 and np.ndim(mask) == 2:
        return mask[:, None, :, None]
    if np.ndim(mask) == 2 and mask.shape[1] != features.shape[1]:
        return None  # a token mask of a pooled cache: not along the layers
    return mask


def iterate_batches(data, batch_size=64, padding_mask=None, labels=None):
    """Yield `(features, padding_mask, labels)` numpy batches from `data`.

    Accepted `data`:
    - an array `[N, ...]` (numpy, memmap), sliced `batch_size` at a time,
      with `padding_mask` and `labels` arrays of the same length;
    - a dict `{"features": array, "padding_mask": array}`;
    - a feature cache (any object with `.features`, and optionally
      `.padding_mask` and `.labels`, such as
      `keras_daam.features.FeatureCache`);
    - an iterable of batches (a list, a generator, a `tf.data.Dataset`, a
      `keras.utils.PyDataset`), each `x`, `(x, y)` or `(x, y, sample_weight)`
      where `x` is an array or a dict as above. `padding_mask` and `labels`
      must then be inside the batches.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: {batch_size}")
    if hasattr(data, "features") and not isinstance(data, dict):
        features = data.features
        if padding_mask is None:
            padding_mask = _cache_mask(
                features, getattr(data, "padding_mask", None)
            )
        if labels is None:
            labels = getattr(data, "labels", None)
        data = features
    if isinstance(data, dict):
        data, inner_mask = _split_x(data)
        padding_mask = inner_mask if padding_mask is None else padding_mask
    if _is_array(data):
        n = data.shape[0]
        for name, value in (("padding_mask", padding_mask), ("labels", labels)):
            if value is not None and len(value) != n:
                raise ValueError(
                    f"`{name}` has {len(value)} rows but the data has {n}."
                )
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            yield (
                np.asarray(data[start:stop]),
                None
                if padding_mask is None
                else np.asarray(padding_mask[start:stop]),
                None if labels is None else np.asarray(labels[start:stop]),
            )
        return
    if padding_mask is not None or labels is not None:
        raise ValueError(
            "`padding_mask=` and `labels=` go with array data only; with an "
            "iterable of batches put them in each batch: "
            "({'features': x, 'padding_mask': m}, y)."
        )
    if not hasattr(data, "__iter__"):
        raise ValueError(
            "`data` must be an array, a dict of arrays, a feature cache or "
            f"an iterable of batches. Received: {type(data).__name__}"
        )
    for batch in data:
        y = None
        if isinstance(batch, (tuple, list)):
            if not 1 <= len(batch) <= 3:
                raise ValueError(
                    "A batch must be x, (x, y) or (x, y, sample_weight). "
                    f"Received a sequence of length {len(batch)}."
                )
            x = batch[0]
            y = batch[1] if len(batch) > 1 else None
        else:
            x = batch
        x, m = _split_x(x)
        yield _to_numpy(x), _to_numpy(m), _to_numpy(y)


# ------------------------------------------------------------ accumulation
def _broadcast_mask(mask, map_shape, axis):
    """Broadcast a padding mask to the map's shape the way DAAM does."""
    mask = np.asarray(mask).astype(bool)
    rank = len(map_shape)
    if mask.ndim == rank:
        return np.broadcast_to(mask, map_shape)
    if 1 <= mask.ndim < rank:
        prefix = map_shape[: mask.ndim]
        if all(m in (1, s) for m, s in zip(mask.shape, prefix)):
            mask = mask.reshape(mask.shape + (1,) * (rank - mask.ndim))
            return np.broadcast_to(mask, map_shape)
        axis = axis % rank
        if mask.ndim == 2 and mask.shape[1] == map_shape[axis]:
            shape = [1] * rank
            shape[0], shape[axis] = mask.shape
            return np.broadcast_to(mask.reshape(shape), map_shape)
    raise ValueError(
        f"The padding mask of shape {mask.shape} does not fit maps of shape "
        f"{tuple(map_shape)}: expected the input's shape, a prefix of it, or "
        f"(batch, length of axis {axis})."
    )


def _pooled(pooled_axes, rank):
    axes = (0,)
    for a in pooled_axes:
        if not isinstance(a, numbers.Integral) or not -rank < a < rank:
            raise ValueError(
                f"`pooled_axes` entries must be non-batch axes of the map "
                f"(rank {rank}). Received: {tuple(pooled_axes)}"
            )
        a = int(a) % rank
        if a == 0:
            raise ValueError("`pooled_axes` may not contain the batch axis 0.")
        axes += (a,)
    return tuple(sorted(set(axes)))


class _Accumulator:
    """Streaming masked sums and counts, optionally grouped by label."""

    def __init__(self, pooled_axes):
        self.pooled_axes = pooled_axes
        self.sums = {}
        self.counts = {}
        self.axes = None

    def update(self, maps, mask, groups, map_axes):
        for i, m in enumerate(maps):
            m = m.astype(np.float64)
            if self.axes is None:
                self.axes = _pooled(self.pooled_axes, m.ndim)
            if mask is None:
                w = np.ones(m.shape, dtype=np.float64)
            else:
                w = _broadcast_mask(mask, m.shape, map_axes[i]).astype(
                    np.float64
                )
            if groups is None:
                self._add((None, i), m, w)
                continue
            for g in np.unique(groups):
                rows = groups == g
                self._add((_plain(g), i), m[rows], w[rows])

    def _add(self, key, m, w):
        # `where`, not a product: a padded element may hold anything.
        s = np.where(w > 0, m, 0.0).sum(axis=self.axes)
        c = w.sum(axis=self.axes)
        if key in self.sums:
            self.sums[key] += s
            self.counts[key] += c
        else:
            self.sums[key], self.counts[key] = s, c

    def mean(self, key):
        s, c = self.sums[key], self.counts[key]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = s / c
        return np.where(c > 0, out, np.nan)


def _plain(label):
    return label.item() if isinstance(label, np.generic) else label


def _labels_of(y):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=-1)  # one-hot
    return y.reshape(len(y))


def _finish(source, acc, key_group):
    n_maps = 1 + max(i for _, i in acc.sums)
    maps = [acc.mean((key_group, i)) for i in range(n_maps)]
    if source.kind == "block":
        return np.stack(maps).astype(np.float32)
    return maps[0].astype(np.float32)


def _run(
    model_or_layer,
    data,
    batch_size,
    padding_mask,
    labels,
    pooled_axes,
    layer_name,
    by_class,
):
    source = _MapSource(model_or_layer, layer_name=layer_name)
    acc = _Accumulator(tuple(pooled_axes))
    seen = False
    for x, mask, y in iterate_batches(
        data, batch_size=batch_size, padding_mask=padding_mask, labels=labels
    ):
        if len(x) == 0:
            continue
        groups = None
        if by_class:
            if y is None:
                raise ValueError(
                    "Per-class collection needs labels: pass `labels=` with "
                    "array data or (x, y) batches."
                )
            groups = _labels_of(y)
        maps = source(x, mask)
        acc.update(maps, mask, groups, source.axes)
        seen = True
    if not seen:
        raise ValueError("`data` yielded no samples.")
    return source, acc


def collect_density_maps(
    model_or_layer,
    data,
    batch_size=64,
    padding_mask=None,
    labels=None,
    pooled_axes=(),
    layer_name=DEFAULT_LAYER_NAME,
):
    """Average the Density Attention map of a layer or head over a dataset.

    The map is the DAAM gate (formulations `"paper"`, `"jepa"`) or weights
    (`"package"`, `"mixture"`) at every input element; for a
    `DensityAdaptiveGate` it is its gate along time, `[batch, time, 1]`
    (one value per step, shared by the channels). It is averaged over
    the batch (and any `pooled_axes`) with padded elements excluded: the
    mean at an element divides by the number of samples where it is real,
    not by the batch size. Heads are contiguous groups of the layer's axis,
    so the result is already in the input's layout: `[L, d]` for stacked
    hidden states `[batch, L, d]`. Only running sums and counts are kept,
    so the data may be larger than memory (a memmap, a generator).

    Averaged maps describe the data as much as the learning: with the
    paper's parameterisation the offset `delta` and scale `xi` barely move
    during training, so an untrained head often ranks layers the same way.
    Compare with `compare_with_initialization`, and test importance with
    `retrain_on_layers`.

    Args:
        model_or_layer: a `DensityAdaptiveAttention`, a `DensityBlock`, a
            `DensityAdaptiveGate`, a `GroupedQueryDensityAttention` (its
            inner `.density_attention` map, the DAAM applied to the layer's
            input), or a
            `keras.Model` with such a layer named `layer_name` (heads from
            `keras_daam.heads.build_head`). For a model, the layer's input
            is computed from the model's inputs first.
        data: features `[N, ...]` as an array, a dict
            `{"features": ..., "padding_mask": ...}`, a feature cache
            (`.features`, `.padding_mask`, `.labels`) or an iterable of
            batches `x`, `(x, y)` or `(x, y, sample_weight)`.
        batch_size: int. Rows per step for array data. Defaults to 64.
        padding_mask: optional boolean array, `True` for real elements,
            with array data: `[N, L]` over the layer axis, the input's
            shape, or any shape the layer accepts.
        labels: optional labels with array data (unused here; accepted so
            the same arguments work for `collect_class_maps`).
        pooled_axes: tuple of ints. Axes of the map (batch is 0) averaged
            away besides the batch, e.g. `(2,)` for unpooled hidden states
            `[batch, L, T, d]` attended along the layer axis. Defaults to
            `()`.
        layer_name: str. Name of the attention layer in a model. Defaults
            to `"attention"`.

    Returns:
        float32 array: the mean map, of the layer input's shape without
        the batch and pooled axes (`[L, d]` for a head; `[T, 1]` for a
        `DensityAdaptiveGate` over `[batch, T, channels]`). For a
        `DensityBlock`, an array `[num_block_layers, ...]`, one map per
        DAAM layer of the block. Elements never real in any sample are
        NaN.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> layer = keras_daam.layers.DensityAdaptiveAttention(num_heads=2)
    >>> x = np.random.normal(size=(32, 6, 16)).astype("float32")
    >>> maps = keras_daam.explain.collect_density_maps(layer, x)
    >>> maps.shape
    (6, 16)
    """
    source, acc = _run(
        model_or_layer,
        data,
        batch_size,
        padding_mask,
        labels,
        pooled_axes,
        layer_name,
        by_class=False,
    )
    return _finish(source, acc, None)


def collect_class_maps(
    model_or_layer,
    data,
    batch_size=64,
    padding_mask=None,
    labels=None,
    pooled_axes=(),
    layer_name=DEFAULT_LAYER_NAME,
):
    """Average Density Attention maps separately for every class.

    Same as `collect_density_maps`, grouped by label in one streaming pass.
    Labels come from `labels=` (array data), the cache's `.labels`, or the
    `y` of `(x, y)` batches; one-hot labels are turned into class ids.

    Returns:
        dict `{class_id: map}`, sorted by class id, each map as returned by
        `collect_density_maps`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> layer = keras_daam.layers.DensityAdaptiveAttention()
    >>> x = np.random.normal(size=(20, 6, 8)).astype("float32")
    >>> y = np.arange(20) % 2
    >>> maps = keras_daam.explain.collect_class_maps(layer, x, labels=y)
    >>> sorted(maps), maps[0].shape
    ([0, 1], (6, 8))
    """
    source, acc = _run(
        model_or_layer,
        data,
        batch_size,
        padding_mask,
        labels,
        pooled_axes,
        layer_name,
        by_class=True,
    )
    classes = sorted({g for g, _ in acc.sums})
    return {g: _finish(source, acc, g) for g in classes}


def density_layer(model_or_layer, layer_name=DEFAULT_LAYER_NAME):
    """Return the attention layer whose maps are collected.

    For a model, the layer named `layer_name`; for a layer, itself.
    """
    return _MapSource(model_or_layer, layer_name=layer_name).layer
