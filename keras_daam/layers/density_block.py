"""A residual stack of DAAM layers (the authors' "DensityBlock")."""

import keras

from keras_daam.layers.density_attention import DensityAdaptiveAttention
from keras_daam.utils import check_positive_int
from keras_daam.utils import clone_initializer


def _per_layer(name, value, num_layers):
    if isinstance(value, (list, tuple)):
        if len(value) != num_layers:
            raise ValueError(
                f"`{name}` has {len(value)} entries but num_layers is "
                f"{num_layers}. Received: {name}={list(value)}"
            )
        return list(value)
    return [value] * num_layers


@keras.saving.register_keras_serializable(package="keras_daam")
class DensityBlock(keras.layers.Layer):
    """A stack of `DensityAdaptiveAttention` layers with residual connections.

    Each layer `i` computes `x <- daam_i(x) + x`, as the "DensityBlock" of
    the authors' package (`GaussianBlock`). Axes, heads and densities can
    differ per layer, so a block can attend along the layer axis, then the
    feature axis, and so on.

    Args:
        num_layers: int. Number of DAAM layers. Defaults to 1.
        axes: int or list of ints. Normalisation axis of each layer.
            Defaults to 1.
        num_heads: int or list of ints. Heads of each layer. Defaults to 1.
        num_densities: int or list of ints. Densities of each layer.
            Defaults to 1.
        formulation: str. Formulation of every layer (see
            `DensityAdaptiveAttention`). Defaults to `"package"`, the
            authors' block.
        seed: int, optional. Seed of the default initializers; layer `i`
            uses `seed + i`.
        **layer_kwargs: further `DensityAdaptiveAttention` arguments
            (`feature_axis`, `normalize`, `epsilon`, ...), shared by all
            layers, and base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: float tensor of rank >= 2.
        padding_mask: optional boolean mask, as in `DensityAdaptiveAttention`.
        return_attention_scores: bool. If `True`, also return the list of
            each layer's Density Attention map.

    Returns:
        Tensor of the input's shape; with `return_attention_scores=True`, a
        tuple `(outputs, [map_0, map_1, ...])`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> block = keras_daam.layers.DensityBlock(
    ...     num_layers=2, axes=[1, 2], num_heads=[2, 4], num_densities=4
    ... )
    >>> y = block(np.random.normal(size=(2, 6, 16)).astype("float32"))
    >>> tuple(y.shape)
    (2, 6, 16)

    References:
        - [Ioannides, Chadha, Elkins. Density Adaptive Attention is All You
          Need. arXiv:2401.11143](https://arxiv.org/abs/2401.11143)
    """

    _LAYER_KWARGS = (
        "feature_axis",
        "normalize",
        "epsilon",
        "mean_offset_initializer",
        "scale_initializer",
    )

    def __init__(
        self,
        num_layers=1,
        axes=1,
        num_heads=1,
        num_densities=1,
        formulation="package",
        seed=None,
        **kwargs,
    ):
        layer_kwargs = {
            k: kwargs.pop(k) for k in self._LAYER_KWARGS if k in kwargs
        }
        super().__init__(**kwargs)
        num_layers = check_positive_int("num_layers", num_layers)
        self.num_layers = num_layers
        self.axes = _per_layer("axes", axes, num_layers)
        self.num_heads = _per_layer("num_heads", num_heads, num_layers)
        self.num_densities = _per_layer(
            "num_densities", num_densities, num_layers
        )
        self.formulation = formulation
        self.seed = seed
        self.layer_kwargs = layer_kwargs
        self.attention_layers = [
            DensityAdaptiveAttention(
                num_heads=self.num_heads[i],
                num_densities=self.num_densities[i],
                axis=self.axes[i],
                formulation=formulation,
                seed=None if seed is None else seed + i,
                dtype=self.dtype_policy,
                name=f"density_attention_{i}",
                **self._own_kwargs(),
            )
            for i in range(num_layers)
        ]
        self.supports_masking = True

    def _own_kwargs(self):
        # One initializer instance per layer: an unseeded Keras initializer
        # fixes its seed when created, so a shared instance would give every
        # layer the same initial values.
        return {
            key: clone_initializer(value)
            if key.endswith("initializer") and value is not None
            else value
            for key, value in self.layer_kwargs.items()
        }

    def build(self, input_shape):
        for layer in self.attention_layers:
            layer.build(input_shape)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        mask=None,
    ):
        if padding_mask is None:
            padding_mask = mask
        x = inputs
        maps = []
        for layer in self.attention_layers:
            if return_attention_scores:
                y, scores = layer(
                    x, padding_mask=padding_mask, return_attention_scores=True
                )
                maps.append(scores)
            else:
                y = layer(x, padding_mask=padding_mask)
            x = y + x
        if return_attention_scores:
            return x, maps
        return x

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(
        self,
        inputs,
        padding_mask=None,
        return_attention_scores=False,
        mask=None,
    ):
        out = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if return_attention_scores:
            return out, [
                keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
                for _ in range(self.num_layers)
            ]
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "axes": self.axes,
                "num_heads": self.num_heads,
                "num_densities": self.num_densities,
                "formulation": self.formulation,
                "seed": self.seed,
            }
        )
        for key, value in self.layer_kwargs.items():
            if key.endswith("initializer"):
                value = keras.initializers.serialize(
                    keras.initializers.get(value)
                )
            config[key] = value
        return config
