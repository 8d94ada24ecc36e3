"""Tensors to NumPy, and batch ranges."""

import keras
import numpy as np


def to_numpy(x):
    """NumPy arrays of a tensor or a nested structure of tensors.

    Dicts, lists and tuples keep their structure; NumPy arrays pass through
    unchanged (no copy); backend tensors go through
    `keras.ops.convert_to_numpy`.
    """

    def convert(t):
        if isinstance(t, np.ndarray):
            return t
        return np.asarray(keras.ops.convert_to_numpy(t))

    return keras.tree.map_structure(convert, x)


def batch_ranges(num_items, batch_size, start=0):
    """Yields `(lo, hi)` index ranges of consecutive batches.

    >>> list(batch_ranges(5, 2))
    [(0, 2), (2, 4), (4, 5)]
    """
    for lo in range(start, num_items, batch_size):
        yield lo, min(lo + batch_size, num_items)
