import types

import numpy as np
import pytest

from keras_daam.models.inputs import check_labels
from keras_daam.models.inputs import input_kind


def _extractor(modality):
    names = {
        "text": ["token_ids", "segment_ids", "padding_mask"],
        "image": ["images"],
        "audio": ["encoder_features"],
    }[modality]
    return types.SimpleNamespace(modality=modality, input_names=names)


@pytest.mark.parametrize(
    "modality, x, kind",
    [
        ("text", ["a", "b"], "raw"),
        ("text", np.array(["a", "b"]), "raw"),
        (
            "text",
            {"token_ids": [[1]], "segment_ids": [[0]], "padding_mask": [[1]]},
            "backbone",
        ),
        ("image", ["x.png", "y.jpg"], "raw"),
        ("image", np.zeros((2, 8, 8, 3), "uint8"), "raw"),
        ("image", [np.zeros((8, 8, 3), "uint8")] * 2, "raw"),
        ("image", np.zeros((2, 8, 8, 3), "float32"), "backbone"),
        ("audio", [np.zeros(400), np.zeros(900)], "raw"),
        ("audio", np.zeros((2, 400), "float32"), "raw"),
        ("audio", np.zeros((2, 16, 80), "float32"), "backbone"),
        ("audio", iter([1, 2]), "dataset"),
    ],
)
def test_input_kinds(modality, x, kind):
    assert input_kind(x, _extractor(modality), True)[0] == kind


@pytest.mark.parametrize(
    "modality, x, message",
    [
        ("image", np.zeros((2, 8, 8), "float32"), r"shape \(2, 8, 8\)"),
        ("image", [np.zeros((8, 8, 3)), np.zeros((4, 4, 3))], "different"),
        ("image", ["x.png", np.zeros((8, 8, 3))], "mixes file paths"),
        ("audio", np.zeros((2,), "float32"), "shape"),
        ("audio", [1, 2], "int"),
        ("text", {"token_ids": np.zeros((0, 4))}, "lacks the backbone"),
        ("text", [None], "NoneType"),
    ],
)
def test_wrong_inputs_name_what_is_expected(modality, x, message):
    with pytest.raises(ValueError, match=message):
        input_kind(x, _extractor(modality), True)


def test_raw_inputs_need_a_preprocessor():
    with pytest.raises(ValueError, match="no preprocessor"):
        input_kind(np.zeros((1, 8, 8, 3), "uint8"), _extractor("image"), False)
    with pytest.raises(ValueError, match="no preprocessor"):
        input_kind(["a text"], _extractor("text"), False)


def test_empty_backbone_inputs_raise():
    empty = {k: np.zeros((0, 4)) for k in _extractor("text").input_names}
    with pytest.raises(ValueError, match="empty"):
        input_kind(empty, _extractor("text"), True)
    ragged = {k: np.zeros((n, 4)) for k, n in zip(empty, (1, 2, 2))}
    with pytest.raises(ValueError, match="different numbers of rows"):
        input_kind(ragged, _extractor("text"), True)


def test_check_labels():
    assert check_labels([0, 2.0, 1], 3).tolist() == [0, 2, 1]
    assert check_labels(np.array([[1], [0]]), 2).dtype == np.int32
    assert check_labels(["b", "a"], 2, ["a", "b"]).tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"\[-3, 7\] \(2 of 4 labels\)"):
        check_labels([0, 7, -3, 1], 3)
    with pytest.raises(ValueError, match=r"\[inf, nan\]"):
        check_labels([0.0, np.nan, np.inf], 3)
    with pytest.raises(ValueError, match="ragged"):
        check_labels([[0], [1, 2]], 3)
    with pytest.raises(ValueError, match="mixes"):
        check_labels(np.array([0, "a"], dtype=object), 3, ["a", "b", "c"])
