"""Seeded, disjoint splits shared by the loaders."""

import numpy as np


def check_sizes(num_train, num_val, num_test):
    for name, value in (
        ("num_train", num_train),
        ("num_val", num_val),
        ("num_test", num_test),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"`{name}` must be an int. Received: {value!r}")
        if value < 0:
            raise ValueError(f"`{name}` must be >= 0. Received: {value}")


def split_indices(num_available, sizes, seed, what="examples"):
    """Draws disjoint random index sets of the given sizes."""
    total = sum(sizes)
    if total > num_available:
        raise ValueError(
            f"Requested {total} {what} ({' + '.join(map(str, sizes))}) but "
            f"only {num_available} are available."
        )
    order = np.random.default_rng(seed).permutation(num_available)
    out, start = [], 0
    for size in sizes:
        out.append(order[start : start + size])
        start += size
    return out
