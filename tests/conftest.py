import atexit
import csv
import os
import shutil
import sys
import tempfile


def _share_jax_compilation_cache():
    """JAX's persistent compilation cache for this session (set up before
    JAX is imported, so the environment reaches every process it starts).

    Tests build the same small programs again and again under new model
    instances (every head's train step, every backbone load), which JAX's
    in-memory caches do not recognise; the persistent cache is keyed by the
    whole computation, so a program compiled once is loaded afterwards.
    It never changes a result, only skips compiling the same program
    twice. The environment reaches the subprocesses the tests start (CLI,
    worker processes, notebook kernels), which then share it too.

    `$KERAS_DAAM_TEST_JAX_CACHE` names the folder (`scripts/run_tests.py`
    gives its three backends one); empty turns the cache off; unset, a
    fresh folder for this session, removed at exit. A
    `JAX_COMPILATION_CACHE_DIR` set outside wins.
    """
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    folder = os.environ.get("KERAS_DAAM_TEST_JAX_CACHE")
    if folder == "":
        return
    if folder is None:
        folder = tempfile.mkdtemp(prefix="keras_daam_test_jax_cache_")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    # Keep every program: most take well under JAX's default 1 s.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    # No size limit: with one, every write lists and reads the whole folder
    # to evict (quadratic in the thousands of small programs of a session:
    # eager-heavy tests ran 1.5x slower). A session writes some 100 MB.
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", "-1")
    if "jax" in sys.modules:  # imported already (a plugin): too late for
        import jax  # its environment defaults, not for its config

        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update(
            "jax_persistent_cache_min_compile_time_secs",
            float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
        )
        jax.config.update(
            "jax_compilation_cache_max_size",
            int(os.environ["JAX_COMPILATION_CACHE_MAX_SIZE"]),
        )


_share_jax_compilation_cache()

# Import torch before TensorFlow (as Keras's own conftest does): the other
# order can crash on some machines.
try:
    import torch  # noqa: F401
except ImportError:
    pass

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

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
