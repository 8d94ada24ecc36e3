"""Writes the GQA-DAAM compatibility fixture (run once per backend).

The files next to this script were written by the implementation of
`GroupedQueryDensityAttention` at commit 389a156 (a subclass of
`keras.layers.GroupQueryAttention` overriding its private
`_compute_attention`). They pin that layer's outputs, so that any later
implementation can be checked against it:

- `gqdaam_v1.keras`: a model around one layer (`gqdaam`, no dropout)
  with random weights drawn from NumPy (identical on every backend). The
  archive Keras writes is stored uncompressed (70 KB, mostly empty HDF5
  structure); it is re-zipped with deflate (7 KB), which Keras reads as is.
- `gqdaam_v1.npz`: the input, a padding mask and the layer's outputs:
  without and with scores, with and without the mask (written by the JAX
  run), plus, per backend, the training-mode outputs and scores of a copy
  with `dropout=0.25, seed=3` (built from the config, weights copied from
  the loaded file); random streams differ across backends.

Usage, from the repository root:

    for b in jax tensorflow torch; do
        KERAS_BACKEND=$b python tests/layers/data/make_gqdaam_fixture.py
    done
"""

import os
import zipfile

import keras
import numpy as np

from keras_daam.layers import GroupedQueryDensityAttention

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "gqdaam_v1.keras")
ARRAYS = os.path.join(HERE, "gqdaam_v1.npz")
KWARGS = dict(
    hidden_dim=16, num_query_heads=4, num_key_value_heads=2, density_heads=2
)


def build_model():
    inputs = keras.Input((6, 8))
    layer = GroupedQueryDensityAttention(name="gqdaam", **KWARGS)
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(0)
    for w in model.weights:
        value = rng.normal(scale=0.3, size=w.shape)
        if w.path.endswith(("density_attention/scale", "output_norm/gamma")):
            value = 1.5 + np.abs(value)
        w.assign(value.astype("float32"))
    return model


def reference_outputs(layer, x, mask):
    out = {"y": layer(x)}
    out["y_scores"], out["density_map"], out["scores"] = layer(
        x, return_attention_scores=True
    )
    out["y_masked"] = layer(x, padding_mask=mask)
    (
        out["y_masked_scores"],
        out["density_map_masked"],
        out["scores_masked"],
    ) = layer(x, padding_mask=mask, return_attention_scores=True)
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def dropout_outputs(model, x, mask):
    loaded = model.get_layer("gqdaam")
    config = dict(loaded.get_config(), dropout=0.25, seed=3)
    layer = GroupedQueryDensityAttention.from_config(config)
    layer.build(x.shape)
    layer.set_weights(loaded.get_weights())
    y, _, scores = layer(
        x, padding_mask=mask, return_attention_scores=True, training=True
    )
    return keras.ops.convert_to_numpy(y), keras.ops.convert_to_numpy(scores)


def save_deflated(model, path):
    stored = path + ".stored.keras"
    model.save(stored)
    with zipfile.ZipFile(stored) as src:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info.filename))
    os.remove(stored)


def main():
    backend = keras.backend.backend()
    arrays = dict(np.load(ARRAYS)) if os.path.exists(ARRAYS) else {}
    if backend == "jax":
        model = build_model()
        save_deflated(model, MODEL)
        rng = np.random.default_rng(1)
        x = rng.normal(size=(3, 6, 8)).astype("float32")
        mask = np.ones((3, 6), bool)
        mask[0, 4] = False
        mask[1, 3:] = False
        arrays.update(x=x, mask=mask)
        arrays.update(reference_outputs(model.get_layer("gqdaam"), x, mask))
    x, mask = arrays["x"], arrays["mask"]
    y, scores = dropout_outputs(keras.saving.load_model(MODEL), x, mask)
    arrays[f"dropout_y_{backend}"] = y
    arrays[f"dropout_scores_{backend}"] = scores
    np.savez_compressed(ARRAYS, **arrays)


if __name__ == "__main__":
    main()
