import os

import keras
import numpy as np
from keras.src import testing

from keras_daam.layers import DensityBlock
from tests.backend_utils import to_numpy
from tests.layers.authors_package import copy_from_torch


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


class DensityBlockTest(testing.TestCase):
    def test_layer_basics(self):
        self.run_layer_test(
            DensityBlock,
            init_kwargs={
                "num_layers": 2,
                "axes": [1, -1],
                "num_heads": [2, 5],
                "num_densities": 2,
            },
            input_shape=(2, 4, 5),
            expected_output_shape=(2, 4, 5),
            expected_num_trainable_weights=4,
            supports_masking=True,
        )

    def test_residual_and_maps(self):
        x = _x((2, 6, 4), seed=23)
        block = DensityBlock(num_layers=2, axes=[1, 2], num_heads=[3, 2])
        y, maps = block(x, return_attention_scores=True)
        self.assertEqual(len(maps), 2)
        first = block.attention_layers[0]
        second = block.attention_layers[1]
        h = to_numpy(first(x)) + x
        expected = to_numpy(second(h)) + h
        self.assertAllClose(to_numpy(y), expected, atol=1e-6)
        self.assertEqual(tuple(maps[1].shape), (2, 6, 4))

    def test_parity_with_gaussian_block_0_1_5(self):
        # PyTorch and the authors' package are test requirements on every
        # backend (tests/test_environment.py checks they are installed).
        import gaussian_adaptive_attention as gaa
        import torch

        torch.manual_seed(1)
        theirs = gaa.GaussianBlock([1, 2], [2, 4], [2, 3], 2)
        with torch.no_grad():
            for layer_ in theirs.layers:
                for h in layer_.attention_heads:
                    h.c.copy_(1.0 + torch.rand_like(h.c))
        x = _x((3, 8, 12), seed=9)
        expected = theirs(torch.tensor(x)).detach().numpy()
        block = DensityBlock(
            num_layers=2, axes=[1, 2], num_heads=[2, 4], num_densities=[2, 3]
        )
        block.build(x.shape)
        for ours, them in zip(block.attention_layers, theirs.layers):
            copy_from_torch(them, ours)
        self.assertAllClose(to_numpy(block(x)), expected, atol=1e-5)

    def test_shared_initializer_instance_is_cloned_per_layer(self):
        # An unseeded initializer fixes its seed when created: one instance
        # shared by every layer would give them identical initial values.
        init = keras.initializers.RandomUniform(1.0, 2.0)
        block = DensityBlock(num_layers=2, num_heads=2, scale_initializer=init)
        block.build((2, 6, 4))
        first, second = (
            to_numpy(layer.scale) for layer in block.attention_layers
        )
        self.assertFalse(np.allclose(first, second))
        self.assertTrue(np.all((first >= 1.0) & (first <= 2.0)))
        config = block.get_config()["scale_initializer"]
        self.assertEqual(config["class_name"], "RandomUniform")
        # A seeded one keeps its seed in every layer, as asked.
        seeded = DensityBlock(
            num_layers=2,
            num_heads=2,
            scale_initializer=keras.initializers.RandomUniform(1.0, 2.0, 7),
        )
        seeded.build((2, 6, 4))
        first, second = (
            to_numpy(layer.scale) for layer in seeded.attention_layers
        )
        self.assertAllClose(first, second)

    def test_per_layer_argument_errors(self):
        with self.assertRaisesRegex(ValueError, r"`axes` has 3 entries"):
            DensityBlock(num_layers=2, axes=[1, 2, 1])
        with self.assertRaisesRegex(ValueError, "num_layers"):
            DensityBlock(num_layers=0)
        with self.assertRaisesRegex(ValueError, "num_layers"):
            DensityBlock(num_layers=1.0)

    def test_config_round_trip_keeps_layer_kwargs(self):
        block = DensityBlock(
            num_layers=2,
            formulation="mixture",
            normalize=False,
            epsilon=1e-3,
            seed=3,
        )
        clone = DensityBlock.from_config(block.get_config())
        self.assertEqual(clone.attention_layers[1].normalize, False)
        self.assertEqual(clone.attention_layers[1].epsilon, 1e-3)
        self.assertEqual(clone.attention_layers[1].formulation, "mixture")

    def test_keras_save_load_round_trip_with_mask(self):
        inputs = keras.Input((6, 4))
        mask = keras.Input((6,), dtype="bool")
        outputs = DensityBlock(
            num_layers=2, axes=[1, 2], num_heads=[3, 2], num_densities=2
        )(inputs, padding_mask=mask)
        model = keras.Model([inputs, mask], outputs)
        x = _x((2, 6, 4), seed=24)
        m = np.ones((2, 6), bool)
        m[1, 4:] = False
        path = os.path.join(self.get_temp_dir(), "block.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(
            to_numpy(loaded([x, m])), to_numpy(model([x, m])), atol=1e-6
        )
