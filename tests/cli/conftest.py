"""A tiny, random (not pretrained) BERT preset and a tiny CSV dataset."""

import csv

import numpy as np
import pytest

WORDS = ["red", "green", "blue", "cat", "dog", "fish", "sun", "moon"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


@pytest.fixture(scope="session")
def tiny_bert_preset(tmp_path_factory):
    import keras_hub

    folder = tmp_path_factory.mktemp("tiny_bert_preset")
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB),
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    backbone.save_to_preset(str(folder))
    preprocessor.save_to_preset(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory):
    """60 rows, 3 classes; each class has its own words (learnable)."""
    path = tmp_path_factory.mktemp("tiny_csv") / "data.csv"
    rng = np.random.default_rng(0)
    groups = [WORDS[0:3], WORDS[3:6], WORDS[6:8]]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(60):
            label = i % 3
            words = rng.choice(groups[label], size=3)
            writer.writerow([" ".join(words), f"class_{label}"])
    return str(path)
