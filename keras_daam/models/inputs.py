"""What a classifier accepts: inputs and labels checked at the door.

In the spirit of scikit-learn's `check_array`: each error names the
argument, what it received and what is expected, and nothing is silently
coerced (a label 1.5 is not rounded, a label 3 of a 3-class model is not
clipped: on JAX an out-of-range sparse label trains on garbage without any
error).

- `input_kind` sorts inputs into raw examples (for the preprocessor),
  backbone inputs, or a dataset left to Keras.
- `check_labels` turns labels into integer class ids in
  `[0, num_classes)`, mapping class names when there are any.
"""

import numbers
import os

import numpy as np

from keras_daam.utils import to_numpy


def _some(values, k=5):
    """The first `k` values, as plain Python numbers or strings."""
    values = [v.item() if hasattr(v, "item") else v for v in values]
    shown = ", ".join(repr(v) for v in values[:k])
    return "[" + shown + (", ..." if len(values) > k else "") + "]"


def _empty(argument):
    return ValueError(
        f"`{argument}` is empty (0 examples): there is nothing to run."
    )


def describe_inputs(extractor, has_preprocessor):
    """A sentence saying what a classifier on `extractor` takes."""
    names = extractor.input_names
    raw = "" if has_preprocessor else " (needs a preprocessor)"
    if extractor.modality == "text":
        return (
            f"A text classifier takes a list of str (raw texts{raw}) or a "
            f"dict of the backbone's inputs {names}."
        )
    if extractor.modality == "image":
        return (
            "An image classifier takes image file paths or uint8 images "
            f"[n, height, width, 3]{raw}, or float backbone inputs "
            "[n, height, width, channels] (already scaled)."
        )
    return (
        "An audio classifier takes audio file paths or waveforms (a list "
        f"of 1-D arrays, or [n, samples]){raw}, or the backbone's inputs "
        f"{names} ([n, frames, mel bins])."
    )


def input_kind(x, extractor, has_preprocessor, argument="x"):
    """Sorts `x` into `("raw", items)`, `("backbone", inputs)` or
    `("dataset", x)`.

    - raw: a list of str (texts, or file paths for images and audio),
      uint8 image arrays, waveforms (a list of 1-D arrays or `[n, samples]`
      floats); they need a preprocessor.
    - backbone: a dict holding every backbone input (NumPy arrays), float
      images `[n, H, W, C]`, or `[n, frames, bins]` audio features.
    - dataset: any other iterable (a `tf.data.Dataset`, a `PyDataset`, a
      generator), passed on to Keras unchecked.

    Raises:
        ValueError: `x` is None, empty, a single string or number, a list
            of the wrong items (e.g. ints for a text model), a dict that
            lacks backbone inputs, or raw data without a preprocessor.
    """
    expected = describe_inputs(extractor, has_preprocessor)
    modality = extractor.modality

    def raw(items):
        if not has_preprocessor:
            raise ValueError(
                f"`{argument}` holds raw inputs, but this classifier has no "
                "preprocessor: pass the backbone's inputs "
                f"({extractor.input_names}), or build it with "
                "`preprocessor='auto'`."
            )
        return "raw", items

    if x is None:
        raise ValueError(f"`{argument}` is None. {expected}")
    if isinstance(x, (str, bytes, os.PathLike)):
        raise ValueError(
            f"`{argument}` is a single {type(x).__name__}; pass a list "
            f"(`[{argument}]`). {expected}"
        )
    if isinstance(x, (numbers.Number, np.generic)):
        raise ValueError(
            f"`{argument}` is of type {type(x).__name__} ({x!r}). {expected}"
        )
    if isinstance(x, dict):
        return "backbone", _backbone_dict(x, extractor, argument, expected)
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise _empty(argument)
        if all(isinstance(i, str) for i in x) or (
            modality != "text"
            and all(isinstance(i, (str, os.PathLike)) for i in x)
        ):
            return raw(list(x))
        if modality == "text":
            bad = next(i for i in x if not isinstance(i, str))
            raise ValueError(
                f"`{argument}` holds an item of type {type(bad).__name__} "
                f"({bad!r:.40}) where a text (str) was expected. {expected}"
            )
        bad = [
            type(i).__name__
            for i in x
            if isinstance(i, (str, os.PathLike, dict, numbers.Number))
            or not hasattr(i, "__len__")
        ]
        if bad:
            raise ValueError(
                f"`{argument}` mixes file paths and arrays or holds "
                f"{sorted(set(bad))}. {expected}"
            )
        if modality == "audio" and has_preprocessor:
            return raw(list(x))  # waveforms may differ in length
        try:
            stacked = np.asarray(x)
        except ValueError:
            raise ValueError(
                f"`{argument}` holds arrays of different shapes. {expected}"
            ) from None
        # Images follow the array rules: uint8 is raw, float is backbone
        # input.
        return _array(stacked, raw, extractor, has_preprocessor, argument)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        x = np.asarray(to_numpy(x))
        return _array(x, raw, extractor, has_preprocessor, argument)
    if hasattr(x, "__iter__") or hasattr(x, "__getitem__"):
        return "dataset", x
    raise ValueError(f"`{argument}` is of type {type(x).__name__}. {expected}")


def _backbone_dict(x, extractor, argument, expected):
    names = extractor.input_names
    missing = [n for n in names if n not in x]
    if missing:
        raise ValueError(
            f"`{argument}` lacks the backbone inputs {missing} (received "
            f"keys {sorted(map(str, x))}). {expected}"
        )
    arrays = {n: np.asarray(to_numpy(x[n])) for n in names}
    if any(a.ndim == 0 for a in arrays.values()):
        raise ValueError(
            f"`{argument}` holds scalars; each backbone input needs one row "
            f"per example. {expected}"
        )
    lengths = {n: len(a) for n, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"The backbone inputs in `{argument}` have different numbers of "
            f"rows: {lengths}."
        )
    if not next(iter(lengths.values())):
        raise _empty(argument)
    return arrays


def _array(x, raw, extractor, has_preprocessor, argument):
    expected = describe_inputs(extractor, has_preprocessor)
    modality = extractor.modality
    if x.ndim == 0:
        raise ValueError(f"`{argument}` is a scalar. {expected}")
    if len(x) == 0:
        raise _empty(argument)
    if x.dtype.kind in ("U", "S", "O"):
        return input_kind(x.tolist(), extractor, has_preprocessor, argument)
    if x.dtype.kind not in ("f", "i", "u", "b"):
        raise ValueError(f"`{argument}` has dtype {x.dtype}. {expected}")
    if modality == "text":
        raise ValueError(
            f"`{argument}` is a numeric array of shape {x.shape}. {expected}"
        )
    if modality == "image":
        if x.dtype == np.uint8 and x.ndim in (3, 4):
            return raw(x)
        if x.ndim == 4 and x.dtype.kind == "f":
            return "backbone", x
    elif x.dtype.kind == "f" and x.ndim == 2:
        return raw(x)
    elif x.dtype.kind == "f" and x.ndim == 3:
        return "backbone", x
    raise ValueError(
        f"`{argument}` is an array of shape {x.shape} and dtype {x.dtype}. "
        f"{expected}"
    )


def check_labels(y, num_classes, class_names=None, count=None, argument="y"):
    """Integer class ids in `[0, num_classes)`, or a ValueError.

    Args:
        y: labels: integer ids (ints, or floats with integral values), or
            class names when `class_names` is given. `[n]` or `[n, 1]`.
        num_classes: int.
        class_names: list of str, optional. Maps names to ids.
        count: int, optional. The number of examples the labels go with.
        argument: str. The name used in messages.

    Returns:
        int32 array `[n]`.

    Raises:
        ValueError: naming the bad values: ids outside the range, non-
            integer or non-finite floats, unknown names, booleans, one-hot
            or ragged labels, an empty or mismatched count.

    Example:

    >>> check_labels([0, 2, 1], 3).tolist()
    [0, 2, 1]
    >>> check_labels(["b"], 2, class_names=["a", "b"]).tolist()
    [1]
    """
    needed = (
        f"integer class ids in [0, {num_classes})"
        + (" or class names" if class_names else "")
        + ", one per example"
    )
    if y is None:
        raise ValueError(f"`{argument}` is None: training needs {needed}.")
    if isinstance(y, (str, bytes, numbers.Number)):
        raise ValueError(
            f"`{argument}` is a single {type(y).__name__}; pass {needed}."
        )
    try:
        labels = np.asarray(y if isinstance(y, (list, tuple)) else to_numpy(y))
    except ValueError:
        raise ValueError(f"`{argument}` is ragged; pass {needed}.") from None
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        hint = ""
        if labels.ndim == 2 and labels.shape[1] == num_classes:
            hint = " (one-hot labels? pass `labels.argmax(-1)`)"
        raise ValueError(
            f"`{argument}` must hold {needed}: shape [n]. Received shape "
            f"{labels.shape}{hint}."
        )
    if len(labels) == 0:
        raise ValueError(
            f"`{argument}` is empty (0 labels): there is nothing to train on."
        )
    if count is not None and len(labels) != count:
        raise ValueError(
            f"`{argument}` has {len(labels)} labels for {count} examples."
        )
    kind = labels.dtype.kind
    if kind in ("U", "S", "O"):
        labels = _ids_from_names(labels, class_names, argument, needed)
    elif kind == "b":
        raise ValueError(f"`{argument}` holds booleans; pass {needed}.")
    elif kind == "f":
        bad = ~np.isfinite(labels)
        bad |= ~bad & (labels != np.round(np.nan_to_num(labels)))
        if bad.any():
            raise ValueError(
                f"`{argument}` must hold {needed}; it holds non-integer "
                f"values {_some(np.unique(labels[bad]))}."
            )
    elif kind not in ("i", "u"):
        raise ValueError(
            f"`{argument}` has dtype {labels.dtype}; pass {needed}."
        )
    ids = labels.astype("int64")
    outside = (ids < 0) | (ids >= num_classes)
    if outside.any():
        raise ValueError(
            f"`{argument}` holds class ids outside [0, {num_classes}) for "
            f"this {num_classes}-class model: "
            f"{_some(np.unique(ids[outside]))} ({int(outside.sum())} of "
            f"{len(ids)} labels)."
        )
    return ids.astype("int32")


def _ids_from_names(labels, class_names, argument, needed):
    values = labels.tolist()
    if not all(isinstance(v, str) for v in values):
        kinds = sorted({type(v).__name__ for v in values})
        raise ValueError(f"`{argument}` mixes {kinds}; pass {needed}.")
    if class_names is None:
        raise ValueError(
            f"`{argument}` holds class names ({_some(values, 3)}), but this "
            "classifier has no `class_names`: pass integer ids, or build it "
            "with `class_names=`."
        )
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({v for v in values if v not in index})
    if unknown:
        raise ValueError(
            f"`{argument}` holds names that are not classes of this model: "
            f"{_some(unknown)}. Its classes: {list(class_names)}."
        )
    return np.asarray([index[v] for v in values], "int64")
