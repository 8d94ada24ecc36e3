"""The feature cache: round trips, resuming, and refusing to lie."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.features import CacheError
from keras_daam.features import CacheLockedError
from keras_daam.features import CacheMismatchError
from keras_daam.features import FeatureCache
from keras_daam.features import extract_to_cache
from keras_daam.features import make_preprocessor
from tests.backbones.tiny import make_backbone
from tests.backbones.tiny import make_inputs


@pytest.fixture(scope="module")
def extractor():
    return LayerwiseFeatureExtractor(make_backbone("bert"), preset="tiny")


@pytest.fixture(scope="module")
def data():
    return make_inputs("bert", batch=7, seed=1)


@pytest.fixture(scope="module")
def text_extractor(tiny_bert_preset):
    return LayerwiseFeatureExtractor(tiny_bert_preset)


def test_pooled_round_trip(extractor, data, tmp_path):
    labels = np.arange(7) % 3
    cache = extract_to_cache(
        extractor,
        data,
        str(tmp_path),
        batch_size=3,
        labels=labels,
        verbose=False,
    )
    assert isinstance(cache.features, np.memmap)
    assert cache.features.shape == (7, 2, 16)
    expected = extractor.predict_features(data)
    np.testing.assert_allclose(np.asarray(cache.features), expected, atol=1e-5)
    np.testing.assert_array_equal(cache.labels, labels)
    meta = json.load(open(tmp_path / "metadata.json"))
    assert meta["format"] == "keras_daam.feature_cache" and meta["complete"]
    assert meta["settings"]["extractor"]["preset"] == "tiny"
    assert meta["settings"]["extractor"]["layer_names"] == (
        extractor.layer_names
    )
    assert meta["shapes"]["features"] == [7, 2, 16]
    assert FeatureCache(str(tmp_path), layers=[1]).features.shape == (7, 1, 16)


def test_unpooled_float16_with_mask(extractor, data, tmp_path, capsys):
    cache = extract_to_cache(
        extractor, data, str(tmp_path), batch_size=4, pooled=False
    )
    assert "Writing features (7, 2, 8, 16) float16" in capsys.readouterr().out
    assert cache.features.dtype == np.float16
    assert cache.features.shape == (7, 2, 8, 16)
    np.testing.assert_array_equal(
        cache.padding_mask, data["padding_mask"].astype(bool)
    )
    # The masked mean of the cached states gives the pooled features.
    pooled = extractor.predict_features(data)
    m = cache.padding_mask[:, None, :, None].astype("float32")
    mean = (cache.features.astype("float32") * m).sum(2) / m.sum(2)
    np.testing.assert_allclose(mean, pooled, atol=5e-3)


def test_interrupted_extraction_resumes(extractor, data, tmp_path, monkeypatch):
    reference = extractor.predict_features(data)
    original = type(extractor).predict_on_batch
    calls = {"n": 0}

    def flaky(self, x):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt("simulated Ctrl-C")
        return original(self, x)

    monkeypatch.setattr(type(extractor), "predict_on_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        extract_to_cache(
            extractor, data, str(tmp_path), batch_size=2, verbose=False
        )
    progress = json.load(open(tmp_path / "progress.json"))
    assert progress["rows"] == 4 and progress["batches"] == 2
    with pytest.raises(CacheError, match="incomplete"):
        FeatureCache(str(tmp_path))
    seen = []

    def counting(self, x):
        seen.append(len(x["token_ids"]))
        return original(self, x)

    monkeypatch.setattr(type(extractor), "predict_on_batch", counting)
    cache = extract_to_cache(
        extractor, data, str(tmp_path), batch_size=2, verbose=False
    )
    assert len(seen) == 2  # only the two missing batches were computed
    np.testing.assert_allclose(np.asarray(cache.features), reference, atol=1e-5)


def test_settings_or_data_changes_are_refused(extractor, data, tmp_path):
    extract_to_cache(extractor, data, str(tmp_path), verbose=False)
    last = LayerwiseFeatureExtractor(
        extractor.backbone, layers=[-1], preset="tiny"
    )
    with pytest.raises(CacheMismatchError, match="layer_indices"):
        extract_to_cache(last, data, str(tmp_path), verbose=False)
    with pytest.raises(CacheMismatchError, match="dtype"):
        extract_to_cache(
            extractor, data, str(tmp_path), dtype="float16", verbose=False
        )
    # One token in the middle row changed: the fingerprint covers every row.
    other = {k: v.copy() for k, v in data.items()}
    other["token_ids"][3, 1] += 1
    with pytest.raises(CacheMismatchError, match="data differ") as info:
        extract_to_cache(extractor, other, str(tmp_path), verbose=False)
    assert "--overwrite" in str(info.value)
    with pytest.raises(CacheMismatchError, match="data differ"):
        extract_to_cache(
            extractor, data, str(tmp_path), labels=np.zeros(7), verbose=False
        )
    cache = extract_to_cache(
        last, data, str(tmp_path), overwrite=True, verbose=False
    )
    assert cache.features.shape == (7, 1, 16)
    assert cache.settings["extractor"]["layer_indices"] == [1]


def test_other_weights_same_architecture_are_refused(data, tmp_path):
    import keras

    keras.utils.set_random_seed(1)
    a = LayerwiseFeatureExtractor(make_backbone("bert"), preset="tiny")
    keras.utils.set_random_seed(2)
    b = LayerwiseFeatureExtractor(make_backbone("bert"), preset="tiny")
    extract_to_cache(a, data, str(tmp_path), verbose=False)
    with pytest.raises(CacheMismatchError, match="backbone's weights"):
        extract_to_cache(b, data, str(tmp_path), verbose=False)


def test_another_sequence_length_never_resumes_or_mixes(
    text_extractor, tiny_bert_preset, tiny_texts, tmp_path, monkeypatch
):
    texts = tiny_texts[0]
    long = make_preprocessor(text_extractor, tiny_bert_preset, 24)
    short = make_preprocessor(text_extractor, tiny_bert_preset, 8)
    original = type(text_extractor).predict_on_batch
    calls = {"n": 0}

    def flaky(self, x):
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(type(text_extractor), "predict_on_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        extract_to_cache(
            text_extractor,
            texts,
            str(tmp_path),
            preprocessor=long,
            batch_size=16,
            verbose=False,
        )
    monkeypatch.setattr(type(text_extractor), "predict_on_batch", original)
    with pytest.raises(CacheMismatchError, match="sequence_length"):
        extract_to_cache(
            text_extractor,
            texts,
            str(tmp_path),
            preprocessor=short,
            batch_size=16,
            verbose=False,
        )
    # The interrupted cache is still resumable with its own settings.
    cache = extract_to_cache(
        text_extractor,
        texts,
        str(tmp_path),
        preprocessor=long,
        batch_size=16,
        verbose=False,
    )
    expected = text_extractor.predict_features(long.tokenize(texts))
    np.testing.assert_allclose(np.asarray(cache.features), expected, atol=1e-5)


def test_second_writer_fails_at_once(extractor, data, tmp_path):
    holder = textwrap.dedent(
        f"""
        import sys, time, filelock
        lock = filelock.FileLock({str(tmp_path / ".lock")!r}, timeout=0)
        lock.acquire()
        print("locked", flush=True)
        sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(CacheLockedError, match="Another process"):
            extract_to_cache(extractor, data, str(tmp_path), verbose=False)
        assert not (tmp_path / "metadata.json").exists()
    finally:
        proc.communicate("\n", timeout=30)
    cache = extract_to_cache(extractor, data, str(tmp_path), verbose=False)
    assert len(cache) == 7


def test_never_writes_into_a_folder_of_other_files(extractor, data, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "labels.json").write_text('{"mine": true}')
    with pytest.raises(CacheError, match="did not write.*labels.json"):
        extract_to_cache(extractor, data, str(mine), verbose=False)
    assert (mine / "labels.json").read_text() == '{"mine": true}'
    assert sorted(os.listdir(mine)) == ["labels.json"]
    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "metadata.json").write_text('{"version": 3}')
    with pytest.raises(CacheError, match="did not write"):
        extract_to_cache(extractor, data, str(tool), verbose=False)
    with pytest.raises(CacheError, match="did not write"):
        extract_to_cache(
            extractor, data, str(tool), overwrite=True, verbose=False
        )
    assert (tool / "metadata.json").read_text() == '{"version": 3}'
    with pytest.raises(CacheError, match="did not write"):
        FeatureCache(str(tool))


def test_an_older_cache_format_is_refused(extractor, data, tmp_path):
    extract_to_cache(extractor, data, str(tmp_path), verbose=False)
    meta = json.load(open(tmp_path / "metadata.json"))
    old = {
        "settings": {"format_version": 1, "count": 7},
        "complete": True,
        "shapes": meta["shapes"],
    }
    (tmp_path / "metadata.json").write_text(json.dumps(old))
    with pytest.raises(CacheMismatchError, match="older keras_daam"):
        extract_to_cache(extractor, data, str(tmp_path), verbose=False)
    cache = extract_to_cache(
        extractor, data, str(tmp_path), overwrite=True, verbose=False
    )
    assert cache.metadata["format"] == "keras_daam.feature_cache"


def test_generator_with_labels_and_a_callable_preprocessor(
    extractor, data, tmp_path
):
    def batches():
        for lo in range(0, 7, 3):
            x = {k: v[lo : lo + 3] for k, v in data.items()}
            yield x, np.arange(lo, min(lo + 3, 7))

    with pytest.raises(ValueError, match="num_samples"):
        extract_to_cache(extractor, batches(), str(tmp_path), verbose=False)
    cache = extract_to_cache(
        extractor, batches, str(tmp_path / "g"), num_samples=7, verbose=False
    )
    np.testing.assert_array_equal(cache.labels, np.arange(7))
    np.testing.assert_allclose(
        np.asarray(cache.features), extractor.predict_features(data), atol=1e-5
    )
    with pytest.raises(ValueError, match="preprocessor"):
        extract_to_cache(extractor, ["a", "b"], str(tmp_path / "s"))

    def preprocess(texts):
        ids = np.array([[1 + len(t)] * 8 for t in texts], "int32")
        return {
            "token_ids": ids,
            "segment_ids": 0 * ids,
            "padding_mask": np.ones_like(ids),
        }

    cache = extract_to_cache(
        extractor,
        ["a", "bb", "ccc"],
        str(tmp_path / "s"),
        preprocessor=preprocess,
        batch_size=2,
        verbose=False,
    )
    assert cache.features.shape == (3, 2, 16)


def test_string_labels_keep_numeric_order_and_names(extractor, data, tmp_path):
    labels = ["10", "2", "1", "2", "10", "1", "2"]
    cache = extract_to_cache(
        extractor, data, str(tmp_path), labels=labels, verbose=False
    )
    assert cache.class_names == ["1", "2", "10"]
    np.testing.assert_array_equal(cache.labels, [2, 1, 0, 1, 2, 0, 1])


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.arange(6), "6 entries"),
        (np.array([0, 1, 2, 0.5, 1, 2, 0]), "integer class ids"),
        (np.array([0, 1, 9, 0, 1, 2, 0]), "outside the 3 classes"),
    ],
)
def test_bad_labels_are_errors(extractor, data, tmp_path, labels, match):
    names = ["a", "b", "c"] if "outside" in match else None
    with pytest.raises(ValueError, match=match):
        extract_to_cache(
            extractor,
            data,
            str(tmp_path),
            labels=labels,
            class_names=names,
            verbose=False,
        )


def test_empty_data_and_bad_batch_size_are_errors(extractor, tmp_path):
    with pytest.raises(ValueError, match="empty"):
        extract_to_cache(extractor, np.zeros((0, 8), "int32"), str(tmp_path))
    with pytest.raises(ValueError, match="batch_size"):
        extract_to_cache(
            extractor, make_inputs("bert", 2), str(tmp_path), batch_size=0
        )


def test_corrupted_cache_is_reported(extractor, data, tmp_path):
    extract_to_cache(extractor, data, str(tmp_path), verbose=False)
    np.save(tmp_path / "features.npy", np.zeros((3, 2, 16), "float32"))
    with pytest.raises(CacheError, match="corrupted"):
        FeatureCache(str(tmp_path))
