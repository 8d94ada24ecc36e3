import json
import os

import numpy as np
import pytest

from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.features import FeatureCache
from keras_daam.features import extract_to_cache
from tests.backbones.tiny import make_backbone
from tests.backbones.tiny import make_inputs


@pytest.fixture(scope="module")
def extractor():
    return LayerwiseFeatureExtractor(make_backbone("bert"), preset="tiny")


@pytest.fixture(scope="module")
def data():
    return make_inputs("bert", batch=7, seed=1)


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
    assert meta["complete"] and meta["settings"]["preset"] == "tiny"
    assert meta["settings"]["layer_names"] == extractor.layer_names
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
            raise KeyboardInterrupt("simulated")
        return original(self, x)

    monkeypatch.setattr(type(extractor), "predict_on_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        extract_to_cache(
            extractor, data, str(tmp_path), batch_size=2, verbose=False
        )
    progress = json.load(open(tmp_path / "progress.json"))
    assert progress["done"] == 4
    with pytest.raises(ValueError, match="incomplete"):
        FeatureCache(str(tmp_path))
    monkeypatch.setattr(type(extractor), "predict_on_batch", original)
    seen = []

    def counting(self, x):
        seen.append(len(x["token_ids"]))
        return original(self, x)

    monkeypatch.setattr(type(extractor), "predict_on_batch", counting)
    cache = extract_to_cache(
        extractor, data, str(tmp_path), batch_size=2, verbose=False
    )
    assert sum(seen) == 3  # only the missing samples were computed
    np.testing.assert_allclose(np.asarray(cache.features), reference, atol=1e-5)


def test_mismatched_settings_raise_or_rebuild(extractor, data, tmp_path):
    extract_to_cache(extractor, data, str(tmp_path), verbose=False)
    last = LayerwiseFeatureExtractor(
        extractor.backbone, layers=[-1], preset="tiny"
    )
    with pytest.raises(ValueError, match="different settings.*layer"):
        extract_to_cache(last, data, str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="dtype"):
        extract_to_cache(
            extractor, data, str(tmp_path), dtype="float16", verbose=False
        )
    other = {k: v[::-1].copy() for k, v in data.items()}
    with pytest.raises(ValueError, match="data_fingerprint"):
        extract_to_cache(extractor, other, str(tmp_path), verbose=False)
    cache = extract_to_cache(
        last, data, str(tmp_path), overwrite=True, verbose=False
    )
    assert cache.features.shape == (7, 1, 16)
    assert cache.settings["layer_indices"] == [1]


def test_generator_with_labels_and_strings(extractor, data, tmp_path):
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
    # Raw strings need a preprocessor; a callable one is enough.
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
    assert os.path.exists(tmp_path / "s" / "features.npy")
