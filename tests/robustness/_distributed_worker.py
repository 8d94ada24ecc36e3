"""Body of the multi-device tests, run in a fresh process.

`python _distributed_worker.py jax|tensorflow` prints one JSON line with
the per-step losses of the same DAAM head trained on one device and
data-parallel over 4 CPU devices (JAX: `keras.distribution.DataParallel`,
TensorFlow: `tf.distribute.MirroredStrategy`), and on JAX also under
`keras.distribution.ModelParallel` with a frozen "backbone" whose kernel is
sharded over a 2 x 2 mesh. The caller sets `KERAS_BACKEND` and, for JAX,
`XLA_FLAGS=--xla_force_host_platform_device_count=4` (read when jax is
imported, hence the separate process).
"""

import json
import sys

import numpy as np

MODE = sys.argv[1]
if MODE == "tensorflow":
    import tensorflow as tf

    # Must run before TensorFlow creates its devices (before any op).
    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 4
    )

import keras  # noqa: E402

from keras_daam.layers import DensityAdaptiveAttention  # noqa: E402

STEPS, BATCH = 12, 16
rng = np.random.default_rng(0)
X = rng.normal(size=(STEPS * BATCH, 8, 16)).astype("float32")
Y = (X[:, :4].mean(axis=(1, 2)) > 0).astype("int32") + 2 * (
    X[:, 4:, :8].mean(axis=(1, 2)) > 0
).astype("int32")


def build(backbone=False):
    inputs = keras.Input((8, 16))
    x = inputs
    if backbone:
        # Stands in for a large frozen encoder whose weights are sharded.
        x = keras.layers.Dense(32, name="backbone_dense", trainable=False)(x)
    x = DensityAdaptiveAttention(num_heads=4, seed=0, name="daam")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(4, name="classifier")(x)
    return keras.Model(inputs, outputs)


def train(init, backbone=False):
    model = build(backbone)
    model.set_weights(init)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    losses = []
    for i in range(STEPS):
        batch = slice(i * BATCH, (i + 1) * BATCH)
        losses.append(float(model.train_on_batch(X[batch], Y[batch])))
    return model, losses


keras.utils.set_random_seed(0)
init = build().get_weights()
init_backbone = build(backbone=True).get_weights()
result = {"single": train(init)[1]}

if MODE == "jax":
    import jax
    from keras import distribution

    devices = distribution.list_devices("cpu")
    result["num_devices"] = len(devices)
    result["single_backbone"] = train(init_backbone, backbone=True)[1]

    distribution.set_distribution(distribution.DataParallel(devices=devices))
    result["parallel"] = train(init)[1]

    # Model parallel: a 2 x 2 mesh, batch split over "batch", the frozen
    # backbone's kernel split column-wise over "model". The DAAM head is
    # small and stays replicated (no layout given).
    mesh = distribution.DeviceMesh((2, 2), ("batch", "model"), devices)
    layout_map = distribution.LayoutMap(mesh)
    layout_map["backbone_dense/kernel"] = (None, "model")
    layout_map["backbone_dense/bias"] = ("model",)
    distribution.set_distribution(
        distribution.ModelParallel(
            layout_map=layout_map, batch_dim_name="batch"
        )
    )
    model, result["model_parallel"] = train(init_backbone, backbone=True)
    kernel = model.get_layer("backbone_dense").kernel.value
    result["kernel_shard_shapes"] = sorted(
        {tuple(s.data.shape) for s in kernel.addressable_shards}
    )
    result["daam_devices"] = len(
        model.get_layer("daam").scale.value.sharding.device_set
    )
    assert isinstance(jax.devices()[0], jax.Device)
else:
    strategy = tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")]
    )
    result["num_devices"] = strategy.num_replicas_in_sync
    with strategy.scope():
        result["parallel"] = train(init)[1]

print("RESULT " + json.dumps(result))
