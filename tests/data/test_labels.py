"""Tests of `encode_labels` and `sort_class_names`."""

import numpy as np
import pytest

from keras_daam.data import encode_labels
from keras_daam.data import sort_class_names

# Readers and loaders only: no Keras backend runs here.
pytestmark = pytest.mark.backend_independent


def test_numeric_labels_in_numeric_order():
    ids, names = encode_labels(["10", "2", "1", "2"])
    assert names == ["1", "2", "10"]
    assert ids.dtype == np.int64 and ids.tolist() == [2, 1, 0, 1]
    assert sort_class_names(["1.5", "-3", "0.25", "12"]) == [
        "-3",
        "0.25",
        "1.5",
        "12",
    ]


def test_mixed_labels_in_string_order():
    _, names = encode_labels(["10", "2", "cat"])
    assert names == ["10", "2", "cat"]
    # "nan" and "inf" are words here, not numbers.
    assert sort_class_names(["2", "10", "nan"]) == ["10", "2", "nan"]


def test_non_string_labels_are_named_by_str():
    ids, names = encode_labels(np.array([3, 1, 3]))
    assert names == ["1", "3"] and ids.tolist() == [1, 0, 1]


def test_empty_and_single_class_are_errors():
    with pytest.raises(ValueError, match="empty"):
        encode_labels([])
    with pytest.raises(ValueError, match="single class.*at least two"):
        encode_labels(["a", "a"])
    with pytest.raises(ValueError, match="no labels"):
        encode_labels(None)


def test_class_names_map_by_name_with_missing_class():
    train = ["cat", "dog", "fox"]
    ids, names = encode_labels(["fox", "cat", "fox"], class_names=train)
    assert names == train and ids.tolist() == [2, 0, 2]
    # A single class is fine against known classes.
    assert encode_labels(["dog"], class_names=train)[0].tolist() == [1]


def test_unknown_class_lists_names_counts_and_known():
    with pytest.raises(ValueError) as info:
        encode_labels(["cat", "cow", "emu", "cow"], class_names=["cat", "dog"])
    message = str(info.value)
    assert "3 labels are not among the 2 known classes" in message
    assert "'cow' (2 rows)" in message and "'emu' (1 row)" in message
    assert "Known classes: 'cat', 'dog'" in message


def test_repeated_class_names_are_an_error():
    with pytest.raises(ValueError, match="Repeated: 'a'"):
        encode_labels(["a"], class_names=["a", "b", "a"])
