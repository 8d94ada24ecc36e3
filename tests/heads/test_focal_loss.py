import keras
import numpy as np
import pytest
from keras import ops

from keras_daam.heads import FocalLoss


def _logits(seed=0):
    return np.random.default_rng(seed).normal(size=(5, 4)).astype("float32") * 3


def test_sparse_equals_one_hot_and_keras():
    logits = _logits()
    labels = np.array([0, 3, 1, 1, 2])
    one_hot = np.eye(4, dtype="float32")[labels]
    loss = FocalLoss(alpha=0.25, gamma=2.5)
    sparse = float(loss(labels, logits))
    dense = float(loss(one_hot, logits))
    column = float(loss(labels[:, None], logits))
    keras_value = float(
        keras.losses.CategoricalFocalCrossentropy(
            alpha=0.25, gamma=2.5, from_logits=True
        )(one_hot, logits)
    )
    assert sparse == pytest.approx(dense, rel=1e-5)
    assert sparse == pytest.approx(column, rel=1e-5)
    assert sparse == pytest.approx(keras_value, rel=1e-4)


def test_formula_and_gamma_zero():
    logits = _logits(1)
    labels = np.array([2, 0, 1, 3, 0])
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    log_pt = log_p[np.arange(5), labels]
    pt = np.exp(log_pt)
    expected = np.mean(0.5 * (1 - pt) ** 2.0 * -log_pt)
    assert float(
        FocalLoss(alpha=0.5, gamma=2.0)(labels, logits)
    ) == pytest.approx(expected, rel=1e-5)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(
        FocalLoss(alpha=1.0, gamma=0.0)(labels, logits)
    ) == pytest.approx(float(ce(labels, logits)), rel=1e-5)
    probs = ops.softmax(logits)
    assert float(FocalLoss(from_logits=False)(labels, probs)) == pytest.approx(
        float(FocalLoss()(labels, logits)), rel=1e-4
    )


def test_large_logits_stay_finite_and_serialize():
    logits = np.array([[1e4, -1e4, 0.0]], "float32")
    assert np.isfinite(float(FocalLoss()(np.array([1]), logits)))
    loss = FocalLoss(alpha=0.3, gamma=1.5)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(clone, FocalLoss)
    assert (clone.alpha, clone.gamma, clone.from_logits) == (0.3, 1.5, True)
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)
