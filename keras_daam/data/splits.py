"""Seeded splits: stratified by class for user data, by size for loaders."""

import math
from collections import Counter

import numpy as np

from keras_daam.utils import check_float
from keras_daam.utils import check_int


def _too_small(name, count, needed, parts):
    return ValueError(
        f"Class {name!r} has {count} example{'s' * (count != 1)}: a "
        f"stratified split into {parts} needs at least {needed} examples of "
        "every class (one in each part). Add examples of that class, drop "
        "it, or split without the missing part."
    )


def stratified_split(labels, val_fraction, test_fraction=0.0, seed=0):
    """Splits indices into train / validation / test, per class.

    Each class is divided in the same proportions (scikit-learn's
    `train_test_split(stratify=...)`: the test part is taken first, then
    the validation part from the rest). Part sizes follow scikit-learn:
    `ceil(fraction * n)` examples each, the remainder for training. The
    split is the same for the same labels and seed.

    Args:
        labels: sequence of labels (names or ids), one per example.
        val_fraction: float in (0, 1). Share of the examples for
            validation.
        test_fraction: float in [0, 1). Share for testing; `0` gives an
            empty test part. Defaults to `0.0`.
        seed: int >= 0. Seed of the shuffle. Defaults to `0`.

    Returns:
        `(train_idx, val_idx, test_idx)`: sorted int64 index arrays, disjoint,
        together covering every example.

    Example:

    >>> labels = ["a"] * 10 + ["b"] * 10
    >>> train, val, test = stratified_split(labels, 0.2, 0.2)
    >>> len(train), len(val), len(test)
    (12, 4, 4)
    """
    val_fraction = check_float(
        "val_fraction",
        val_fraction,
        0.0,
        1.0,
        include_minimum=False,
        include_maximum=False,
    )
    test_fraction = check_float(
        "test_fraction", test_fraction, 0.0, 1.0, include_maximum=False
    )
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "`val_fraction` + `test_fraction` must be < 1 so that examples "
            f"are left for training. Received: val_fraction={val_fraction:g}"
            f", test_fraction={test_fraction:g}"
        )
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    labels = np.asarray([str(label) for label in labels])
    num = len(labels)
    counts = Counter(labels.tolist())
    num_classes = len(counts)
    parts = (
        "train, validation and test"
        if test_fraction
        else ("train and validation")
    )
    needed = 3 if test_fraction else 2
    if num == 0:
        raise ValueError("Cannot split an empty dataset.")
    for name, count in sorted(counts.items(), key=lambda kv: kv[1]):
        if count < needed:
            raise _too_small(name, count, needed, parts)
    num_test = math.ceil(test_fraction * num) if test_fraction else 0
    num_val = math.ceil(val_fraction * num)
    sizes = {
        ("validation", "val_fraction", val_fraction): num_val,
        ("training", None, None): num - num_test - num_val,
    }
    if test_fraction:
        sizes[("test", "test_fraction", test_fraction)] = num_test
    for (part, arg, value), size in sizes.items():
        if size < num_classes:
            given = f" ({arg}={value:g})" if arg else ""
            raise ValueError(
                f"The {part} part would hold {size} of the {num} examples"
                f"{given}, fewer than the {num_classes} classes: a "
                "stratified split needs one example of every class in each "
                "part. Use more data or a larger fraction."
            )
    index = np.arange(num)
    test_idx = np.zeros(0, np.int64)
    rest = index
    if num_test:
        rest, test_idx = _sklearn_split(index, labels, num_test, seed, counts)
        left = Counter(labels[rest].tolist())
        for name, count in sorted(counts.items(), key=lambda kv: kv[1]):
            if left.get(name, 0) < 2:
                raise ValueError(
                    f"Class {name!r} has {count} examples, and after the "
                    f"test part took its share {left.get(name, 0)} is left "
                    "for training and validation (at least 2 are needed). "
                    "Add examples of that class, drop it, or use a smaller "
                    "`test_fraction`."
                )
    train_idx, val_idx = _sklearn_split(rest, labels, num_val, seed, counts)
    return tuple(
        np.sort(np.asarray(idx, np.int64))
        for idx in (train_idx, val_idx, test_idx)
    )


def _sklearn_split(index, labels, size, seed, counts):
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(
            index, test_size=size, random_state=seed, stratify=labels[index]
        )
    except ValueError as e:
        # Checked up front; this is a safety net that keeps the context.
        sizes = ", ".join(f"{n!r} {c}" for n, c in sorted(counts.items()))
        raise ValueError(
            f"Cannot split {len(index)} examples into parts of {size} and "
            f"{len(index) - size} by class (class sizes: {sizes}). "
            f"scikit-learn says: {e}"
        ) from e


def check_sizes(num_train, num_val, num_test):
    """Checks that split sizes are non-negative integers.

    Args:
        num_train: int. Number of training examples.
        num_val: int. Number of validation examples.
        num_test: int. Number of test examples.

    Returns:
        `(num_train, num_val, num_test)` as ints.

    Example:

    >>> check_sizes(100, 20, 30)
    (100, 20, 30)
    """
    return tuple(
        check_int(name, value, minimum=0)
        for name, value in (
            ("num_train", num_train),
            ("num_val", num_val),
            ("num_test", num_test),
        )
    )


def split_indices(num_available, sizes, seed, what="examples"):
    """Draws disjoint random index sets of the given sizes.

    One seeded permutation of `range(num_available)` is cut into
    consecutive pieces, so the sets never overlap and the same seed always
    gives the same sets. Used by the packaged-data loaders, whose sizes are
    counts rather than fractions.

    Args:
        num_available: int. How many examples there are.
        sizes: sequence of ints. The size of each set.
        seed: int. Seed of the permutation.
        what: str. What the examples are, for the error message. Defaults
            to `"examples"`.

    Returns:
        list of int64 index arrays, one per size, in the permutation's
        (random) order.

    Example:

    >>> [len(s) for s in split_indices(10, (6, 2, 2), seed=0)]
    [6, 2, 2]
    """
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
