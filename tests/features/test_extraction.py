"""Length-bucketed extraction equals fixed-length padding."""

import numpy as np
import pytest

from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.features import extract_features
from keras_daam.features import extract_to_cache
from keras_daam.features import fingerprint_data
from keras_daam.features import make_preprocessor
from keras_daam.features.extraction import BUCKET_LENGTHS
from keras_daam.features.extraction import bucket_length
from keras_daam.features.extraction import compiles_shapes


@pytest.fixture(scope="module")
def setup(tiny_bert_preset):
    extractor = LayerwiseFeatureExtractor(tiny_bert_preset)
    pre = make_preprocessor(extractor, tiny_bert_preset, sequence_length=24)
    return extractor, pre


def test_bucket_lengths():
    assert bucket_length(3, 512) == 8
    assert bucket_length(13, 512) == 16
    assert bucket_length(100, 128) == 128
    assert bucket_length(600, 512) == 512


def test_buckets_match_full_padding_in_original_order(
    setup, tiny_texts, tmp_path, monkeypatch
):
    extractor, pre = setup
    texts = tiny_texts[0]
    full = extractor.predict_features(pre.tokenize(texts))
    shapes = []
    original = type(extractor).predict_on_batch

    def spy(self, x):
        shapes.append(x["token_ids"].shape)
        return original(self, x)

    monkeypatch.setattr(type(extractor), "predict_on_batch", spy)
    cache = extract_to_cache(
        extractor,
        texts,
        str(tmp_path),
        preprocessor=pre,
        batch_size=8,
        verbose=False,
    )
    np.testing.assert_allclose(np.asarray(cache.features), full, atol=1e-5)
    lengths = {s[1] for s in shapes}
    assert len(lengths) > 1 and max(lengths) <= 24  # cut per batch
    if compiles_shapes():
        # A few bucket lengths; the short batch padded to 8 rows.
        assert lengths <= set(BUCKET_LENGTHS)
        assert {s[0] for s in shapes} == {8}
    else:
        # Eager PyTorch: each batch at its longest text, no padding rows.
        real = pre.tokenize(texts)["padding_mask"].sum(axis=1)
        longest = sorted(real)[-1]
        assert max(lengths) == longest
        assert min(s[0] for s in shapes) == (len(texts) % 8 or 8)
    shapes.clear()
    unpooled = extract_features(extractor, texts, pre, 8, pooled=False)
    assert unpooled["hidden_states"].shape == (60, 2, 24, 8)
    mask = unpooled["padding_mask"]
    np.testing.assert_array_equal(
        mask, pre.tokenize(texts)["padding_mask"].astype(bool)
    )
    m = mask[:, None, :, None]
    mean = (unpooled["hidden_states"] * m).sum(2) / m.sum(2)
    np.testing.assert_allclose(mean, full, atol=1e-5)


def test_in_memory_features_errors(setup):
    extractor, pre = setup
    with pytest.raises(ValueError, match="empty"):
        extract_features(extractor, [], pre)
    with pytest.raises(ValueError, match="preprocessor"):
        extract_features(extractor, ["red cat"])


def test_fingerprint_covers_every_text_and_file(tmp_path):
    texts = [f"text {i}" for i in range(20)]
    base = fingerprint_data(texts)
    changed = list(texts)
    changed[10] = "text X"
    assert fingerprint_data(changed) != base
    assert fingerprint_data(list(texts)) == base
    assert fingerprint_data(texts, labels=np.arange(20)) != base
    files = []
    for i in range(3):
        path = tmp_path / f"{i}.bin"
        path.write_bytes(bytes([i]) * 10)
        files.append(str(path))
    before = fingerprint_data(files)
    (tmp_path / "1.bin").write_bytes(b"\x09" * 10)  # same size, new bytes
    assert fingerprint_data(files) != before
