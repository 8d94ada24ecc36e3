import numpy as np
import pytest
from keras import ops

from keras_daam.heads import IdentityAttention
from keras_daam.heads import LastLayer
from keras_daam.heads import LayerSelfAttention
from keras_daam.heads import WeightedLayerSum


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("use_batch_norm", [False, True])
def test_mha_attends_within_a_sample_only(use_batch_norm):
    # The authors' baseline attended across the batch; guard against it.
    layer = LayerSelfAttention(num_heads=2, use_batch_norm=use_batch_norm)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 8)).astype("float32")
    other = x.copy()
    other[1:] = rng.normal(size=(3, 6, 8))
    a = _np(layer(x, training=False))
    b = _np(layer(other, training=False))
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    np.testing.assert_allclose(
        a[0], _np(layer(x[:1], training=False))[0], atol=1e-6
    )
    # Within a sample the tokens do mix: changing one layer moves the others.
    moved = x.copy()
    moved[0, 5] += 3.0
    c = _np(layer(moved, training=False))
    assert np.abs(c[0, :5] - a[0, :5]).max() > 1e-4


def test_mha_bn_counts_and_mask():
    layer = LayerSelfAttention(num_heads=2, use_batch_norm=True)
    layer.build((None, 6, 8))
    # MHA: 4 projections of 8x8 (2 heads x 4) + biases; BN: 2 x 6 trainable.
    assert layer.count_params() == 4 * (8 * 8 + 8) + 4 * 6
    assert (
        sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        == 4 * 72 + 12
    )
    mask = np.ones((2, 6), bool)
    mask[0, 4:] = False
    y = _np(
        layer(np.ones((2, 6, 8), "float32"), padding_mask=mask, training=True)
    )
    assert np.all(y[0, 4:] == 0)


def test_weighted_sum_starts_as_mean_and_masks():
    layer = WeightedLayerSum()
    x = np.random.default_rng(1).normal(size=(2, 6, 4)).astype("float32")
    np.testing.assert_allclose(_np(layer(x))[:, 0], x.mean(1), atol=1e-6)
    mask = np.array([[True] * 3 + [False] * 3, [True] * 6])
    x2 = x.copy()
    x2[0, 3:] = np.inf
    y = _np(layer(x2, padding_mask=mask))
    np.testing.assert_allclose(y[0, 0], x[0, :3].mean(0), atol=1e-6)
    np.testing.assert_allclose(y[1, 0], x[1].mean(0), atol=1e-6)
    layer.layer_logits.assign(np.array([0, 0, 0, 0, 0, 50.0], "float32"))
    np.testing.assert_allclose(_np(layer(x))[:, 0], x[:, 5], atol=1e-5)
    normed = WeightedLayerSum(normalize=True)(x * 100.0 + 7.0)
    assert np.abs(_np(normed).mean(-1)).max() < 1e-4


def test_last_layer_picks_last_real_layer():
    x = np.arange(2 * 5 * 3, dtype="float32").reshape(2, 5, 3)
    np.testing.assert_array_equal(_np(LastLayer()(x)), x[:, -1:])
    mask = np.array([[True, True, False, False, False], [True] * 5])
    x2 = x.copy()
    x2[0, 2:] = np.nan
    y = _np(LastLayer()(x2, padding_mask=mask))
    np.testing.assert_array_equal(y[:, 0], np.stack([x[0, 1], x[1, 4]]))


def test_identity_zeroes_padded_layers_only():
    x = np.ones((1, 4, 2), "float32")
    np.testing.assert_array_equal(_np(IdentityAttention()(x)), x)
    y = _np(IdentityAttention()(x, padding_mask=np.array([[1, 1, 0, 1]], bool)))
    np.testing.assert_array_equal(y[0, :, 0], [1, 1, 0, 1])


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_heads"):
        LayerSelfAttention(num_heads=0)
    with pytest.raises(ValueError, match="layers, features"):
        WeightedLayerSum()(np.zeros((2, 3, 4, 5)))
