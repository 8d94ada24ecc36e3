import keras
import numpy as np
import pytest
from keras import ops

from keras_daam.heads import ConvDecoder
from keras_daam.heads import TokenMeanPooling
from keras_daam.heads import map_shape_for


@pytest.mark.parametrize(
    "features, shape",
    [
        (1024, (32, 32)),
        (384, (16, 24)),
        (5120, (64, 80)),
        (512, (16, 32)),
        (7, (1, 7)),
    ],
)
def test_map_shape_for(features, shape):
    assert map_shape_for(features) == shape


def test_paper_conv_counts_and_shapes():
    decoder = ConvDecoder()
    decoder.build((None, 24, 1024))
    assert decoder.count_params() == 24 * 512 * 9 + 512 + 512 * 24 * 9 + 24
    assert decoder.count_params() == 221_720
    assert decoder.conv_in.kernel.shape == (3, 3, 24, 512)
    out = ConvDecoder(filters=4)(np.zeros((2, 3, 12), "float32"))
    assert tuple(out.shape) == (2, 36)
    pooled = ConvDecoder(filters=4, pooling="avg")(
        np.zeros((2, 3, 12), "float32")
    )
    assert tuple(pooled.shape) == (2, 3)


def test_map_layout_is_per_token():
    # A token's features must land in its own channel, row-major on h x w.
    decoder = ConvDecoder(filters=1, kernel_size=1, map_shape=(2, 3))
    decoder.build((None, 2, 6))
    decoder.conv_in.kernel.assign(np.array([1.0, 0.0]).reshape(1, 1, 2, 1))
    decoder.conv_in.bias.assign(np.zeros(1))
    decoder.conv_out.kernel.assign(np.ones((1, 1, 1, 2)))
    decoder.conv_out.bias.assign(np.zeros(2))
    x = np.stack([np.arange(6.0), -np.arange(6.0)])[None].astype("float32")
    y = ops.convert_to_numpy(decoder(x)).reshape(2, 3, 2)
    np.testing.assert_array_equal(y[..., 0], np.arange(6.0).reshape(2, 3))


def test_given_map_shape_and_errors():
    decoder = ConvDecoder(filters=2, map_shape=(8, 64))
    decoder.build((None, 24, 512))
    assert decoder.count_params() == 24 * 2 * 9 + 2 + 2 * 24 * 9 + 24
    with pytest.raises(ValueError, match="cells"):
        ConvDecoder(map_shape=(3, 3)).build((None, 2, 10))
    with pytest.raises(ValueError, match="filters"):
        ConvDecoder(filters=0)
    with pytest.raises(ValueError, match="pooling"):
        ConvDecoder(pooling="max")


def test_config_round_trip():
    decoder = ConvDecoder(filters=4, map_shape=(2, 6), pooling="avg")
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(decoder)
    )
    assert clone.get_config() == decoder.get_config()


def test_token_mean_pooling_mask():
    x = np.arange(12, dtype="float32").reshape(1, 3, 4)
    mask = np.array([[True, False, True]])
    y = ops.convert_to_numpy(TokenMeanPooling()(x, padding_mask=mask))
    np.testing.assert_allclose(y[0], (x[0, 0] + x[0, 2]) / 2)
    empty = TokenMeanPooling()(x, padding_mask=np.zeros((1, 3), bool))
    np.testing.assert_array_equal(ops.convert_to_numpy(empty), 0)
