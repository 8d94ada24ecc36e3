"""Tidy export of maps: records, structured arrays, CSV, pandas."""

import csv
import sys
import types

import numpy as np
import pytest

from keras_daam import explain

MAP = np.array([[0.0, 0.5, 1.0], [0.25, np.nan, 0.75]])


def test_records_layer_major():
    rows = explain.to_table(MAP)
    assert len(rows) == 6
    assert rows[0] == {"layer": 0, "feature": 0, "value": 0.0}
    assert rows[5] == {"layer": 1, "feature": 2, "value": 0.75}
    assert np.isnan(rows[4]["value"])


def test_structured_array_and_labels():
    arr = explain.to_table(
        MAP, format="array", layer_labels=["a", "b"], feature_labels=[7, 8, 9]
    )
    assert arr.dtype.names == ("layer", "feature", "value")
    assert arr["layer"].tolist() == ["a"] * 3 + ["b"] * 3
    assert arr["feature"].tolist() == [7, 8, 9] * 2
    np.testing.assert_array_equal(arr["value"], MAP.ravel())


def test_class_maps_and_per_layer_values():
    rows = explain.to_table({"cat": MAP, "dog": MAP * 2})
    assert len(rows) == 12
    assert rows[0]["class"] == "cat" and rows[6]["class"] == "dog"
    assert rows[7]["value"] == 1.0
    arr = explain.to_table({0: MAP, 1: MAP}, format="array")
    assert arr.dtype.names == ("class", "layer", "feature", "value")
    per_layer = explain.to_table(np.array([10.0, 90.0]))
    assert [r["value"] for r in per_layer] == [10.0, 90.0]


def test_csv_roundtrip(tmp_path):
    path = explain.write_csv(MAP, tmp_path / "if.csv")
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["layer", "feature", "value"]
    assert len(rows) == 7
    assert rows[2] == ["0", "1", "0.5"]
    assert float(rows[6][2]) == 0.75


def test_errors():
    with pytest.raises(ValueError, match="format"):
        explain.to_table(MAP, format="xml")
    with pytest.raises(ValueError, match="2-D"):
        explain.to_table(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="layer_labels"):
        explain.to_table(MAP, layer_labels=["a"])


def test_pandas_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        explain.to_table(MAP, format="pandas")


def test_pandas_dataframe_from_columns(monkeypatch):
    # A stand-in module: checks what to_table hands to pandas.DataFrame
    # without requiring pandas in the test environment.
    calls = []
    fake = types.SimpleNamespace(DataFrame=lambda cols: calls.append(cols))
    monkeypatch.setitem(sys.modules, "pandas", fake)
    explain.to_table({"a": MAP}, format="pandas")
    (cols,) = calls
    assert list(cols) == ["class", "layer", "feature", "value"]
    assert cols["layer"].tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(cols["value"], MAP.ravel())
