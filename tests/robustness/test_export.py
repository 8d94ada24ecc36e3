"""Export of a model holding every DAAM layer, and running the artifact.

The model stacks `DensityAdaptiveAttention` (paper gate and normalised
mixture), a `DensityBlock` over two axes and `GroupedQueryDensityAttention`.
It is exported with `model.export(...)`, loaded back with the runtime a
deployment would use (TensorFlow's SavedModel loader, onnxruntime) and must
match Keras's predictions to 1e-4, also at a batch size other than the one
traced. `docs/deployment.md` has the support matrix.
"""

import keras
import numpy as np
import pytest

from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import DensityBlock
from keras_daam.layers import GroupedQueryDensityAttention

BACKEND = keras.backend.backend()
SHAPE = (8, 16)  # [layers, features]


def build(output_norm=True):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(SHAPE, name="features")
    x = DensityAdaptiveAttention(num_heads=2, name="daam_paper")(inputs)
    x = DensityAdaptiveAttention(
        num_heads=2,
        num_densities=3,
        formulation="mixture",
        seed=0,
        name="daam_mixture",
    )(x)
    x = DensityBlock(
        num_layers=2,
        axes=[1, 2],
        num_heads=[2, 4],
        num_densities=3,
        seed=0,
        name="density_block",
    )(x)
    x = GroupedQueryDensityAttention(
        hidden_dim=16,
        num_query_heads=4,
        num_key_value_heads=2,
        density_heads=2,
        use_output_norm=output_norm,
        seed=0,
        name="gqdaam",
    )(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    data = {n: rng.normal(size=(n,) + SHAPE).astype("float32") for n in (5, 3)}
    # Export traces the model; the torch and JAX ONNX exporters need it
    # called once directly (`predict` does not mark it as called).
    model(data[5])
    return model, data


@pytest.fixture(scope="module")
def model_and_data():
    return build()


def check(model, data, run):
    for batch in data.values():
        expected = model.predict(batch, verbose=0)
        got = np.asarray(run(batch))
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_tf_saved_model(model_and_data, tmp_path):
    model, data = model_and_data
    path = str(tmp_path / "saved_model")
    if BACKEND == "torch":
        # keras 3.15 exports a SavedModel from torch only through torch_xla
        # (see docs/deployment.md). Pinned, so a Keras that lifts the
        # limitation makes this test fail and the docs get updated.
        with pytest.raises(Exception):
            model.export(path, format="tf_saved_model", verbose=False)
        return
    import tensorflow as tf

    model.export(path, format="tf_saved_model", verbose=False)
    # Keep a reference: the loaded object owns the variables.
    artifact = tf.saved_model.load(path)
    check(model, data, lambda x: artifact.serve(x).numpy())


ONNX_CONVERTER = {"tensorflow": "tf2onnx", "jax": "jax2onnx", "torch": "torch"}


# keras 3.15's torch `layer_normalization` builds its broadcast shape from
# traced tensor sizes, which the TorchScript-based ONNX exporter rejects
# ("Failed to export a node ... because it is not constant"). Any
# `LayerNormalization` hits it; GQA-DAAM's output norm is one.
TORCH_LAYER_NORM = pytest.mark.xfail(
    BACKEND == "torch",
    reason="keras 3.15 torch LayerNormalization does not export to ONNX",
    strict=True,
)


@pytest.mark.parametrize(
    "output_norm", [pytest.param(True, marks=TORCH_LAYER_NORM), False]
)
def test_onnx(output_norm, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip(
        ONNX_CONVERTER[BACKEND],
        reason=f"ONNX export from {BACKEND} needs "
        f"{ONNX_CONVERTER[BACKEND]}; see docs/deployment.md",
    )
    model, data = build(output_norm)
    path = str(tmp_path / "model.onnx")
    model.export(path, format="onnx", verbose=False)
    session = ort.InferenceSession(path)
    name = session.get_inputs()[0].name
    check(model, data, lambda x: session.run(None, {name: x})[0])
