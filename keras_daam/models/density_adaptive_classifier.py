"""Frozen backbone + layer-wise extractor + DAAM head, as one model."""

import hashlib
import io
import json
import os
import warnings

import keras
import numpy as np

from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.backbones import load_backbone
from keras_daam.features.cache import FeatureCache
from keras_daam.features.cache import _backbone_fingerprint
from keras_daam.features.cache import _is_text_or_paths
from keras_daam.features.cache import _to_numpy

HEAD_CONFIG = "head_config.json"
HEAD_WEIGHTS = "head_weights.npz"
HEAD_FORMAT = "keras_daam.head"
HEAD_VERSION = 1


def _build_head(**kwargs):
    from keras_daam.heads import build_head

    return build_head(**kwargs)


def _load_preprocessor(preset, family, sequence_length=None):
    import keras_hub

    kwargs = {}
    if sequence_length is not None:
        kwargs["sequence_length"] = sequence_length
    candidates = {
        "text": keras_hub.models.TextClassifierPreprocessor,
        "image": keras_hub.models.ImageClassifierPreprocessor,
    }
    cls = candidates.get(
        {
            "whisper": "audio",
            "vit": "image",
            "dinov2": "image",
            "efficientnet": "image",
        }.get(family, "text")
    )
    if cls is None:
        return None
    try:
        return cls.from_preset(preset, **kwargs)
    except Exception as error:  # a preset without tokenizer/converter
        warnings.warn(
            f"No preprocessor could be loaded from {preset!r} ({error}); "
            "the classifier takes the backbone's inputs directly."
        )
        return None


def _head_weight_dict(head):
    weights = {}
    for layer in head.layers:
        for j, w in enumerate(layer.weights):
            key = f"{layer.name}/{j}/{w.name}"
            weights[key] = np.asarray(keras.ops.convert_to_numpy(w.value))
    return weights


@keras.saving.register_keras_serializable(package="keras_daam")
class DensityAdaptiveClassifier(keras.Model):
    """A classifier: frozen KerasHub backbone, layer-wise features, DAAM head.

    The model runs end to end (`predict` on raw inputs when a preprocessor
    is attached): backbone inputs -> `LayerwiseFeatureExtractor` (frozen,
    masked mean over tokens) -> `[batch, L, d]` -> the head from
    `keras_daam.heads.build_head` (attention over the layer axis, decoder,
    logits), as in the PEFT setting of
    [Ioannides et al., 2024](https://arxiv.org/abs/2401.11143). Only the
    head trains. Because the backbone is frozen, the fast way to train is to
    extract features once (`keras_daam.features.extract_to_cache`) and call
    `fit_cached`; `fit` on the whole model works too.

    Build it with `from_preset`. Save the whole model with
    `model.save("x.keras")`, or only the trained head (kilobytes) with
    `save_head(path)` and reattach it to the same preset with
    `keras_daam.models.load_head(path)`.

    Args:
        extractor: a `LayerwiseFeatureExtractor` with `pooling="mean"`.
        head: the head `keras.Model` (input `"features"` `(L, d)`).
        preprocessor: optional KerasHub preprocessor for raw inputs.
        head_config: dict, the `build_head` arguments (saved with the head).

    Example:

    ```python
    model = keras_daam.models.DensityAdaptiveClassifier.from_preset(
        keras_daam.backbones.minilm_preset_dir(), num_classes=26
    )
    cache = keras_daam.features.extract_to_cache(
        model.extractor, texts, "cache", labels=labels,
        preprocessor=model.preprocessor,
    )
    model.fit_cached(cache, epochs=5)
    model.predict(["a small domestic animal"])
    ```

    References:
        - [Ioannides et al., 2024](https://arxiv.org/abs/2401.11143)
    """

    def __init__(
        self, extractor, head, preprocessor=None, head_config=None, **kwargs
    ):
        if extractor.pooling != "mean":
            raise ValueError(
                "The classifier needs a pooled extractor (`pooling='mean'`)."
                f" Received pooling={extractor.pooling!r}."
            )
        inputs = extractor.symbolic_inputs()
        features = extractor(inputs)
        logits = head(features)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.extractor = extractor
        self.head = head
        self.preprocessor = preprocessor
        self.head_config = dict(head_config or {})

    @classmethod
    def from_preset(
        cls,
        preset,
        num_classes,
        attention="daam",
        layers="all",
        include_embeddings=False,
        decoder="conv",
        preprocessor="auto",
        sequence_length=None,
        mixed_widths="error",
        learning_rate=1e-4,
        weight_decay=0.01,
        loss="crossentropy",
        seed=None,
        **head_options,
    ):
        """Builds preprocessor + frozen backbone + extractor + head.

        Args:
            preset: a KerasHub preset name, a local preset folder (e.g.
                `keras_daam.backbones.minilm_preset_dir()`) or a backbone
                instance.
            num_classes: int. Number of classes.
            attention: str. A `keras_daam.heads.ATTENTION_NAMES` entry.
                Defaults to `"daam"`.
            layers: blocks to stack (see `LayerwiseFeatureExtractor`).
                Defaults to `"all"`.
            include_embeddings: bool. Defaults to `False` (the paper).
            decoder: str. Head decoder. Defaults to `"conv"` (paper DAT).
            preprocessor: `"auto"` (load from the preset when it has one),
                a preprocessor, or `None`. Defaults to `"auto"`.
            sequence_length: int, optional. For the text preprocessor.
            mixed_widths: see `LayerwiseFeatureExtractor`.
            learning_rate, weight_decay, loss, seed: for `build_head`.
            **head_options: more `build_head` options (`num_heads`,
                `num_densities`, `formulation`, `conv_filters`, ...).
        """
        if isinstance(preset, keras.Model):
            backbone, preset_name = preset, None
        else:
            backbone, preset_name = load_backbone(preset), str(preset)
        extractor = LayerwiseFeatureExtractor(
            backbone,
            layers=layers,
            include_embeddings=include_embeddings,
            mixed_widths=mixed_widths,
            preset=preset_name,
        )
        if isinstance(preprocessor, str):
            if preprocessor != "auto":
                raise ValueError(
                    "`preprocessor` must be 'auto', None or a preprocessor. "
                    f"Received: {preprocessor!r}"
                )
            preprocessor = (
                _load_preprocessor(
                    preset_name, extractor.family, sequence_length
                )
                if preset_name
                else None
            )
        head_config = {
            "num_layers": extractor.num_layers,
            "feature_dim": extractor.feature_dim,
            "num_classes": int(num_classes),
            "attention": attention,
            "decoder": decoder,
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "loss": loss,
            "seed": seed,
            **head_options,
        }
        head = _build_head(compile=True, **head_config)
        model = cls(
            extractor, head, preprocessor=preprocessor, head_config=head_config
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(
                learning_rate=learning_rate, weight_decay=weight_decay
            ),
            loss=head.loss,
            metrics=["accuracy"],
        )
        return model

    # -- inference ---------------------------------------------------------

    def preprocess(self, x, batch_size=256):
        """Raw inputs (strings, images, ...) -> backbone inputs (numpy)."""
        if self.preprocessor is None:
            raise ValueError(
                "This classifier has no preprocessor: pass the backbone's "
                f"inputs ({self.extractor.input_names}) instead of raw data."
            )
        parts = []
        for lo in range(0, len(x), batch_size):
            out = self.preprocessor(list(x[lo : lo + batch_size]))
            if isinstance(out, tuple):
                out = out[0]
            parts.append(_to_numpy(out))
        if isinstance(parts[0], dict):
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return np.concatenate(parts)

    def _maybe_preprocess(self, x):
        if _is_text_or_paths(x) or (
            self.preprocessor is not None
            and self.extractor.modality == "image"
            and isinstance(x, np.ndarray)
            and x.dtype == np.uint8
        ):
            return self.preprocess(x)
        if isinstance(x, dict):
            return {k: x[k] for k in self.extractor.input_names}
        return x

    def predict(self, x, batch_size=32, verbose=0, **kwargs):
        """Logits for raw inputs (with a preprocessor) or backbone inputs."""
        return super().predict(
            self._maybe_preprocess(x),
            batch_size=batch_size,
            verbose=verbose,
            **kwargs,
        )

    # -- training on cached features ----------------------------------------

    def _cache_arrays(self, cache):
        if isinstance(cache, str):
            cache = FeatureCache(cache)
        if isinstance(cache, FeatureCache):
            if not cache.pooled:
                raise ValueError(
                    "`fit_cached` needs a pooled cache ([N, L, d]); this one "
                    "is unpooled. Build it with `pooled=True`."
                )
            cache.check_compatible(self.extractor)
            if cache.labels is None:
                raise ValueError(
                    f"The cache at {cache.cache_dir!r} has no labels."
                )
            return np.asarray(cache.features, "float32"), cache.labels
        x, y = cache
        return np.asarray(x, "float32"), np.asarray(y)

    def fit_cached(
        self, cache, validation_data=None, epochs=10, batch_size=32, **kwargs
    ):
        """Trains the head on cached features.

        Args:
            cache: a `FeatureCache`, its folder, or a tuple `(features,
                labels)` with features `[N, L, d]`.
            validation_data: the same kinds, optional.
            epochs: int. Defaults to 10.
            batch_size: int. Defaults to 32.
            **kwargs: passed to the head's `fit`.

        Returns:
            The `History`.
        """
        x, y = self._cache_arrays(cache)
        expected = (self.extractor.num_layers, self.extractor.feature_dim)
        if x.shape[1:] != expected:
            raise ValueError(
                f"Cached features have shape {x.shape[1:]}; this model's "
                f"head takes {expected}."
            )
        if validation_data is not None:
            validation_data = self._cache_arrays(validation_data)
        return self.head.fit(
            x,
            y,
            validation_data=validation_data,
            epochs=epochs,
            batch_size=batch_size,
            **kwargs,
        )

    # -- saving the head alone ----------------------------------------------

    def _head_description(self):
        return {
            "format": HEAD_FORMAT,
            "version": HEAD_VERSION,
            "preset": self.extractor.preset,
            "extractor": {
                k: v
                for k, v in self.extractor.settings().items()
                # The preset path and the way layers were asked for may
                # differ; the resolved layers may not.
                if k not in ("preset", "layers")
            },
            "backbone_fingerprint": _backbone_fingerprint(self.extractor),
            "head_config": self.head_config,
        }

    def save_head(self, path, overwrite=False):
        """Saves the trained head alone: a folder with config and weights.

        `path/head_config.json` holds the preset, the layer selection and
        the `build_head` arguments; `path/head_weights.npz` the head's
        weights keyed by layer path (`"<layer>/<index>/<weight>"`), with a
        SHA-256 checksum in the config.

        Args:
            path: str. Folder to write.
            overwrite: bool. Replace an existing head there. Defaults to
                `False` (an existing path raises `FileExistsError`).
        """
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(
                f"{path!r} exists; pass `overwrite=True` to replace it."
            )
        os.makedirs(path, exist_ok=True)
        weights = _head_weight_dict(self.head)
        buffer = io.BytesIO()
        np.savez(buffer, **weights)
        payload = buffer.getvalue()
        description = self._head_description()
        description["weights"] = {
            k: {"shape": list(v.shape), "dtype": v.dtype.name}
            for k, v in weights.items()
        }
        description["sha256"] = hashlib.sha256(payload).hexdigest()
        weights_path = os.path.join(path, HEAD_WEIGHTS)
        with open(weights_path + ".tmp", "wb") as f:
            f.write(payload)
        os.replace(weights_path + ".tmp", weights_path)
        with open(os.path.join(path, HEAD_CONFIG), "w") as f:
            json.dump(description, f, indent=1, sort_keys=True)
        return path

    def load_head(self, path):
        """Loads a head saved by `save_head` into this model.

        Raises:
            ValueError: if the saved head was built with another
                configuration (layers, attention, heads, densities, ...) or
                for another backbone, or if its weights file is corrupted.
                Nothing is loaded in that case.
        """
        description = read_head_config(path)
        mine = self._head_description()
        problems = []
        for key in ("extractor", "head_config"):
            theirs, ours = description.get(key, {}), mine[key]
            for k in sorted(set(theirs) | set(ours)):
                if theirs.get(k) != ours.get(k):
                    problems.append(
                        f"{key}.{k}: saved {theirs.get(k)!r}, this model "
                        f"{ours.get(k)!r}"
                    )
        if description["backbone_fingerprint"] != mine["backbone_fingerprint"]:
            problems.append("the backbone configuration differs")
        if problems:
            raise ValueError(
                f"The head at {path!r} does not fit this model: "
                + "; ".join(problems)
            )
        weights = _read_head_weights(path, description)
        current = _head_weight_dict(self.head)
        if set(weights) != set(current) or any(
            weights[k].shape != current[k].shape for k in current
        ):
            raise ValueError(
                f"The weights at {path!r} do not match this head's "
                f"structure: saved {sorted(weights)}, expected "
                f"{sorted(current)}."
            )
        for layer in self.head.layers:
            if layer.weights:
                layer.set_weights(
                    [
                        weights[f"{layer.name}/{j}/{w.name}"]
                        for j, w in enumerate(layer.weights)
                    ]
                )
        return self

    # -- serialisation --------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "extractor": keras.saving.serialize_keras_object(self.extractor),
            "head": keras.saving.serialize_keras_object(self.head),
            "preprocessor": (
                keras.saving.serialize_keras_object(self.preprocessor)
                if self.preprocessor is not None
                else None
            ),
            "head_config": self.head_config,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        extractor = keras.saving.deserialize_keras_object(
            config.pop("extractor")
        )
        head = keras.saving.deserialize_keras_object(config.pop("head"))
        preprocessor = config.pop("preprocessor", None)
        if preprocessor is not None:
            preprocessor = keras.saving.deserialize_keras_object(preprocessor)
        return cls(extractor, head, preprocessor=preprocessor, **config)


def read_head_config(path):
    """Reads and checks the `head_config.json` of a saved head."""
    config_path = os.path.join(path, HEAD_CONFIG)
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"No saved head at {path!r} ({HEAD_CONFIG}).")
    try:
        with open(config_path) as f:
            description = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{config_path!r} is not valid JSON (corrupted?): {error}"
        ) from None
    if description.get("format") != HEAD_FORMAT:
        raise ValueError(f"{config_path!r} is not a keras_daam head config.")
    return description


def _read_head_weights(path, description):
    weights_path = os.path.join(path, HEAD_WEIGHTS)
    if not os.path.exists(weights_path):
        raise FileNotFoundError(f"Missing {weights_path!r}.")
    with open(weights_path, "rb") as f:
        payload = f.read()
    if hashlib.sha256(payload).hexdigest() != description["sha256"]:
        raise ValueError(
            f"{weights_path!r} is corrupted or truncated (checksum "
            "mismatch); save the head again."
        )
    with np.load(io.BytesIO(payload)) as data:
        weights = {k: data[k] for k in data.files}
    for key, spec in description["weights"].items():
        if key not in weights or list(weights[key].shape) != spec["shape"]:
            raise ValueError(f"{weights_path!r} lacks a valid {key!r}.")
    return weights


def load_head(path, preset=None, preprocessor="auto"):
    """Rebuilds a classifier from a saved head and its (local) preset.

    Args:
        path: str. A folder written by `DensityAdaptiveClassifier.save_head`.
        preset: the preset (name, local folder or backbone instance) the
            head was trained on. Defaults to the one recorded at saving.
        preprocessor: as in `DensityAdaptiveClassifier.from_preset`.

    Returns:
        A `DensityAdaptiveClassifier` with the saved head weights.
    """
    description = read_head_config(path)
    preset = preset if preset is not None else description["preset"]
    if preset is None:
        raise ValueError(
            f"The head at {path!r} records no preset: pass `preset=`."
        )
    head_config = dict(description["head_config"])
    extractor = description["extractor"]
    head_config.pop("num_layers", None)
    head_config.pop("feature_dim", None)
    num_classes = head_config.pop("num_classes")
    layers = extractor["layer_indices"]
    model = DensityAdaptiveClassifier.from_preset(
        preset,
        num_classes,
        layers=layers,
        include_embeddings=extractor["include_embeddings"],
        mixed_widths=extractor["mixed_widths"],
        preprocessor=preprocessor,
        **head_config,
    )
    return model.load_head(path)
