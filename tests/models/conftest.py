"""Tiny random (not pretrained) presets and a trained text classifier.

`tiny_bert_preset` and `tiny_texts` come from `tests/conftest.py` (a BERT
with a tokenizer, 2 layers x 8, and 60 labelled texts); `bare_preset` is a
BERT saved without a tokenizer (2 layers x 16).
"""

import numpy as np
import pytest

from keras_daam.features import extract_to_cache
from keras_daam.models import DensityAdaptiveClassifier
from tests.backbones.tiny import make_backbone

CLASSES = ["class_0", "class_1", "class_2"]
# One DAAM head over the 2 layers with the light flatten decoder (the
# default "daamv2" has the paper's larger conv decoder).
TEXT_HEAD = dict(head="daam_h1_flatten", learning_rate=1e-2, seed=1)


@pytest.fixture(scope="session")
def bare_preset(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("bare_preset"))
    make_backbone("bert").save_to_preset(path)
    return path


@pytest.fixture(scope="session")
def other_bare_preset(tmp_path_factory):
    """The same architecture as `bare_preset`, other random weights."""
    path = str(tmp_path_factory.mktemp("other_bare_preset"))
    make_backbone("bert").save_to_preset(path)
    return path


def make_text_model(preset, **overrides):
    options = dict(class_names=CLASSES, sequence_length=16, **TEXT_HEAD)
    options.update(overrides)
    return DensityAdaptiveClassifier.from_preset(preset, **options)


@pytest.fixture(scope="module")
def trained(tiny_bert_preset, tiny_texts, tmp_path_factory):
    """A text classifier trained with `fit_cached` on a feature cache.

    Returns `(model, texts, labels, cache, logits_before_training)`.
    """
    texts, labels = tiny_texts
    model = make_text_model(tiny_bert_preset)
    before = model.predict(texts)
    cache = extract_to_cache(
        model.extractor,
        texts,
        str(tmp_path_factory.mktemp("cache")),
        labels=labels,
        class_names=CLASSES,
        preprocessor=model.preprocessor,
        verbose=False,
    )
    model.fit_cached(cache, epochs=3, batch_size=16, verbose=0)
    return model, texts, np.asarray(cache.labels), cache, before
