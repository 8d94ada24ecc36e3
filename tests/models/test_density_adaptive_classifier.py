import os
import warnings

import keras
import keras_hub
import numpy as np
import pytest

from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.features import TextPreprocessor
from keras_daam.features import extract_features
from keras_daam.features import extract_to_cache
from keras_daam.heads import build_head
from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.models import DensityAdaptiveClassifier
from keras_daam.models.saved_head import architecture
from tests.backbones.tiny import make_inputs
from tests.models.conftest import CLASSES
from tests.models.conftest import make_text_model


def _iterations(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def _weights(model):
    return [np.array(w) for w in model.head.get_weights()]


# -- construction ------------------------------------------------------------


def test_default_head_is_daamv2_and_fits_any_layer_count():
    for num_layers in (8, 3):
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=20,
            num_layers=num_layers,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=16,
            max_sequence_length=8,
        )
        model = DensityAdaptiveClassifier.from_preset(backbone, 3)
        assert model.head_name == "daamv2" and model.head_build is None
        assert model.preprocessor is None  # a backbone instance: no preset
        attention = model.head.get_layer("attention")
        assert isinstance(attention, DensityAdaptiveAttention)
        assert attention.num_heads == 1
        reference = build_head(
            "daamv2",
            num_layers=num_layers,
            feature_dim=16,
            num_classes=3,
            compile=False,
        )
        assert architecture(model.head) == architecture(reference)


def test_heads_by_name_and_custom(bare_preset):
    named = DensityAdaptiveClassifier.from_preset(
        bare_preset, 3, "daam_h2_flatten", preprocessor=None
    )
    assert named.head_name == "daam_h2_flatten" and named.head_build is None
    assert named.head.get_layer("attention").num_heads == 2
    custom = DensityAdaptiveClassifier.from_preset(
        bare_preset, 3, decoder="pool", num_heads=1, preprocessor=None
    )
    assert custom.head_name is None
    assert custom.head_build == {
        "attention": "daam",
        "decoder": "pool",
        "num_heads": 1,
    }
    assert custom.head.get_layer("attention").num_heads == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"head": "daam_h2_flatten", "decoder": "pool"}, "fixes its"),
        ({"head": "no_such_head"}, "Unknown head"),
        ({"head": "tokens_mean_linear"}, "token states"),
        ({"head": "daamv1"}, "cannot take the features of 2 layers"),
    ],
)
def test_bad_heads_raise(bare_preset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        DensityAdaptiveClassifier.from_preset(
            bare_preset, 3, preprocessor=None, **kwargs
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 4, "class_names": CLASSES}, "3 names but"),
        ({"class_names": ["a", "b", "a"]}, "twice"),
        ({"class_names": "abc"}, "list of class names"),
        ({}, "num_classes"),
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 2.0}, "integer"),
    ],
)
def test_bad_classes_raise(bare_preset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        DensityAdaptiveClassifier.from_preset(
            bare_preset, preprocessor=None, **kwargs
        )


def test_class_names_give_num_classes(bare_preset):
    model = DensityAdaptiveClassifier.from_preset(
        bare_preset,
        class_names=CLASSES,
        head="daam_h1_flatten",
        preprocessor=None,
    )
    assert model.num_classes == 3 and model.class_names == CLASSES


def test_preprocessor_comes_from_make_preprocessor(tiny_bert_preset):
    model = make_text_model(tiny_bert_preset, sequence_length=12)
    assert isinstance(model.preprocessor, TextPreprocessor)
    assert model.preprocessor.settings()["sequence_length"] == 12


@pytest.mark.parametrize(
    "preset, kwargs, message",
    [
        ("bare", {}, "preprocessor=None"),
        ("text", {"image_size": 32}, "do not apply to a text backbone"),
        ("text", {"preprocessor": None, "sequence_length": 8}, "ignored"),
        ("text", {"sequence_length": 64}, "sequence_length"),
        ("text", {"preprocessor": "yes"}, "'auto', None"),
    ],
)
def test_bad_preprocessing_raises(
    bare_preset, tiny_bert_preset, preset, kwargs, message
):
    folder = bare_preset if preset == "bare" else tiny_bert_preset
    with pytest.raises(ValueError, match=message):
        DensityAdaptiveClassifier.from_preset(
            folder, 3, head="daam_h1_flatten", **kwargs
        )


# -- one compile, one head ---------------------------------------------------


def test_compile_shares_one_optimizer(tiny_bert_preset):
    model = make_text_model(tiny_bert_preset, weight_decay=0.05)
    assert model.optimizer is model.head.optimizer
    assert model.loss is model.head.loss
    model.compile(learning_rate=0.5)
    assert model.optimizer is model.head.optimizer
    assert np.isclose(float(model.optimizer.learning_rate), 0.5)
    assert np.isclose(model.optimizer.weight_decay, 0.05)  # kept
    with pytest.raises(TypeError, match="compile_head"):
        model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="learning_rate"):
        model.compile(learning_rate=-1.0)


def test_fit_cached_then_raw_predict_uses_trained_weights(trained):
    model, texts, _, cache, before = trained
    after = model.predict(texts)
    assert after.shape == (len(texts), 3)
    assert not np.allclose(after, before, atol=1e-4)  # training changed it
    # Raw texts -> preprocessor -> extractor -> the trained head.
    features = extract_features(model.extractor, texts, model.preprocessor)
    np.testing.assert_allclose(
        after, model.head.predict(features, verbose=0), atol=1e-5
    )
    np.testing.assert_allclose(features, cache.features, atol=1e-5)


def test_fit_then_fit_cached_continue_on_the_same_head(
    tiny_bert_preset, tiny_texts
):
    texts, names = tiny_texts
    model = make_text_model(tiny_bert_preset)
    start = _weights(model)
    model.fit(texts, names, epochs=1, batch_size=20, verbose=0)  # 3 steps
    assert _iterations(model) == 3
    after_fit = _weights(model)
    assert not all(np.allclose(a, b) for a, b in zip(start, after_fit))
    features = extract_features(model.extractor, texts, model.preprocessor)
    ids = np.asarray([CLASSES.index(n) for n in names])
    # The first fit_cached loss is that of the weights `fit` left.
    expected = model.head.evaluate(features, ids, verbose=0)[0]
    history = model.fit_cached(
        (features, ids), epochs=1, batch_size=60, shuffle=False, verbose=0
    )
    assert _iterations(model) == 4  # the same AdamW went on counting
    assert np.isclose(history.history["loss"][0], expected, rtol=1e-4)
    np.testing.assert_allclose(
        model.predict(texts),
        model.head.predict(features, verbose=0),
        atol=1e-5,
    )
    model.fit(texts, ids, epochs=1, batch_size=60, verbose=0)
    assert _iterations(model) == 5


def test_fit_and_evaluate_take_backbone_inputs(bare_preset):
    model = DensityAdaptiveClassifier.from_preset(
        bare_preset, 3, "daam_h1_flatten", preprocessor=None, seed=0
    )
    x = make_inputs("bert", batch=6, seed=2)
    y = np.array([0, 1, 2, 0, 1, 2])
    backbone = [w.copy() for w in model.extractor.backbone.get_weights()]
    history = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0)
    assert len(history.history["val_loss"]) == 2
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    for a, b in zip(backbone, model.extractor.backbone.get_weights()):
        np.testing.assert_array_equal(a, b)  # the backbone stays frozen
    logits = model.predict(x)
    features = model.extractor.predict_features(x)
    np.testing.assert_allclose(
        logits, model.head.predict(features, verbose=0), atol=1e-5
    )
    with pytest.raises(ValueError, match="no preprocessor"):
        model.predict(["a text"])


def test_predict_proba_and_classes(trained):
    model, texts, *_ = trained
    proba = model.predict_proba(texts[:5])
    assert proba.dtype == np.float32 and proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(-1), 1.0, atol=1e-5)
    classes = model.predict_classes(texts[:5])
    assert list(classes) == [CLASSES[i] for i in proba.argmax(-1)]


# -- promises: inputs and labels --------------------------------------------


@pytest.mark.parametrize(
    "x, message",
    [
        ([], "empty"),
        (np.zeros((0, 16), "int32"), "empty"),
        (5, "list of str"),
        (None, "is None"),
        ("one text", "single str"),
        ([1, 2, 3], "item of type int"),
        (["a text", 3], "item of type int"),
        ({"token_ids": np.zeros((2, 16), "int32")}, "segment_ids"),
        (np.zeros((2, 16), "int32"), "numeric array"),
        (object(), "of type object"),
    ],
)
def test_wrong_inputs_raise(trained, x, message):
    model, *_ = trained
    with pytest.raises(ValueError, match=message):
        model.predict(x)


@pytest.mark.parametrize(
    "labels, message",
    [
        (-1, r"outside \[0, 3\).*\[-1\]"),
        (3, r"outside \[0, 3\).*\[3\]"),
        (1.5, r"non-integer values \[1.5\]"),
        (np.nan, "non-integer values"),
        ("no_such_class", "not classes of this model"),
        (True, "booleans"),
    ],
)
@pytest.mark.parametrize(
    "method", ["fit", "fit_cached", "evaluate", "validation"]
)
def test_bad_labels_raise_before_training(trained, labels, message, method):
    model, texts, ids, cache, _ = trained
    if isinstance(labels, str):
        y = np.asarray([CLASSES[i] for i in ids], dtype=object)
    elif isinstance(labels, bool):
        y = np.zeros(len(ids), bool)
    elif isinstance(labels, float):
        y = ids.astype("float64")
    else:
        y = ids.astype("int64")
    y[7] = labels
    weights, steps = _weights(model), _iterations(model)
    with pytest.raises(ValueError, match=message):
        if method == "fit":
            model.fit(texts, y, epochs=1, verbose=0)
        elif method == "fit_cached":
            model.fit_cached((cache.features, y), epochs=1, verbose=0)
        elif method == "validation":
            model.fit(texts, ids, validation_data=(texts, y), verbose=0)
        else:
            model.evaluate(texts, y, verbose=0)
    assert _iterations(model) == steps
    for a, b in zip(weights, _weights(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.zeros((60, 3)), "one-hot"),
        (np.zeros(59, "int64"), "59 labels for 60 examples"),
        (None, "is None"),
        ([], "empty"),
    ],
)
def test_bad_label_shapes_raise(trained, y, message):
    model, texts, *_ = trained
    with pytest.raises(ValueError, match=message):
        model.fit(texts, y, verbose=0)


def test_string_labels_need_class_names(bare_preset):
    model = DensityAdaptiveClassifier.from_preset(
        bare_preset, 3, "daam_h1_flatten", preprocessor=None
    )
    x = make_inputs("bert", batch=3, seed=2)
    with pytest.raises(ValueError, match="no `class_names`"):
        model.fit(x, ["a", "b", "c"], verbose=0)


@pytest.mark.parametrize(
    "data, message",
    [
        ((np.zeros((0, 2, 8)), np.zeros(0, "int64")), "empty"),
        ((np.zeros((4, 2, 16)), np.zeros(4, "int64")), r"\(2, 8\)"),
        ((np.zeros((4, 8)), np.zeros(4, "int64")), r"\[n, L, d\]"),
        ("/no/such/cache", "No feature cache"),
        (42, "FeatureCache, its folder"),
    ],
)
def test_fit_cached_bad_data_raises(trained, data, message):
    model, *_ = trained
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        model.fit_cached(data, epochs=1, verbose=0)


def test_fit_cached_refuses_caches_of_other_settings(
    trained, tiny_bert_preset, tmp_path
):
    model, texts, ids, *_ = trained
    # Another layer selection of the same backbone.
    last = LayerwiseFeatureExtractor(model.extractor.backbone, layers=[-1])
    cache = extract_to_cache(
        last,
        texts[:6],
        str(tmp_path / "last"),
        labels=ids[:6],
        preprocessor=model.preprocessor,
        verbose=False,
    )
    with pytest.raises(ValueError, match="layer_indices|have shape"):
        model.fit_cached(cache, epochs=1, verbose=0)
    # Other preprocessing (sequence length) of the same layers.
    other = make_text_model(tiny_bert_preset, sequence_length=8)
    cache = extract_to_cache(
        other.extractor,
        texts[:6],
        str(tmp_path / "short"),
        labels=ids[:6],
        preprocessor=other.preprocessor,
        verbose=False,
    )
    with pytest.raises(ValueError, match="sequence_length"):
        model.fit_cached(cache, epochs=1, verbose=0)
    # Other class names.
    cache = extract_to_cache(
        model.extractor,
        texts[:6],
        str(tmp_path / "names"),
        labels=ids[:6],
        class_names=["x", "y", "z"],
        preprocessor=model.preprocessor,
        verbose=False,
    )
    with pytest.raises(ValueError, match="names the classes"):
        model.fit_cached(cache, epochs=1, verbose=0)


def test_fit_cached_refuses_a_cache_of_another_backbone(
    bare_preset, other_bare_preset, tmp_path
):
    def model_of(preset):
        return DensityAdaptiveClassifier.from_preset(
            preset, 3, "daam_h1_flatten", preprocessor=None
        )

    model, other = model_of(bare_preset), model_of(other_bare_preset)
    x = make_inputs("bert", batch=6, seed=2)
    cache = extract_to_cache(
        other.extractor,
        x,
        str(tmp_path / "other"),
        labels=np.array([0, 1, 2, 0, 1, 2]),
        verbose=False,
    )
    with pytest.raises(ValueError, match="backbone"):
        model.fit_cached(cache, epochs=1, verbose=0)
    other.fit_cached(cache, epochs=1, verbose=0)  # its own backbone: fine


# -- whole-model saving ------------------------------------------------------


def test_whole_model_keras_round_trip(trained, tmp_path):
    model, texts, *_ = trained
    path = str(tmp_path / "model.keras")
    model.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.saving.load_model(path)
    assert not [w for w in caught if "compile()" in str(w.message)]
    assert isinstance(loaded, DensityAdaptiveClassifier)
    assert loaded.class_names == CLASSES
    assert loaded.head_name == model.head_name
    assert loaded.optimizer is loaded.head.optimizer
    assert _iterations(loaded) == _iterations(model)
    # The preprocessor is rebuilt from the recorded preset and settings.
    np.testing.assert_allclose(
        loaded.predict(texts), model.predict(texts), atol=1e-5
    )
    assert loaded.preprocessor.settings() == model.preprocessor.settings()
    assert os.path.getsize(path) > 0
