import csv
import os

# Import torch before TensorFlow (as Keras's own conftest does): the other
# order can crash on some machines.
try:
    import torch  # noqa: F401
except ImportError:
    pass

import keras
import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# Heads train in this process under test (the commands' "auto" would start
# worker processes: slow to start, and invisible to monkeypatching);
# tests/evaluation checks the worker processes themselves.
os.environ.setdefault("KERAS_DAAM_WORKERS", "1")

# A tiny random (not pretrained) BERT vocabulary shared by the fixtures.
WORDS = ["red", "green", "blue", "cat", "dog", "fish", "sun", "moon"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS


@pytest.fixture(scope="session")
def tiny_bert_preset(tmp_path_factory):
    """A tiny random BERT preset folder (backbone + tokenizer), offline.

    Maximum sequence length 32; the saved preprocessor packs to 8.
    """
    import keras_hub

    folder = tmp_path_factory.mktemp("tiny_bert_preset")
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB),
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=32,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCAB)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=8
    )
    backbone.save_to_preset(str(folder))
    preprocessor.save_to_preset(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_texts():
    """60 texts of 1-20 words and their labels (3 learnable classes)."""
    rng = np.random.default_rng(0)
    groups = [WORDS[0:3], WORDS[3:6], WORDS[6:8]]
    texts, labels = [], []
    for i in range(60):
        label = i % 3
        words = rng.choice(groups[label], size=int(rng.integers(1, 21)))
        texts.append(" ".join(words))
        labels.append(f"class_{label}")
    return texts, labels


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory, tiny_texts):
    """`tiny_texts` as a CSV file with a `text,label` header."""
    path = tmp_path_factory.mktemp("tiny_csv") / "data.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(*tiny_texts))
    return str(path)


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    keras.config.set_dtype_policy("float32")


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"
