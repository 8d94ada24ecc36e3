import hashlib
import json
import os
import shutil

import keras
import numpy as np
import pytest

from keras_daam.backbones import backbone_fingerprint
from keras_daam.features import extract_features
from keras_daam.heads import build_head
from keras_daam.models import DensityAdaptiveClassifier
from keras_daam.models import head_description
from keras_daam.models import load_head
from keras_daam.models import load_head_model
from keras_daam.models import read_head_config
from keras_daam.models import save_head_files
from keras_daam.models.saved_head import EXTRACTOR_KEYS
from tests.backbones.tiny import make_inputs
from tests.models.conftest import CLASSES
from tests.models.conftest import make_text_model

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture
def saved(trained, tmp_path):
    model, *_ = trained
    path = str(tmp_path / "head")
    model.save_head(path, training={"epochs": 3, "val_accuracy": 0.5})
    return path


def _bare_model(preset, head="daam_h1_flatten", **kwargs):
    return DensityAdaptiveClassifier.from_preset(
        preset, 3, head, preprocessor=None, seed=0, **kwargs
    )


def test_save_head_writes_keras_weights_and_a_description(trained, saved):
    model, *_ = trained
    assert sorted(os.listdir(saved)) == ["head.json", "head.weights.h5"]
    with open(os.path.join(saved, "head.json")) as f:
        description = json.load(f)
    assert description["format"] == "keras_daam.head"
    assert description["version"] == 2
    assert description["head"] == "daam_h1_flatten"
    assert description["build"] is None
    assert (description["num_layers"], description["feature_dim"]) == (2, 8)
    assert description["num_classes"] == 3
    assert description["class_names"] == CLASSES
    assert description["preset"] == model.extractor.preset
    assert description["backbone_fingerprint"] == backbone_fingerprint(
        model.extractor.backbone
    )
    assert sorted(description["extractor"]) == sorted(EXTRACTOR_KEYS)
    assert description["extractor"]["layer_indices"] == [0, 1]
    assert description["preprocessing"]["sequence_length"] == 16
    assert description["compile"] == {
        "learning_rate": 0.01,
        "loss": "crossentropy",
        "steps_per_execution": 1,
        "weight_decay": 0.01,
    }
    assert description["training"] == {"epochs": 3, "val_accuracy": 0.5}
    with open(os.path.join(saved, "head.weights.h5"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert description["weights_sha256"] == digest
    # Keras's own weights format: a head of the same build loads it.
    head = build_head(
        "daam_h1_flatten",
        num_layers=2,
        feature_dim=8,
        num_classes=3,
        compile=False,
    )
    head.load_weights(os.path.join(saved, "head.weights.h5"))
    for a, b in zip(head.get_weights(), model.head.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert read_head_config(saved) == description


def test_load_head_rebuilds_the_classifier(trained, saved):
    model, texts, *_ = trained
    restored = load_head(saved)  # preset, layers, preprocessing recorded
    assert restored.class_names == CLASSES
    assert restored.head_name == "daam_h1_flatten"
    assert restored.preprocessor.settings() == model.preprocessor.settings()
    assert np.isclose(float(restored.optimizer.learning_rate), 1e-2)
    np.testing.assert_allclose(
        restored.predict(texts), model.predict(texts), atol=1e-5
    )
    assert list(restored.predict_classes(texts)) == list(
        model.predict_classes(texts)
    )


def test_model_load_head_loads_into_an_existing_model(
    trained, saved, tiny_bert_preset
):
    model, texts, *_ = trained
    fresh = make_text_model(tiny_bert_preset, class_names=None, num_classes=3)
    assert not np.allclose(fresh.predict(texts), model.predict(texts))
    fresh.load_head(saved)
    np.testing.assert_allclose(
        fresh.predict(texts), model.predict(texts), atol=1e-5
    )
    assert fresh.class_names == CLASSES  # taken from the saved head


def test_save_head_never_writes_over_other_files(trained, saved, tmp_path):
    model, *_ = trained
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save_head(saved)
    notes = os.path.join(saved, "notes.txt")
    with open(notes, "w") as f:
        f.write("mine")
    before = os.path.getmtime(os.path.join(saved, "head.json"))
    model.save_head(saved, overwrite=True)
    assert sorted(os.listdir(saved)) == [
        "head.json",
        "head.weights.h5",
        "notes.txt",
    ]
    assert open(notes).read() == "mine"
    assert os.path.getmtime(os.path.join(saved, "head.json")) >= before
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("a,b\n")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match=r"other.*data\.csv"):
            model.save_head(str(other), overwrite=overwrite)
    assert sorted(os.listdir(other)) == ["data.csv"]
    file_path = tmp_path / "a_file"
    file_path.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        model.save_head(str(file_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    model.save_head(str(empty))
    assert sorted(os.listdir(empty)) == ["head.json", "head.weights.h5"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"layers": [-1]}, r"extractor\.layer_indices: saved \[0, 1\]"),
        (
            {"sequence_length": 8},
            r"preprocessing\.sequence_length: saved 16, this model 8",
        ),
        ({"head": "daam_features_h1_flatten"}, "head: saved 'daam_h1_flatten'"),
        ({"class_names": None, "num_classes": 4}, "num_classes: saved 3"),
        ({"class_names": ["x", "y", "z"]}, "class_names: saved"),
    ],
)
def test_mismatched_heads_raise_and_load_nothing(
    saved, tiny_bert_preset, overrides, message
):
    other = make_text_model(tiny_bert_preset, **overrides)
    before = other.head.get_weights()
    with pytest.raises(ValueError, match=message):
        other.load_head(saved)
    for a, b in zip(before, other.head.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing partially loaded


def test_head_of_another_preset_raises(
    bare_preset, other_bare_preset, tmp_path
):
    path = str(tmp_path / "head")
    _bare_model(bare_preset).save_head(path)
    with pytest.raises(ValueError, match="backbone_fingerprint.*preset"):
        _bare_model(other_bare_preset).load_head(path)
    with pytest.raises(ValueError, match="backbone_fingerprint"):
        load_head(path, preset=other_bare_preset)


def test_same_architecture_under_another_name_loads(bare_preset, tmp_path):
    # "daamv2" and "daam_h1_conv" are one head; a custom build of the same
    # options is too.
    path = str(tmp_path / "head")
    model = _bare_model(bare_preset, "daamv2")
    model.save_head(path)
    x = make_inputs("bert", batch=4, seed=3)
    for other in (
        _bare_model(bare_preset, "daam_h1_conv"),
        DensityAdaptiveClassifier.from_preset(
            bare_preset, 3, num_heads=1, preprocessor=None, seed=5
        ),
    ):
        other.load_head(path)
        np.testing.assert_allclose(
            other.predict(x), model.predict(x), atol=1e-5
        )


def test_corrupted_or_foreign_files_raise(trained, saved):
    model, *_ = trained
    weights = os.path.join(saved, "head.weights.h5")
    data = open(weights, "rb").read()
    with open(weights, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupted or truncated"):
        model.load_head(saved)
    os.remove(weights)
    with pytest.raises(FileNotFoundError, match="head.weights.h5"):
        model.load_head(saved)
    config = os.path.join(saved, "head.json")
    description = json.load(open(config))
    json.dump({**description, "version": 3}, open(config, "w"))
    with pytest.raises(ValueError, match="format 3"):
        read_head_config(saved)
    with open(config, "w") as f:
        f.write('{"format": "keras_daam.head", "vers')
    with pytest.raises(ValueError, match="not valid JSON"):
        read_head_config(saved)
    with pytest.raises(FileNotFoundError, match="No saved head"):
        read_head_config(os.path.dirname(saved))


def test_moved_preset_needs_preset_argument(trained, saved, tiny_bert_preset):
    model, texts, *_ = trained
    config = os.path.join(saved, "head.json")
    description = json.load(open(config))
    description["preset"] = "/no/such/preset/folder"
    json.dump(description, open(config, "w"))
    with pytest.raises(ValueError, match="Pass `preset=`"):
        load_head(saved)
    restored = load_head(saved, preset=tiny_bert_preset)
    np.testing.assert_allclose(
        restored.predict(texts), model.predict(texts), atol=1e-5
    )


def test_format_1_heads_are_read(bare_preset, tmp_path):
    """`data/v1_head` was written by keras_daam 0.1's `save_head`
    (decoder="pool", num_heads=1 over a tiny BERT, 2 x 16)."""
    path = str(tmp_path / "v1_head")
    shutil.copytree(os.path.join(DATA, "v1_head"), path)
    description = read_head_config(path)
    assert description["version"] == 1
    assert description["build"] == {
        "attention": "daam",
        "decoder": "pool",
        "num_heads": 1,
    }
    with pytest.warns(UserWarning, match="format 1"):
        model = load_head(path, preset=bare_preset, preprocessor=None)
    probe = np.load(os.path.join(DATA, "v1_head_probe.npz"))
    np.testing.assert_allclose(
        model.head.predict(probe["features"], verbose=0),
        probe["logits"],
        atol=1e-5,
    )
    other = DensityAdaptiveClassifier.from_preset(
        bare_preset,
        3,
        decoder="pool",
        num_heads=1,
        layers=[-1],
        preprocessor=None,
    )
    with pytest.warns(UserWarning, match="format 1"):
        with pytest.raises(ValueError, match="layer_indices"):
            other.load_head(path)
    # A format-2 head is never written over a format-1 folder.
    with pytest.raises(ValueError, match="format 1"):
        model.save_head(path, overwrite=True)


def test_save_head_files_for_a_head_trained_on_a_cache(trained, tmp_path):
    """The command line's `train`: a bare head, a cache, no classifier."""
    model, texts, ids, cache, _ = trained
    head = build_head(
        "daam_h1_flatten",
        num_layers=cache.num_layers,
        feature_dim=cache.feature_dim,
        num_classes=len(cache.class_names),
        learning_rate=1e-2,
        seed=3,
    )
    head.fit(np.asarray(cache.features), cache.labels, epochs=2, verbose=0)
    description = head_description(
        head="daam_h1_flatten",
        num_classes=len(cache.class_names),
        class_names=cache.class_names,
        preset=cache.preset,
        extractor=cache.extractor_settings,
        backbone_fingerprint=cache.settings["backbone_fingerprint"],
        preprocessing=cache.preprocessing,
        compile={"learning_rate": 1e-2},
        training={"epochs": 2},
    )
    path = str(tmp_path / "head")
    save_head_files(path, head, description)
    restored = load_head(path)
    features = extract_features(model.extractor, texts, model.preprocessor)
    np.testing.assert_allclose(
        restored.predict(texts),
        head.predict(features, verbose=0),
        atol=1e-5,
    )
    # The same format as DensityAdaptiveClassifier.save_head.
    model.save_head(str(tmp_path / "from_model"))
    keys = set(read_head_config(str(tmp_path / "from_model")))
    assert set(read_head_config(path)) == keys
    # The short form the command line uses: the cache and the head's name;
    # the compile settings are read off the compiled head.
    short = str(tmp_path / "short")
    save_head_files(
        short, head, cache=cache, head="daam_h1_flatten", training={"e": 2}
    )
    written = read_head_config(short)
    assert written["compile"]["learning_rate"] == pytest.approx(1e-2)
    assert written["compile"]["loss"] == "crossentropy"
    for key in ("extractor", "backbone_fingerprint", "preprocessing"):
        assert written[key] == read_head_config(path)[key]
    # Read back without a backbone (the command line's `explain`).
    bare, described = load_head_model(short)
    assert described["head"] == "daam_h1_flatten"
    np.testing.assert_allclose(
        bare.predict(features, verbose=0),
        head.predict(features, verbose=0),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="either a `description`"):
        save_head_files(short, head, description, cache=cache)
    with pytest.raises(ValueError, match="description says"):
        save_head_files(
            str(tmp_path / "wrong"),
            build_head("daam_h1_flatten", 2, 8, 4),
            description,
        )
    with pytest.raises(ValueError, match="does not rebuild this head"):
        save_head_files(
            str(tmp_path / "wrong"),
            build_head("daam_h1_pool", 2, 8, 3),
            description,
        )
    assert not os.path.exists(tmp_path / "wrong")


def test_head_loads_onto_a_second_instance_of_the_backbone(
    bare_preset, tmp_path
):
    """Keras numbers repeated instances (`bert_backbone_1`); heads
    identify the architecture and weights, not the instance name."""
    model = _bare_model(bare_preset)
    path = str(tmp_path / "head")
    model.save_head(path)
    backbone = model.extractor.backbone
    twin = backbone.__class__.from_config(
        backbone.get_config() | {"name": "renamed_backbone"}
    )
    with pytest.raises(ValueError, match="backbone_fingerprint"):
        load_head(path, twin)  # same architecture, other (random) weights
    twin.set_weights(backbone.get_weights())
    other = load_head(path, twin)
    x = make_inputs("bert", batch=3, seed=1)
    np.testing.assert_allclose(other.predict(x), model.predict(x), atol=1e-5)


@pytest.mark.large
def test_packaged_minilm_end_to_end(tmp_path, tiny_texts):
    texts, names = tiny_texts
    model = DensityAdaptiveClassifier.from_preset(
        "minilm",
        class_names=CLASSES,
        head="daam_h2_flatten",
        sequence_length=32,
        learning_rate=1e-3,
        seed=0,
    )
    features = extract_features(model.extractor, texts, model.preprocessor)
    ids = np.asarray([CLASSES.index(n) for n in names])
    model.fit_cached((features, ids), epochs=2, verbose=0)
    path = str(tmp_path / "head")
    model.save_head(path)
    assert read_head_config(path)["preset"] == "minilm"
    restored = load_head(path)
    np.testing.assert_allclose(
        restored.predict(texts[:8]), model.predict(texts[:8]), atol=1e-4
    )
    assert isinstance(restored.optimizer, keras.optimizers.AdamW)
