import os

import keras
import numpy as np
import pytest

from keras_daam.features import extract_to_cache
from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.models import DensityAdaptiveClassifier
from keras_daam.models import load_head
from tests.backbones.tiny import make_backbone
from tests.backbones.tiny import make_inputs

# Tiny heads over 2 layers warn about short head spans; expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

HEAD = dict(decoder="pool", num_heads=1, learning_rate=1e-2, seed=1)


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("preset"))
    make_backbone("bert").save_to_preset(path)
    return path


@pytest.fixture(scope="module")
def trained(preset, tmp_path_factory):
    model = DensityAdaptiveClassifier.from_preset(preset, 3, **HEAD)
    x = make_inputs("bert", batch=6, seed=2)
    y = np.array([0, 1, 2, 0, 1, 2])
    cache = extract_to_cache(
        model.extractor,
        x,
        str(tmp_path_factory.mktemp("cache")),
        labels=y,
        verbose=False,
    )
    backbone_before = [w.copy() for w in model.extractor.backbone.get_weights()]
    head_before = model.head.get_layer("attention").get_weights()
    history = model.fit_cached(cache, epochs=3, verbose=0)
    return model, x, backbone_before, head_before, history


def test_structure_and_end_to_end_predict(trained):
    model, x, *_ = trained
    assert model.preprocessor is None  # a tiny preset has no tokenizer
    assert isinstance(
        model.head.get_layer("attention"), DensityAdaptiveAttention
    )
    assert not model.extractor.backbone.trainable_weights
    logits = model.predict(x)
    assert logits.shape == (6, 3)
    # End to end equals head(cached features).
    features = model.extractor.predict_features(x)
    np.testing.assert_allclose(
        logits, model.head.predict(features, verbose=0), atol=1e-5
    )


def test_training_changes_only_the_head(trained):
    model, _, backbone_before, head_before, history = trained
    assert len(history.history["loss"]) == 3
    after = model.head.get_layer("attention").get_weights()
    assert not all(np.allclose(a, b) for a, b in zip(head_before, after))
    for a, b in zip(backbone_before, model.extractor.backbone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_whole_model_keras_round_trip(trained, tmp_path):
    model, x, *_ = trained
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert isinstance(loaded, DensityAdaptiveClassifier)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), atol=1e-5)


def test_head_round_trip(trained, preset, tmp_path):
    model, x, *_ = trained
    path = str(tmp_path / "head")
    model.save_head(path)
    size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    assert size < 20_000  # the head only, not the backbone
    with pytest.raises(FileExistsError, match="overwrite"):
        model.save_head(path)
    model.save_head(path, overwrite=True)
    restored = load_head(path)  # preset recorded at saving
    np.testing.assert_allclose(restored.predict(x), model.predict(x), atol=1e-5)
    fresh = DensityAdaptiveClassifier.from_preset(preset, 3, **HEAD)
    assert not np.allclose(fresh.predict(x), model.predict(x), atol=1e-4)
    fresh.load_head(path)
    np.testing.assert_allclose(fresh.predict(x), model.predict(x), atol=1e-5)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"num_heads": 2}, "num_heads"),
        ({"layers": [-1]}, "layer_indices"),
        ({"num_densities": 2, "formulation": "package"}, "num_densities"),
    ],
)
def test_mismatched_head_raises(trained, preset, tmp_path, change, message):
    model, *_ = trained
    path = str(tmp_path / "head")
    model.save_head(path)
    options = {**HEAD, **change}
    other = DensityAdaptiveClassifier.from_preset(preset, 3, **options)
    before = other.head.get_weights()
    with pytest.raises(ValueError, match=message):
        other.load_head(path)
    for a, b in zip(before, other.head.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing partially loaded


def test_corrupted_head_raises(trained, tmp_path):
    model, *_ = trained
    path = str(tmp_path / "head")
    model.save_head(path)
    weights = os.path.join(path, "head_weights.npz")
    data = open(weights, "rb").read()
    open(weights, "wb").write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupted or truncated"):
        model.load_head(path)


def test_head_loads_onto_a_second_instance_of_the_backbone(trained, tmp_path):
    """Keras numbers repeated instances (`bert_backbone_1`); heads and
    caches identify the architecture, not the instance name."""
    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.features.cache import _backbone_fingerprint

    first, second = make_backbone("bert"), make_backbone("bert")
    assert first.name != second.name
    assert _backbone_fingerprint(
        LayerwiseFeatureExtractor(first)
    ) == _backbone_fingerprint(LayerwiseFeatureExtractor(second))
    model, x, *_ = trained
    path = str(tmp_path / "head")
    model.save_head(path)
    other = load_head(
        path,
        model.extractor.backbone.__class__.from_config(
            model.extractor.backbone.get_config() | {"name": "renamed_backbone"}
        ),
    )
    other.extractor.backbone.set_weights(model.extractor.backbone.get_weights())
    np.testing.assert_allclose(other.predict(x), model.predict(x), atol=1e-5)
