"""Tests of `Dataset`: fingerprints, class counts, summaries."""

import shutil

import numpy as np
import pytest
from PIL import Image

from keras_daam.data import Dataset
from keras_daam.data import read_image_folder
from keras_daam.data import read_text_table

# Readers and loaders only: no Keras backend runs here.
pytestmark = pytest.mark.backend_independent


def _csv(path, rows):
    path.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows))
    return path


ROWS = [("alpha", "a"), ("beta", "b"), ("gamma", "a"), ("delta", "b")]


def test_text_fingerprint_sees_every_row(tmp_path):
    first = read_text_table(_csv(tmp_path / "d.csv", ROWS)).fingerprint()
    again = read_text_table(_csv(tmp_path / "d.csv", ROWS)).fingerprint()
    assert first == again and len(first) == 64
    # Same content elsewhere: same fingerprint (content, not location).
    moved = read_text_table(_csv(tmp_path / "e.csv", ROWS)).fingerprint()
    assert moved == first
    middle = list(ROWS)
    middle[2] = ("gamma!", "a")
    changed = read_text_table(_csv(tmp_path / "d.csv", middle)).fingerprint()
    assert changed != first
    relabelled = list(ROWS)
    relabelled[1] = ("beta", "a")
    assert read_text_table(
        _csv(tmp_path / "d.csv", relabelled)
    ).fingerprint() not in (first, changed)
    # Record boundaries count: ["ab", "c"] is not ["a", "bc"].
    a = Dataset("text", "/x", ["ab", "c"], None)
    b = Dataset("text", "/x", ["a", "bc"], None)
    assert a.fingerprint() != b.fingerprint()
    labelled = Dataset("text", "/x", ["ab", "c"], ["0", "1"])
    assert a.fingerprint() != labelled.fingerprint()


def test_fingerprint_is_computed_once(tmp_path):
    data = read_text_table(_csv(tmp_path / "d.csv", ROWS))
    value = data.fingerprint()
    data.items[0] = "changed after the fact"
    assert data.fingerprint() == value  # cached on the object


def _image_folder(root):
    for i, name in enumerate(("cat", "cat", "dog", "dog")):
        (root / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((4, 4, 3), 40 * i, np.uint8)).save(
            root / name / f"{i}.png"
        )
    return root


def test_image_fingerprint_content_and_names(tmp_path):
    root = _image_folder(tmp_path / "imgs")
    first = read_image_folder(root).fingerprint()
    assert read_image_folder(root).fingerprint() == first
    shutil.copytree(root, tmp_path / "copy")
    assert read_image_folder(tmp_path / "copy").fingerprint() == first
    # One image's bytes change.
    Image.fromarray(np.full((4, 4, 3), 41, np.uint8)).save(root / "cat/1.png")
    changed = read_image_folder(root).fingerprint()
    assert changed != first
    # A rename (same bytes) changes it too.
    (root / "cat/1.png").rename(root / "cat/9.png")
    assert read_image_folder(root).fingerprint() not in (first, changed)
    # A file moved to another class changes the labels.
    copy = tmp_path / "copy"
    (copy / "cat/0.png").rename(copy / "dog/0.png")
    assert read_image_folder(copy).fingerprint() != first


def test_file_fingerprint_without_item_info(tmp_path):
    root = _image_folder(tmp_path / "imgs")
    scanned = read_image_folder(root)
    bare = Dataset("image", scanned.source, scanned.items, scanned.labels)
    assert bare.fingerprint() == scanned.fingerprint()


def test_class_counts_and_summary():
    data = Dataset("text", "/d/data.csv", list("abcde"), "2 10 2 1 2".split())
    assert data.class_counts() == {"1": 1, "2": 3, "10": 1}
    assert data.class_names() == ["1", "2", "10"]
    assert data.summary() == "data.csv: 5 texts, 3 classes: 1 1, 2 3, 10 1"
    many = Dataset(
        "text",
        "/d/big.csv",
        [str(i) for i in range(60)],
        [f"class_{i % 20:02d}" for i in range(60)],
        skipped=[("big.csv line 3", "empty text")],
    )
    first, second = many.summary().split("\n")
    assert first == "big.csv: 60 texts, 20 classes (1 row skipped)"
    assert second.startswith("  class_00 3, class_01 3")
    unlabelled = Dataset("audio", "/d/clips", ["/d/clips/a.wav"], None)
    assert unlabelled.summary() == "clips/: 1 audio file, unlabelled"
    assert unlabelled.class_counts() == {}


def test_dataset_checks_its_fields():
    with pytest.raises(ValueError, match="`modality` must be one of"):
        Dataset("video", "/x", [], None)
    with pytest.raises(ValueError, match="one entry per item"):
        Dataset("text", "/x", ["a", "b"], ["0"])
    data = Dataset("text", "/x", ["a"], None, item_info=[{"line": 4}])
    assert data.info(0) == {"line": 4} and len(data) == 1
    data.info(0)["line"] = 9
    assert data.info(0) == {"line": 4}  # a copy
