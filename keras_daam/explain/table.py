"""Export maps as a tidy table: one row per (class, layer, feature)."""

import csv

import numpy as np

FORMATS = ("records", "array", "pandas")


def _items(maps):
    if isinstance(maps, dict):
        return [(c, np.asarray(m, dtype=np.float64)) for c, m in maps.items()]
    return [(None, np.asarray(maps, dtype=np.float64))]


def _columns(maps, layer_labels, feature_labels):
    items = _items(maps)
    cls, lay, feat, val = [], [], [], []
    for c, m in items:
        if m.ndim == 1:
            m = m[:, None]
        if m.ndim != 2:
            raise ValueError(
                "Tables are made from 2-D maps `[L, d]` (or per-layer "
                f"values `[L]`). Received shape {m.shape}."
            )
        n_layers, n_features = m.shape
        layers = np.repeat(np.arange(n_layers), n_features)
        features = np.tile(np.arange(n_features), n_layers)
        if layer_labels is not None:
            if len(layer_labels) != n_layers:
                raise ValueError(
                    f"`layer_labels` has {len(layer_labels)} entries for "
                    f"{n_layers} layers."
                )
            layers = np.asarray(layer_labels)[layers]
        if feature_labels is not None:
            if len(feature_labels) != n_features:
                raise ValueError(
                    f"`feature_labels` has {len(feature_labels)} entries for "
                    f"{n_features} features."
                )
            features = np.asarray(feature_labels)[features]
        cls.append(np.full(layers.shape, c, dtype=object))
        lay.append(layers)
        feat.append(features)
        val.append(m.ravel())
    columns = {
        "layer": np.concatenate(lay),
        "feature": np.concatenate(feat),
        "value": np.concatenate(val),
    }
    if items[0][0] is not None:
        columns = {"class": np.concatenate(cls), **columns}
    return columns


def to_table(maps, format="records", layer_labels=None, feature_labels=None):
    """A map (or per-class maps) as a tidy table: layer, feature, value.

    Args:
        maps: array `[L, d]` (a DA map or an IF map), per-layer values
            `[L]` (feature 0 only), or a dict `{class: map}` from
            `collect_class_maps` (adds a leading `class` column).
        format: `"records"` (a list of dicts), `"array"` (a numpy
            structured array) or `"pandas"` (a `pandas.DataFrame`; needs
            pandas). Defaults to `"records"`.
        layer_labels: optional `L` labels replacing the 0-based layer
            indices.
        feature_labels: optional `d` labels replacing the feature indices.

    Returns:
        The table, one row per element, layer-major order.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> rows = keras_daam.explain.to_table(np.array([[0.0, 1.0]]))
    >>> rows[1]
    {'layer': 0, 'feature': 1, 'value': 1.0}
    """
    if format not in FORMATS:
        raise ValueError(
            f"Unknown `format`: {format!r}. Expected one of {FORMATS}."
        )
    columns = _columns(maps, layer_labels, feature_labels)
    if format == "pandas":
        try:
            import pandas
        except ImportError as e:
            raise ImportError(
                "to_table(format='pandas') needs pandas: `pip install "
                "pandas`, or use format='records' / 'array'."
            ) from e
        return pandas.DataFrame(columns)
    if format == "array":
        dtype = []
        for name, col in columns.items():
            if col.dtype == object:
                dtype.append((name, np.asarray(col.tolist()).dtype))
            else:
                dtype.append((name, col.dtype))
        out = np.empty(len(columns["value"]), dtype=dtype)
        for name, col in columns.items():
            out[name] = col.tolist() if col.dtype == object else col
        return out
    names = list(columns)
    rows = zip(*(columns[n].tolist() for n in names))
    return [dict(zip(names, row)) for row in rows]


def write_csv(maps, path, layer_labels=None, feature_labels=None):
    """Write `to_table(maps)` as CSV with a header row; returns `path`.

    Values are written with full float precision; NaN as `nan`.
    """
    columns = _columns(maps, layer_labels, feature_labels)
    names = list(columns)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        writer.writerows(zip(*(columns[n].tolist() for n in names)))
    return path
