"""Tests of the splits: stratified for user data, sized for loaders."""

from collections import Counter

import numpy as np
import pytest

from keras_daam.data import check_sizes
from keras_daam.data import split_indices
from keras_daam.data import stratified_split

# Readers and loaders only: no Keras backend runs here.
pytestmark = pytest.mark.backend_independent

LABELS = ["a"] * 50 + ["b"] * 30 + ["c"] * 20


def test_three_way_split_keeps_class_proportions():
    train, val, test = stratified_split(LABELS, 0.2, 0.1, seed=3)
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    everything = np.concatenate([train, val, test])
    assert sorted(everything.tolist()) == list(range(100))
    for part, share in ((train, 0.7), (val, 0.2), (test, 0.1)):
        counts = Counter(LABELS[i] for i in part)
        for name, total in (("a", 50), ("b", 30), ("c", 20)):
            assert abs(counts[name] - share * total) <= 1, (part, name)
        assert part.dtype == np.int64
        assert np.all(np.diff(part) > 0)  # sorted, no repeats


def test_two_way_split_and_empty_test():
    train, val, test = stratified_split(LABELS, 0.25)
    assert (len(train), len(val), len(test)) == (75, 25, 0)
    counts = Counter(LABELS[i] for i in val)
    for name, total in (("a", 50), ("b", 30), ("c", 20)):
        assert abs(counts[name] - 0.25 * total) <= 1
    assert test.dtype == np.int64


def test_deterministic_for_a_seed():
    first = stratified_split(LABELS, 0.2, 0.2, seed=7)
    again = stratified_split(LABELS, 0.2, 0.2, seed=7)
    other = stratified_split(LABELS, 0.2, 0.2, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize(
    "val, test, match",
    [
        (0.0, 0.0, "`val_fraction` must be > 0"),
        (1.0, 0.0, "`val_fraction` must be < 1"),
        (0.2, -0.1, "`test_fraction` must be >= 0"),
        (0.2, 1.0, "`test_fraction` must be < 1"),
        (0.6, 0.4, "val_fraction=0.6, test_fraction=0.4"),
        ("0.2", 0.0, "`val_fraction` must be a number"),
    ],
)
def test_fraction_errors_name_argument_and_value(val, test, match):
    with pytest.raises(ValueError, match=match):
        stratified_split(LABELS, val, test)


def test_too_small_class_is_named():
    labels = ["a"] * 10 + ["b"] * 10 + ["rare"]
    with pytest.raises(ValueError, match="Class 'rare' has 1 example"):
        stratified_split(labels, 0.2)
    labels = ["a"] * 10 + ["b"] * 10 + ["rare"] * 2
    with pytest.raises(ValueError, match="Class 'rare' has 2 examples"):
        stratified_split(labels, 0.2, 0.2)


def test_part_smaller_than_number_of_classes():
    labels = [str(i % 10) for i in range(40)]
    with pytest.raises(
        ValueError, match=r"validation part would hold 2 .*val_fraction=0.05"
    ):
        stratified_split(labels, 0.05)


def test_split_indices_and_check_sizes():
    parts = split_indices(10, (5, 3, 2), seed=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    again = split_indices(10, (5, 3, 2), seed=0)
    for a, b in zip(parts, again):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="only 10 are available"):
        split_indices(10, (8, 3), seed=0, what="images")
    assert check_sizes(1, 0, np.int64(2)) == (1, 0, 2)
    with pytest.raises(ValueError, match="`num_val` must be >= 0"):
        check_sizes(1, -1, 1)
    with pytest.raises(ValueError, match="`num_test` must be an integer"):
        check_sizes(1, 1, 2.0)
