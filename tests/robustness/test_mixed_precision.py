"""Training under mixed precision on a real packaged dataset.

scikit-learn's `load_digits` (1,797 8x8 images, 10 classes) is treated as
`[batch, 8 rows, 8 columns]` with DAAM attending along the rows. The same
initial weights and the same batches are trained for 200 steps in float32,
`mixed_float16` and `mixed_bfloat16`; no loss may be NaN, and test accuracy
must stay within 1 point of float32.

1 point is 6 of the 597 test images, about one binomial standard error of
an accuracy near 95% at this size (sqrt(0.95 * 0.05 / 597) = 0.9 points),
so unpaired runs could not be compared to 1 point. The runs here are paired
(same initial weights, same batches), and the test also checks that the
mixed-precision model agrees with the float32 one on at least 95% of the
test predictions.
"""

import keras
import numpy as np
import pytest

from keras_daam.layers import DensityAdaptiveAttention

pytest.importorskip("sklearn")

STEPS = 200
BATCH = 32


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype("float32")  # [N, 8, 8] in [0, 1]
    y = data.target.astype("int32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_test, y_test = x[:1200], y[:1200], x[1200:], y[1200:]
    # Exactly STEPS batches, in a fixed order shared by every run.
    idx = np.concatenate(
        [
            np.random.default_rng(e).permutation(len(x_train))
            for e in range(STEPS * BATCH // len(x_train) + 1)
        ]
    )[: STEPS * BATCH]
    return x_train[idx], y_train[idx], x_test, y_test


def build_model():
    inputs = keras.Input((8, 8))
    x = DensityAdaptiveAttention(num_heads=2, axis=1, name="daam")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    # Logits in float32, as the mixed-precision guide recommends.
    outputs = keras.layers.Dense(10, dtype="float32")(x)
    return keras.Model(inputs, outputs)


def train(policy, init_weights, data):
    keras.config.set_dtype_policy(policy)
    try:
        model = build_model()
        model.set_weights(init_weights)
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        x_train, y_train, x_test, y_test = data
        history = model.fit(
            x_train,
            y_train,
            batch_size=BATCH,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[BatchLosses()],
        )
        logits = model.predict(x_test, batch_size=256, verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    return model, history, np.argmax(logits, axis=-1)


class BatchLosses(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))

    def on_train_end(self, logs=None):
        self.model.batch_losses = self.losses


@pytest.mark.large
def test_mixed_precision_training_matches_float32():
    data = digits()
    keras.utils.set_random_seed(0)
    init = build_model().get_weights()
    _, _, pred32 = train("float32", init, data)
    y_test = data[3]
    acc32 = np.mean(pred32 == y_test)
    assert acc32 > 0.85, acc32  # it learned something worth comparing

    for policy, compute in (
        ("mixed_float16", "float16"),
        ("mixed_bfloat16", "bfloat16"),
    ):
        model, _, pred = train(policy, init, data)
        daam = model.get_layer("daam")
        assert daam.compute_dtype == compute
        assert all(w.dtype == "float32" for w in daam.weights)
        # Keras wraps the optimizer for float16 only (bfloat16 has
        # float32's range and needs no loss scaling).
        scaled = isinstance(
            model.optimizer, keras.optimizers.LossScaleOptimizer
        )
        assert scaled == (compute == "float16"), (policy, model.optimizer)
        losses = np.array(model.batch_losses)
        assert len(losses) == STEPS
        assert np.isfinite(losses).all(), policy
        for w in model.weights:
            assert np.isfinite(keras.ops.convert_to_numpy(w)).all(), w.path
        acc = np.mean(pred == y_test)
        assert abs(acc - acc32) <= 0.01, (policy, acc, acc32)
        # Paired: the mixed model predicts like the float32 one.
        assert np.mean(pred == pred32) >= 0.95, (policy, pred == pred32)
