"""Layer-wise hidden states from a frozen KerasHub backbone."""

import keras
import numpy as np
from keras import ops

from keras_daam.backbones.families import MODALITIES
from keras_daam.backbones.families import SUPPORTED_FAMILIES
from keras_daam.backbones.families import detect_family
from keras_daam.backbones.families import find_taps

POOLINGS = ("mean", None)
MIXED_WIDTHS = ("error", "pad")


class _Untracked:
    """Holds an object out of Keras's attribute tracking.

    The tap model shares every layer with the backbone; tracking it too
    would save each weight twice.
    """

    def __init__(self, value):
        self.value = value


def load_backbone(preset, **kwargs):
    """Loads a KerasHub backbone from a preset name or a local folder."""
    import keras_hub

    return keras_hub.models.Backbone.from_preset(preset, **kwargs)


def _resolve_layers(layers, num_blocks, block_names):
    """Returns the block indices selected by `layers`."""
    if isinstance(layers, str):
        if layers == "all":
            return list(range(num_blocks))
        if layers == "last":
            return [num_blocks - 1]
        raise ValueError(
            f"`layers` must be 'all', 'last', 'uniform' (CNN), an int, a "
            f"list of ints or a slice. Received: layers={layers!r}"
        )
    if isinstance(layers, slice):
        indices = list(range(num_blocks))[layers]
    elif isinstance(layers, (int, np.integer)):
        indices = [int(layers)]
    else:
        try:
            indices = [int(i) for i in layers]
        except (TypeError, ValueError):
            raise ValueError(
                f"`layers` must be 'all', an int, a list of ints or a slice. "
                f"Received: layers={layers!r}"
            ) from None
    resolved = []
    for i in indices:
        j = i + num_blocks if i < 0 else i
        if not 0 <= j < num_blocks:
            raise ValueError(
                f"Layer index {i} is out of range: the backbone has "
                f"{num_blocks} blocks ({block_names})."
            )
        resolved.append(j)
    if not resolved:
        raise ValueError(f"`layers={layers!r}` selects no layer.")
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"`layers={layers!r}` selects a layer twice.")
    return resolved


@keras.saving.register_keras_serializable(package="keras_daam")
class LayerwiseFeatureExtractor(keras.layers.Layer):
    """Stacked hidden states of the chosen layers of a frozen backbone.

    KerasHub backbones return only their last hidden state. This layer
    wires the output of every selected block of a KerasHub backbone into
    one tensor, as the DAAM paper's PEFT setting needs
    ([Ioannides et al., 2024](https://arxiv.org/abs/2401.11143)):

    - `pooling="mean"`: `[batch, L, d]`, each layer's hidden state averaged
      over tokens / frames / patches with padding excluded from the mean
      (the original code averaged padded positions too).
    - `pooling=None`: a dict `{"hidden_states": [batch, L, T, d],
      "padding_mask": [batch, T]}` (`True` = real token).

    The backbone is frozen: it has no trainable weight and is always called
    with `training=False`. No weight is copied; the extractor shares the
    backbone's layers.

    Supported families (`SUPPORTED_FAMILIES`): BERT, RoBERTa, DistilBERT,
    DeBERTaV3 (text encoders); Llama, Gemma, Mistral (decoder LMs; the
    last layer is the last block's output, before the final norm); Whisper
    (encoder only, fed `encoder_features` log-mel frames; every frame
    counts as real); ViT (its blocks live inside one `ViTEncoder` layer
    and are re-wired; the class token is one of the averaged tokens);
    DINOv2; EfficientNet (CNN: each block's feature map, average-pooled
    over space; see `mixed_widths`).

    Args:
        backbone_or_preset: a KerasHub backbone instance, or a preset
            name / local preset folder for `keras_hub.models.Backbone`.
        layers: which blocks, indexed from 0 over the transformer (or CNN)
            blocks: `"all"`, `"last"`, an int, a list of ints (negative
            allowed) or a `slice`. For CNNs also `"uniform"`: the longest
            run of consecutive blocks sharing one width. Defaults to
            `"all"`.
        include_embeddings: bool. Prepend the embedding output (hidden
            state 0, which the paper excluded). Defaults to `False`.
        pooling: `"mean"` or `None`. Defaults to `"mean"`.
        mixed_widths: `"error"` or `"pad"`. What to do when the selected
            layers have different widths (CNN blocks): raise, or zero-pad
            every layer's features to the largest width (the padded
            channels are exact zeros). Defaults to `"error"`.
        preset: str, optional. Recorded in the config and cache metadata
            when an instance is passed. Set automatically from a preset.

    Call arguments:
        inputs: the backbone's input dict (e.g. `token_ids`,
            `padding_mask`), or images `[batch, H, W, C]`, or for Whisper
            `encoder_features` (or a dict holding it).

    Returns:
        `[batch, L, d]` when pooling, else the dict described above.

    Example:

    ```python
    extractor = keras_daam.backbones.LayerwiseFeatureExtractor(
        keras_daam.backbones.minilm_preset_dir(), layers="all"
    )
    features = extractor.predict_features(
        {"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids > 0}
    )  # [batch, 6, 384]
    ```

    References:
        - [Ioannides et al., 2024](https://arxiv.org/abs/2401.11143)
    """

    def __init__(
        self,
        backbone_or_preset,
        layers="all",
        include_embeddings=False,
        pooling="mean",
        mixed_widths="error",
        preset=None,
        **kwargs,
    ):
        if pooling not in POOLINGS:
            raise ValueError(
                f"`pooling` must be one of {POOLINGS}. Received: "
                f"pooling={pooling!r}"
            )
        if mixed_widths not in MIXED_WIDTHS:
            raise ValueError(
                f"`mixed_widths` must be one of {MIXED_WIDTHS}. Received: "
                f"mixed_widths={mixed_widths!r}"
            )
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if isinstance(backbone_or_preset, str):
            preset = preset or backbone_or_preset
            backbone = load_backbone(backbone_or_preset)
        elif isinstance(backbone_or_preset, keras.Model):
            backbone = backbone_or_preset
        else:
            raise ValueError(
                "`backbone_or_preset` must be a KerasHub backbone or a "
                f"preset name/path. Received: {backbone_or_preset!r}"
            )
        self.family = detect_family(backbone)
        self.modality = MODALITIES[self.family]
        backbone.trainable = False
        self.backbone = backbone
        self.preset = preset
        self.layers_arg = layers
        self.include_embeddings = bool(include_embeddings)
        self.pooling = pooling
        self.mixed_widths = mixed_widths

        taps = find_taps(backbone, self.family)
        self._taps_spatial = taps.spatial
        self.padding_mask_input = taps.padding_mask_input
        self.input_names = list(taps.inputs)
        if isinstance(layers, str) and layers == "uniform":
            indices = self._uniform_run(taps)
        else:
            indices = _resolve_layers(
                layers, len(taps.blocks), taps.block_names
            )
        self.layer_indices = indices
        self.num_blocks = len(taps.blocks)
        outputs = [taps.blocks[i] for i in indices]
        names = [taps.block_names[i] for i in indices]
        if self.include_embeddings:
            if taps.embeddings is None:
                raise ValueError(
                    f"The {self.family} backbone has no embedding output "
                    "to include; pass `include_embeddings=False`."
                )
            outputs = [taps.embeddings] + outputs
            names = ["embeddings"] + names
        self.layer_names = names
        self.layer_widths = [int(t.shape[-1]) for t in outputs]
        self.num_layers = len(outputs)
        self.feature_dim = max(self.layer_widths)
        if len(set(self.layer_widths)) > 1 and mixed_widths == "error":
            widths = dict(zip(names, self.layer_widths))
            raise ValueError(
                "The selected layers have different widths and cannot be "
                f"stacked: {widths}. Select equal-width layers (for a CNN, "
                "`layers='uniform'`, `--layers uniform` on the command line, "
                "picks the longest equal-width run) or zero-pad them to the "
                "widest (`mixed_widths='pad'`, `--layers pad`)."
            )
        if pooling is None and len(self.layer_widths) > 1:
            token_shapes = {tuple(t.shape[1:-1]) for t in outputs}
            if len(token_shapes) > 1 or len(set(self.layer_widths)) > 1:
                raise ValueError(
                    "`pooling=None` needs layers with the same token count "
                    f"and width; {names} have shapes "
                    f"{[tuple(t.shape[1:]) for t in outputs]}. Use "
                    "`pooling='mean'` or select equal-shape layers."
                )
        self._tap_model = _Untracked(
            keras.Model(taps.inputs, outputs, name=f"{self.name}_taps")
        )
        self._predict_model = _Untracked(None)
        self.built = True

    def _uniform_run(self, taps):
        widths = [int(t.shape[-1]) for t in taps.blocks]
        best, start = (0, 1), 0
        for i in range(1, len(widths) + 1):
            if i == len(widths) or widths[i] != widths[start]:
                if i - start > best[1] - best[0]:
                    best = (start, i)
                start = i
        return list(range(*best))

    # -- inputs -----------------------------------------------------------

    def _as_input_dict(self, inputs):
        if isinstance(inputs, dict):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise ValueError(
                    f"The {self.family} extractor needs inputs "
                    f"{self.input_names}; missing {missing}. Received keys "
                    f"{sorted(inputs)}."
                )
            return {n: inputs[n] for n in self.input_names}
        if len(self.input_names) == 1:
            return {self.input_names[0]: inputs}
        raise ValueError(
            f"The {self.family} extractor needs a dict with keys "
            f"{self.input_names}. Received: {type(inputs).__name__}"
        )

    def call(self, inputs, training=None):
        inputs = self._as_input_dict(inputs)
        taps = self._tap_model.value(inputs, training=False)
        if not isinstance(taps, (list, tuple)):
            taps = [taps]
        taps = [ops.cast(t, "float32") for t in taps]
        if self._taps_spatial:
            taps = [self._flatten_spatial(t) for t in taps]
        if self.padding_mask_input is not None:
            mask = ops.cast(inputs[self.padding_mask_input], "bool")
        else:
            shape = ops.shape(taps[0])
            mask = ops.ones((shape[0], shape[1]), dtype="bool")
        if self.pooling == "mean":
            weight = ops.expand_dims(ops.cast(mask, "float32"), -1)
            count = ops.maximum(ops.sum(weight, axis=1), 1.0)
            pooled = []
            for t in taps:
                if self._taps_spatial:
                    pooled.append(ops.mean(t, axis=1))
                else:
                    pooled.append(ops.sum(t * weight, axis=1) / count)
            pooled = [self._pad_width(p) for p in pooled]
            return ops.stack(pooled, axis=1)
        hidden = ops.stack(taps, axis=1)
        return {"hidden_states": hidden, "padding_mask": mask}

    def _flatten_spatial(self, t):
        shape = ops.shape(t)
        return ops.reshape(t, (shape[0], -1, shape[-1]))

    def _pad_width(self, t):
        width = t.shape[-1]
        if width == self.feature_dim:
            return t
        return ops.pad(t, [[0, 0], [0, self.feature_dim - width]])

    # -- conveniences -----------------------------------------------------

    def predict_features(self, inputs, batch_size=32, verbose=0):
        """Runs the extractor over numpy inputs in compiled batches.

        Args:
            inputs: the backbone's input dict of arrays (or one array for
                single-input backbones).
            batch_size: int. Defaults to `32`.
            verbose: passed to `keras.Model.predict`. Defaults to `0`.

        Returns:
            numpy array `[N, L, d]` (pooled) or dict of numpy arrays.
        """
        model = self.as_model()
        inputs = self._as_input_dict(inputs)
        return model.predict(inputs, batch_size=batch_size, verbose=verbose)

    def predict_on_batch(self, inputs):
        """Runs one batch (numpy in, numpy out) through the compiled model."""
        return self.as_model().predict_on_batch(self._as_input_dict(inputs))

    def as_model(self):
        """A `keras.Model` from the backbone inputs to this layer's output."""
        if self._predict_model.value is None:
            inputs = self.symbolic_inputs()
            self._predict_model.value = keras.Model(
                inputs, self(inputs), name=f"{self.name}_model"
            )
        return self._predict_model.value

    def symbolic_inputs(self):
        """Fresh `keras.Input`s matching the inputs the taps need."""
        tap_inputs = self._tap_model.value.input
        if not isinstance(tap_inputs, dict):
            tap_inputs = dict(zip(self.input_names, [tap_inputs]))
        return {
            name: keras.Input(
                shape=tuple(t.shape[1:]), dtype=t.dtype, name=name
            )
            for name, t in tap_inputs.items()
        }

    def output_shape_per_sample(self, num_tokens=None):
        """`(L, d)` pooled, or `(L, T, d)` unpooled (T may be None)."""
        if self.pooling == "mean":
            return (self.num_layers, self.feature_dim)
        return (self.num_layers, num_tokens, self.feature_dim)

    def settings(self):
        """A JSON-able description used to validate caches and heads."""
        layers = self.layers_arg
        if isinstance(layers, slice):
            layers = repr(layers)
        elif not isinstance(layers, str):
            layers = [int(i) for i in np.atleast_1d(layers)]
        return {
            "preset": self.preset,
            "family": self.family,
            "backbone_class": type(self.backbone).__name__,
            "layers": layers,
            "layer_indices": list(self.layer_indices),
            "layer_names": list(self.layer_names),
            "include_embeddings": self.include_embeddings,
            "pooling": self.pooling,
            "mixed_widths": self.mixed_widths,
            "num_layers": self.num_layers,
            "feature_dim": self.feature_dim,
        }

    def compute_output_spec(self, inputs, training=None):
        inputs = self._as_input_dict(inputs)
        batch = keras.tree.flatten(inputs)[0].shape[0]
        if self.pooling == "mean":
            return keras.KerasTensor(
                (batch, self.num_layers, self.feature_dim), dtype="float32"
            )
        taps = self._tap_model.value.compute_output_spec(inputs)
        taps = keras.tree.flatten(taps)
        tokens = taps[0].shape[1:-1]
        tokens = (
            None if any(s is None for s in tokens) else int(np.prod(tokens))
        )
        return {
            "hidden_states": keras.KerasTensor(
                (batch, self.num_layers, tokens, self.feature_dim),
                dtype="float32",
            ),
            "padding_mask": keras.KerasTensor((batch, tokens), dtype="bool"),
        }

    def get_config(self):
        config = super().get_config()
        layers = self.layers_arg
        if isinstance(layers, slice):
            layers = {
                "slice": [layers.start, layers.stop, layers.step],
            }
        elif not isinstance(layers, str):
            layers = [int(i) for i in np.atleast_1d(layers)]
        config.update(
            {
                "backbone_or_preset": keras.saving.serialize_keras_object(
                    self.backbone
                ),
                "layers": layers,
                "include_embeddings": self.include_embeddings,
                "pooling": self.pooling,
                "mixed_widths": self.mixed_widths,
                "preset": self.preset,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        backbone = config.pop("backbone_or_preset")
        if isinstance(backbone, dict):
            backbone = keras.saving.deserialize_keras_object(backbone)
        layers = config.pop("layers")
        if isinstance(layers, dict) and "slice" in layers:
            layers = slice(*layers["slice"])
        return cls(backbone, layers=layers, **config)


__all__ = ["LayerwiseFeatureExtractor", "SUPPORTED_FAMILIES", "load_backbone"]
