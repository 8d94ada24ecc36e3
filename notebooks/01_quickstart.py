# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   # ruff: noqa: E402
# ---

# %% [markdown]
# # keras_daam quickstart: a DAAM layer in a small Keras model
#
# <!-- "keras-daam/keras_daam" in the link below is a placeholder GitHub
# organisation/repository: replace it with the published repository. -->
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-daam/keras_daam/blob/main/notebooks/01_quickstart.ipynb)
#
# *The GitHub organisation in the Colab link is a placeholder until the
# repository is published.*
#
# Multi-Head Density Adaptive Attention (DAAM,
# [Ioannides, Chadha, Elkins, 2024](https://arxiv.org/abs/2401.11143))
# replaces dot-product attention with a learned Gaussian gate: along one
# axis it takes the data's own mean and variance, shifts the mean and scales
# the spread by learned parameters, evaluates a Gaussian at every element and
# multiplies the input by it. It is one Keras 3 layer,
# `keras_daam.layers.DensityAdaptiveAttention`, written in `keras.ops` only,
# so the same model runs on JAX, TensorFlow and PyTorch.
#
# In this notebook you will:
#
# 1. choose a Keras backend,
# 2. put a DAAM layer into a small classifier for scikit-learn's bundled
#    8x8 handwritten digits (each image is `[rows, cols]`; DAAM gates along
#    the rows),
# 3. look at the Density Attention map the layer produces,
# 4. save the model as `.keras` and reload it under *another* backend in a
#    subprocess, checking that the predictions agree.
#
# It runs on a Colab CPU runtime in about a minute.

# %% [markdown]
# ## Setup
#
# On Colab the package is installed first. Locally, install it yourself
# (`pip install "keras-daam[jax,plot]"`, or from a clone:
# `pip install -e ".[all]"`). The digits ship inside scikit-learn, so no
# dataset is downloaded.

# %%
import subprocess
import sys

if "google.colab" in sys.modules:
    # Until keras-daam is on PyPI, install from the repository instead:
    # pip install "keras-daam[jax,plot] @ git+https://github.com/keras-daam/keras_daam"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "keras-daam[jax,plot]"],
        check=True,
    )

# %% [markdown]
# The backend is fixed when Keras is imported, so it must be chosen first.
# `setdefault` keeps a value that is already set: the project's tests run
# this notebook under each backend by setting `KERAS_BACKEND` outside.
# Change `"jax"` to `"tensorflow"` or `"torch"` to try another one.
#
# `KERAS_DAAM_QUICK=1` is a smoke run for the test suite: less data, 2
# epochs and one other backend instead of two. Every cell still runs, but
# the numbers it prints mean nothing; leave it unset for the full run.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
QUICK = os.environ.get("KERAS_DAAM_QUICK", "0") == "1"

import json
import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_daam
from keras_daam import explain
from keras_daam.datasets import load_digits_8x8

print("Keras", keras.__version__, "on backend", keras.backend.backend())
print("keras_daam", keras_daam.__version__, "| quick mode:", QUICK)
keras.utils.set_random_seed(0)

# %% [markdown]
# ## Data: 1,797 real handwritten digits
#
# `load_digits_8x8` splits scikit-learn's digits into disjoint train,
# validation and test sets with a fixed seed. Pixel values are 0-16; we
# scale them to [0, 1]. Each image is treated as a sequence of 8 rows of 8
# features: `[batch, rows, cols]`.

# %%
sizes = (200, 50, 100) if QUICK else (1000, 200, 597)
(train, val, test), class_names = load_digits_8x8(*sizes, seed=0)
(x_train, y_train), (x_val, y_val), (x_test, y_test) = [
    (x.astype("float32") / 16.0, y) for x, y in (train, val, test)
]
print("train", x_train.shape, "val", x_val.shape, "test", x_test.shape)

fig, axes = plt.subplots(1, 8, figsize=(8, 1.4))
for ax, image, label in zip(axes, x_train, y_train):
    ax.imshow(image, cmap="gray_r")
    ax.set_title(class_names[label])
    ax.axis("off")
plt.show()

# %% [markdown]
# ## A DAAM layer inside a Keras model
#
# `DensityAdaptiveAttention(num_heads=2, axis=1)` splits the 8 rows into two
# heads of 4 rows. Each head computes, for every column, the mean and
# variance over its rows, and gates every pixel by
# `G = exp(-(x - mu - delta)^2 / (2 xi var))` with learned `delta` and `xi`
# per column (the paper's formulation). The output has the input's shape, so
# the layer drops into any model. We name it `"attention"`: the explanation
# tools in `keras_daam.explain` look for that name.
#
# A second model without the layer is the baseline. On such a small problem
# do not expect a large gap; the point here is the mechanics.


# %%
def make_model(use_daam):
    inputs = keras.Input((8, 8), name="image_rows")
    x = inputs
    if use_daam:
        x = keras_daam.layers.DensityAdaptiveAttention(
            num_heads=2, axis=1, name="attention"
        )(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(10, name="logits")(x)
    model = keras.Model(inputs, outputs, name="daam" if use_daam else "plain")
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


epochs = 2 if QUICK else 30
results = {}
for use_daam in (True, False):
    keras.utils.set_random_seed(0)
    model = make_model(use_daam)
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=32,
        verbose=0,
    )
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    results[model.name] = (model, history, accuracy)
    print(f"{model.name:>5}: test accuracy {accuracy:.3f}")

daam_model = results["daam"][0]
daam_model.summary()

# %%
fig, ax = plt.subplots(figsize=(5, 3))
for name, (_, history, _) in results.items():
    ax.plot(history.history["val_accuracy"], label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.legend()
plt.show()

# %% [markdown]
# ## The Density Attention map
#
# Called with `return_attention_scores=True`, the layer also returns its
# gate `G`, with the input's shape. Below, for a few test digits: the image,
# the gate (bright = let through) and the gated image the rest of the model
# sees.

# %%
daam = daam_model.get_layer("attention")
sample = x_test[:4]
gated, gate = daam(sample, return_attention_scores=True)
gated = keras.ops.convert_to_numpy(gated)
gate = keras.ops.convert_to_numpy(gate)
assert gate.shape == sample.shape
# The paper's gate lies in (0, 1]; far from the mean it can round to 0.
assert np.all((gate >= 0) & (gate <= 1))

fig, axes = plt.subplots(3, 4, figsize=(7, 5.5))
for j in range(4):
    for i, (title, image) in enumerate(
        (("input", sample[j]), ("gate G", gate[j]), ("x * G", gated[j]))
    ):
        axes[i, j].imshow(image, cmap="magma", vmin=0, vmax=1)
        axes[i, j].set_title(f"{title} ({class_names[y_test[j]]})", fontsize=8)
        axes[i, j].axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# Averaged over a dataset, the map shows which rows and columns the layer
# lets through. `keras_daam.explain.collect_density_maps` streams that mean
# over batches; `importance_factor` min-max scales it to [0, 1] (the
# paper's Importance Factor, IF). Here the "layers" axis is the image rows.
#
# A caveat you will meet again in `05_explainability`: the gate standardises
# each element by its own head's statistics, so even an *untrained* DAAM
# layer gives a structured map. A map is a description of what the layer
# does, not a proof of importance.

# %%
maps = explain.collect_density_maps(daam_model, x_test, batch_size=128)
if_map = explain.importance_factor(maps)
print("mean gate map", maps.shape, "IF range", if_map.min(), if_map.max())
explain.plot_importance_heatmap(
    if_map,
    layer_labels=[f"row {r}" for r in range(8)],
    title="Importance Factor over the test digits",
)
plt.show()

# The learned parameters: `mean_offset` (delta) and `scale` (xi), shaped
# [heads, densities, columns]; they start at 0 and 2.
delta = keras.ops.convert_to_numpy(daam.mean_offset)
xi = keras.ops.convert_to_numpy(daam.scale)
print("delta, head 0:", np.round(delta[0, 0], 3))
print("xi,    head 0:", np.round(xi[0, 0], 3))

# %% [markdown]
# ## Same model, another backend
#
# A `.keras` file stores the architecture and the weights, not backend
# code. We save the trained model, then load it in a fresh Python process
# with a different `KERAS_BACKEND` and compare its predictions with the ones
# computed here. Importing `keras_daam` in the subprocess registers the
# layer classes so that `keras.saving.load_model` can rebuild them.
# Backends never agree bit for bit; they agree to about 1e-5.

# %%
workdir = tempfile.mkdtemp(prefix="keras_daam_quickstart_")
model_path = os.path.join(workdir, "daam_digits.keras")
daam_model.save(model_path)
np.save(os.path.join(workdir, "x.npy"), x_test[:64])
reference = daam_model.predict(x_test[:64], verbose=0)

CHILD = """
import json, os, sys
import numpy as np
import keras
import keras_daam  # registers the keras_daam layers
workdir = sys.argv[1]
model = keras.saving.load_model(os.path.join(workdir, "daam_digits.keras"))
logits = model.predict(np.load(os.path.join(workdir, "x.npy")), verbose=0)
np.save(os.path.join(workdir, "logits_" + keras.backend.backend() + ".npy"),
        logits)
print(json.dumps({"backend": keras.backend.backend()}))
"""

here = keras.backend.backend()
others = [b for b in ("tensorflow", "jax", "torch") if b != here]
if QUICK:
    # One other backend is enough for a smoke run: JAX, which imports
    # fastest, or TensorFlow when this is JAX.
    others = [b for b in ("jax", "tensorflow") if b != here][:1]
for backend in others:
    env = dict(os.environ, KERAS_BACKEND=backend)
    run = subprocess.run(
        [sys.executable, "-c", CHILD, workdir],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0:
        raise RuntimeError(
            f"{backend} subprocess failed:\n{run.stderr[-2000:]}"
        )
    reported = json.loads(run.stdout.strip().splitlines()[-1])["backend"]
    logits = np.load(os.path.join(workdir, f"logits_{backend}.npy"))
    diff = float(np.max(np.abs(logits - reference)))
    same_class = float(np.mean(logits.argmax(-1) == reference.argmax(-1)))
    print(
        f"{here} -> {reported}: max |logit difference| = {diff:.2e}, "
        f"same predicted class for {same_class:.0%} of 64 digits"
    )
    assert reported == backend
    assert diff < 1e-4, f"{backend} disagrees with {here} by {diff}"

# %% [markdown]
# ## Where next
#
# - `02_text_minilm`: a DAAM head over all layers of a frozen MiniLM text
#   encoder, against baseline heads.
# - `03_vision_efficientnet` and `04_audio_whisper`: the same for images and
#   (synthetic) speech.
# - `05_explainability`: the Importance Factor, and how to test whether it
#   means anything.
