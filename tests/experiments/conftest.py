"""Fixtures of the experiment tests: a tiny BERT standing in for MiniLM."""

import pytest

from tests.experiments.tiny import TINY_DIM
from tests.experiments.tiny import TINY_LAYERS
from tests.experiments.tiny import VOCAB


@pytest.fixture(scope="session")
def tiny_minilm_preset(tmp_path_factory):
    """A saved random BERT preset: 6 layers x 8 features, 64 positions."""
    import keras_hub

    folder = tmp_path_factory.mktemp("tiny_minilm")
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB),
        num_layers=TINY_LAYERS,
        num_heads=2,
        hidden_dim=TINY_DIM,
        intermediate_dim=16,
        max_sequence_length=64,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=64
    )
    backbone.save_to_preset(str(folder))
    preprocessor.save_to_preset(str(folder))
    return str(folder)


@pytest.fixture
def tiny_minilm(monkeypatch, tiny_minilm_preset):
    """Route the text experiments' MiniLM to the tiny preset."""
    from keras_daam.experiments import wordnet

    monkeypatch.setattr(wordnet, "minilm_location", lambda: tiny_minilm_preset)
    monkeypatch.setattr(wordnet, "MINILM_SHAPE", (TINY_LAYERS, TINY_DIM))
    return tiny_minilm_preset
