"""Frozen backbone + layer-wise extractor + DAAM head, as one model."""

import json
import numbers
import os
import warnings

import keras
import numpy as np

from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.backbones import backbone_fingerprint
from keras_daam.backbones import load_backbone
from keras_daam.backbones import resolve_preset
from keras_daam.models.inputs import check_labels
from keras_daam.models.inputs import describe_inputs
from keras_daam.models.inputs import input_kind
from keras_daam.models.saved_head import compile_arguments
from keras_daam.models.saved_head import compile_record
from keras_daam.models.saved_head import head_description
from keras_daam.models.saved_head import mismatches
from keras_daam.models.saved_head import read_head_config
from keras_daam.models.saved_head import read_head_weights
from keras_daam.models.saved_head import save_head_files
from keras_daam.models.saved_head import v1_backbone_fingerprint
from keras_daam.utils import check_float
from keras_daam.utils import check_positive_int
from keras_daam.utils import to_numpy

# The paper's DAAMv2 layout (one DAAM head + the conv decoder) fits any
# layer count; DAAMv1's 8 heads divide none of the packaged backbones'.
DEFAULT_HEAD = "daamv2"
# `compile_head`'s defaults; `from_preset` and `compile` start from them.
DEFAULT_COMPILE = {
    "learning_rate": 1e-4,
    "weight_decay": 0.01,
    "loss": "crossentropy",
    "steps_per_execution": 1,
}
# The `make_preprocessor` options each modality takes.
PREPROCESSING_OPTIONS = {
    "text": ("sequence_length",),
    "image": ("image_size",),
    "audio": ("audio_seconds", "crop"),
}


def _jsonable(value):
    return json.loads(json.dumps(value, sort_keys=True))


def _check_classes(num_classes, class_names):
    if class_names is not None:
        if isinstance(class_names, (str, bytes)) or not hasattr(
            class_names, "__iter__"
        ):
            raise ValueError(
                "`class_names` must be a list of class names. Received: "
                f"class_names={class_names!r}"
            )
        class_names = [str(c) for c in class_names]
        duplicates = sorted(
            {c for c in class_names if class_names.count(c) > 1}
        )
        if duplicates:
            raise ValueError(
                f"`class_names` names a class twice: {duplicates}."
            )
        if num_classes is None:
            num_classes = len(class_names)
    if num_classes is None:
        raise ValueError(
            "Pass `num_classes` (an int) or `class_names` (a list of names)."
        )
    num_classes = check_positive_int("num_classes", num_classes)
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(
            f"`class_names` has {len(class_names)} names but "
            f"num_classes={num_classes}."
        )
    return num_classes, class_names


def _head_recipe(head, attention, decoder, head_options):
    """`(registry name, None)` or `(None, custom build_head kwargs)`."""
    from keras_daam.heads import get_head_spec

    custom = {"attention": attention, "decoder": decoder, **head_options}
    given = sorted(k for k, v in custom.items() if v is not None)
    if head is not None:
        if given:
            raise ValueError(
                f"The head {head!r} fixes its attention module, options and "
                f"decoder; received {given} as well. Pass a head name, or "
                "`attention=`, `decoder=` and options for a custom head."
            )
        spec = get_head_spec(head)
        if spec.use_mask:
            raise ValueError(
                f"The head {head!r} takes one layer's token states with a "
                "padding mask; DensityAdaptiveClassifier stacks pooled "
                "layers [L, d]. Pick a head over layers (see "
                "`keras_daam.heads.head_names()`)."
            )
        return spec.name, None
    if not given:
        return DEFAULT_HEAD, None
    build = dict(custom)
    build["attention"] = attention or "daam"
    build["decoder"] = decoder or "conv"
    if build.get("use_mask"):
        raise ValueError(
            "`use_mask=True` heads take token states with a padding mask; "
            "DensityAdaptiveClassifier stacks pooled layers [L, d]."
        )
    try:
        return None, _jsonable({k: v for k, v in build.items()})
    except (TypeError, ValueError):
        raise ValueError(
            "Custom head options must be JSON-serialisable (numbers, "
            f"strings, lists) to be saved with the head. Received: {build!r}"
        ) from None


def _build_head(head_name, build, extractor, num_classes, seed):
    from keras_daam.heads import build_head

    sizes = dict(
        num_layers=extractor.num_layers,
        feature_dim=extractor.feature_dim,
        num_classes=num_classes,
        compile=False,
        seed=seed,
    )
    try:
        if head_name is not None:
            return build_head(head_name, **sizes)
        return build_head(**sizes, **build)
    except ValueError as error:
        label = repr(head_name) if head_name else f"custom {build}"
        raise ValueError(
            f"The head {label} cannot take the features of "
            f"{extractor.num_layers} layers x {extractor.feature_dim} "
            f"({extractor.layer_names}): {error}"
        ) from None


def _check_compile(learning_rate, weight_decay, loss, steps_per_execution):
    check_float(
        "learning_rate", learning_rate, minimum=0.0, include_minimum=False
    )
    check_float("weight_decay", weight_decay, minimum=0.0)
    check_positive_int("steps_per_execution", steps_per_execution)
    if not isinstance(loss, (str, keras.losses.Loss)):
        raise ValueError(
            "`loss` must be 'crossentropy', 'focal' or a keras.losses.Loss. "
            f"Received: loss={loss!r}"
        )


def _make_preprocessor(choice, extractor, location, options):
    """The classifier's preprocessor: `make_preprocessor`, given or None."""
    from keras_daam.features import make_preprocessor

    given = sorted(
        k
        for k, v in options.items()
        if v is not None and not (k == "crop" and v == "start")
    )
    allowed = PREPROCESSING_OPTIONS.get(extractor.modality, ())
    wrong = [k for k in given if k not in allowed]
    if wrong:
        raise ValueError(
            f"{wrong} do not apply to a {extractor.modality} backbone "
            f"({extractor.family}); its preprocessing options are "
            f"{list(allowed)}."
        )
    if isinstance(choice, str):
        if choice != "auto":
            raise ValueError(
                "`preprocessor` must be 'auto', None or a preprocessor. "
                f"Received: preprocessor={choice!r}"
            )
        if location is None:
            if given:
                raise ValueError(
                    f"{given} configure the preprocessor loaded from the "
                    "preset, but the classifier was given a backbone "
                    "instance. Pass `preprocessor=keras_daam.features."
                    "make_preprocessor(extractor, preset, ...)`."
                )
            return None
        keep = {k: options[k] for k in allowed}
        try:
            return make_preprocessor(extractor, location, **keep)
        except ValueError as error:
            if "Cannot load" not in str(error):
                raise
            raise ValueError(
                f"{error} Pass `preprocessor=None` to build the classifier "
                "without one: it then takes the backbone's inputs."
            ) from None
    if given:
        raise ValueError(
            f"{given} configure the preprocessor that `preprocessor='auto'` "
            "loads; with a preprocessor given (or None) they would be "
            "ignored."
        )
    if choice is not None and not callable(choice):
        raise ValueError(
            "`preprocessor` must be 'auto', None or a callable preprocessor "
            f"(`keras_daam.features.make_preprocessor`). Received: {choice!r}"
        )
    return choice


def _preprocessing_options(settings):
    """`make_preprocessor` keyword arguments that rebuild `settings`."""
    if not settings:
        return {}
    names = PREPROCESSING_OPTIONS.get(settings.get("modality"), ())
    return {k: settings[k] for k in names if k in settings}


def _count(inputs):
    if isinstance(inputs, dict):
        return len(next(iter(inputs.values())))
    return len(inputs)


@keras.saving.register_keras_serializable(package="keras_daam")
class DensityAdaptiveClassifier(keras.Model):
    """A classifier: frozen KerasHub backbone, layer-wise features, DAAM head.

    Backbone inputs -> `LayerwiseFeatureExtractor` (frozen, masked mean over
    tokens) -> `[batch, L, d]` -> a head from `keras_daam.heads.build_head`
    (attention over the layer axis, decoder, logits), as in the PEFT
    setting of [Ioannides et al., 2024](https://arxiv.org/abs/2401.11143).
    With a preprocessor (`keras_daam.features.make_preprocessor`, loaded by
    `from_preset`) it takes raw texts, image files or arrays, audio files
    or waveforms. Only the head trains.

    **One compile, one head, one optimizer.** `compile()` takes the
    arguments of `keras_daam.heads.compile_head` (AdamW learning rate and
    weight decay, loss, steps per execution); `from_preset` calls it with
    the values it was given. It compiles `self.head` with `compile_head`,
    then compiles this model with the *same* optimizer instance and loss.
    So `fit` (raw or backbone inputs, through the frozen extractor) and
    `fit_cached` (cached features, `self.head.fit`) update the same head
    weights with the same AdamW state: the step count and moments carry
    over from one to the other, in either order. Calling `compile()` again
    starts a fresh optimizer, as in Keras.

    Training on cached features is the fast way (the frozen backbone runs
    once): `keras_daam.features.extract_to_cache` then `fit_cached`.

    Every entry point checks its inputs first: empty data, inputs of the
    wrong type, and labels that are not integer ids in `[0, num_classes)`
    raise a ValueError naming what was expected before anything is
    trained (out-of-range sparse labels would otherwise train on garbage
    on JAX without an error). Labels may also be class names when
    `class_names` is set. Labels inside a `tf.data.Dataset` or generator
    are not checked.

    Save the whole model with `model.save("x.keras")` (backbone, head,
    class names; the preprocessor is rebuilt from the recorded preset and
    settings when loading), or only the trained head with
    `save_head(path)`: `head.weights.h5` (Keras's weights format) and
    `head.json` (see `keras_daam.models.saved_head`).
    `keras_daam.models.load_head(path)` rebuilds the classifier from it;
    `model.load_head(path)` loads it into this model, after checking that
    the backbone, layers, preprocessing and head are the saved ones.

    Args:
        extractor: a `LayerwiseFeatureExtractor` with `pooling="mean"`.
        head: the head `keras.Model` (input `"features"` `(L, d)`, logits).
        preprocessor: optional callable from raw inputs to backbone inputs
            (`keras_daam.features.make_preprocessor`).
        class_names: optional list of str, one per logit.
        head_name: str, optional. The registry name the head was built
            with.
        head_build: dict, optional. The custom `build_head` arguments the
            head was built with (when `head_name` is None).
        preprocessing: dict, optional. `{"preset": identity, "settings":
            Preprocessor.settings()}`: the preprocessor to rebuild on first
            use when `preprocessor` is None (a model loaded from `.keras`).

    Example:

    ```python
    model = keras_daam.models.DensityAdaptiveClassifier.from_preset(
        "minilm", class_names=names, sequence_length=64
    )
    cache = keras_daam.features.extract_to_cache(
        model.extractor, texts, "cache", labels=labels,
        preprocessor=model.preprocessor,
    )
    model.fit_cached(cache, epochs=5)
    model.predict_classes(["a small domestic animal"])
    model.save_head("my_head")
    restored = keras_daam.models.load_head("my_head")
    ```

    References:
        - [Ioannides et al., 2024](https://arxiv.org/abs/2401.11143)
    """

    def __init__(
        self,
        extractor,
        head,
        preprocessor=None,
        class_names=None,
        head_name=None,
        head_build=None,
        preprocessing=None,
        **kwargs,
    ):
        if extractor.pooling != "mean":
            raise ValueError(
                "The classifier needs a pooled extractor (`pooling='mean'`)."
                f" Received pooling={extractor.pooling!r}."
            )
        expected = (extractor.num_layers, extractor.feature_dim)
        got = tuple(keras.tree.flatten(head.input)[0].shape[1:])
        if got != expected:
            raise ValueError(
                f"The head takes features {got}; the extractor gives "
                f"{expected} ({extractor.layer_names})."
            )
        num_classes = int(keras.tree.flatten(head.output)[0].shape[-1])
        _, class_names = _check_classes(num_classes, class_names)
        inputs = extractor.symbolic_inputs()
        logits = head(extractor(inputs))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.extractor = extractor
        self.head = head
        self._preprocessor = preprocessor
        # A loaded model's preprocessor, rebuilt from its preset on first
        # use: Keras's safe mode forbids reading a tokenizer's files while
        # `load_model` runs.
        self._preprocessor_recipe = (
            preprocessing if preprocessor is None else None
        )
        self.class_names = class_names
        self.head_name = head_name
        self.head_build = dict(head_build) if head_build else None
        self._compile_settings = None

    # -- construction ------------------------------------------------------

    @classmethod
    def from_preset(
        cls,
        preset,
        num_classes=None,
        head=None,
        *,
        class_names=None,
        layers="all",
        include_embeddings=False,
        mixed_widths="error",
        preprocessor="auto",
        sequence_length=None,
        image_size=None,
        audio_seconds=None,
        crop="start",
        attention=None,
        decoder=None,
        learning_rate=1e-4,
        weight_decay=0.01,
        loss="crossentropy",
        steps_per_execution=1,
        seed=None,
        **head_options,
    ):
        """Builds preprocessor + frozen backbone + extractor + head, compiled.

        Args:
            preset: a packaged short name (`"minilm"`,
                `"efficientnet_lite0"`, `"whisper_tiny_en"`), a local preset
                folder, a KerasHub preset name (all through
                `keras_daam.backbones.resolve_preset`) or a backbone
                instance.
            num_classes: int. Number of classes. Defaults to
                `len(class_names)`.
            head: str. A registered head name (`keras_daam.heads.
                head_names()`). Defaults to `"daamv2"` (the paper's DAAMv2:
                one DAAM head over the layers + its conv decoder, which fits
                any layer count) unless `attention`,
                `decoder` or head options are given (a custom head).
            class_names: list of str, optional. Names of the classes, in id
                order (`predict_classes` returns them; string labels are
                mapped onto them).
            layers: blocks to stack (see `LayerwiseFeatureExtractor`).
                Defaults to `"all"`.
            include_embeddings: bool. Defaults to `False` (the paper).
            mixed_widths: see `LayerwiseFeatureExtractor`.
            preprocessor: `"auto"` (`keras_daam.features.make_preprocessor`
                on the preset, with the options below), a preprocessor, or
                `None` (the model takes backbone inputs only). With a
                backbone instance `"auto"` means `None`. Defaults to
                `"auto"`.
            sequence_length: int, optional (text). Defaults to the
                backbone's maximum, at most 512.
            image_size: int, optional (image). Defaults to the preset's.
            audio_seconds: float, optional (audio). Defaults to 1.0.
            crop: str (audio). `"start"`, `"center"` or `"end"`.
            attention: str, optional. A custom head's attention module
                (`keras_daam.heads.ATTENTION_NAMES`; `"daam"` if only other
                options are given).
            decoder: str, optional. A custom head's decoder (`"conv"` if
                only other options are given).
            learning_rate, weight_decay, loss, steps_per_execution: for
                `compile` (`keras_daam.heads.compile_head`).
            seed: int, optional. Makes the head's initial weights
                reproducible.
            **head_options: more `build_head` options of a custom head
                (`num_heads`, `num_densities`, `formulation`,
                `conv_filters`, ...).

        Returns:
            A compiled `DensityAdaptiveClassifier`.
        """
        num_classes, class_names = _check_classes(num_classes, class_names)
        head_name, build = _head_recipe(head, attention, decoder, head_options)
        _check_compile(learning_rate, weight_decay, loss, steps_per_execution)
        if isinstance(preset, keras.Model):
            backbone, location, identity = preset, None, None
        else:
            resolved = resolve_preset(preset)
            backbone = load_backbone(resolved.location)
            location, identity = resolved.location, resolved.identity
        extractor = LayerwiseFeatureExtractor(
            backbone,
            layers=layers,
            include_embeddings=include_embeddings,
            mixed_widths=mixed_widths,
            preset=identity,
        )
        preprocessor = _make_preprocessor(
            preprocessor,
            extractor,
            location,
            {
                "sequence_length": sequence_length,
                "image_size": image_size,
                "audio_seconds": audio_seconds,
                "crop": crop,
            },
        )
        head_model = _build_head(head_name, build, extractor, num_classes, seed)
        model = cls(
            extractor,
            head_model,
            preprocessor=preprocessor,
            class_names=class_names,
            head_name=head_name,
            head_build=build,
        )
        model.compile(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            loss=loss,
            steps_per_execution=steps_per_execution,
        )
        return model

    @property
    def preprocessor(self):
        """The preprocessor (None: the model takes backbone inputs).

        A model loaded with `keras.saving.load_model` rebuilds it here, on
        first use, from the recorded preset and settings, and checks that
        it is the saved one.
        """
        if self._preprocessor is None and self._preprocessor_recipe:
            self._preprocessor = _rebuild_preprocessor(
                self.extractor, self._preprocessor_recipe
            )
            self._preprocessor_recipe = None
        return self._preprocessor

    @preprocessor.setter
    def preprocessor(self, value):
        if value is not None and not callable(value):
            raise ValueError(
                "`preprocessor` must be None or a callable from raw inputs "
                "to backbone inputs (`keras_daam.features.make_preprocessor`"
                f"). Received: {value!r}"
            )
        self._preprocessor = value
        self._preprocessor_recipe = None

    def _has_preprocessor(self):
        return (
            self._preprocessor is not None
            or self._preprocessor_recipe is not None
        )

    @property
    def class_names(self):
        """The class names (a list, one per logit) or None."""
        names = self._class_names
        return list(names) if names is not None else None

    @class_names.setter
    def class_names(self, value):
        if value is not None:
            _, value = _check_classes(self.num_classes, value)
            value = tuple(value)
        self._class_names = value

    @property
    def num_classes(self):
        return int(keras.tree.flatten(self.head.output)[0].shape[-1])

    @property
    def preset(self):
        """The preset's identity (None for a backbone instance)."""
        return self.extractor.preset

    # -- compiling -----------------------------------------------------------

    def compile(
        self,
        learning_rate=None,
        weight_decay=None,
        loss=None,
        steps_per_execution=None,
        **kwargs,
    ):
        """Compiles the head and this model with one AdamW (`compile_head`).

        Arguments left `None` keep their current values (those given to
        `from_preset`, else `compile_head`'s defaults). A new optimizer is
        created, as with any Keras `compile`.

        Args:
            learning_rate: float. AdamW learning rate.
            weight_decay: float. AdamW weight decay.
            loss: `"crossentropy"`, `"focal"` or a `keras.losses.Loss`.
            steps_per_execution: int.
        """
        from keras_daam.heads import compile_head

        if kwargs:
            raise TypeError(
                "DensityAdaptiveClassifier.compile takes the arguments of "
                "keras_daam.heads.compile_head (learning_rate, weight_decay, "
                f"loss, steps_per_execution); received {sorted(kwargs)}."
            )
        settings = dict(self._compile_settings or DEFAULT_COMPILE)
        given = {
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "loss": loss,
            "steps_per_execution": steps_per_execution,
        }
        settings.update({k: v for k, v in given.items() if v is not None})
        _check_compile(**settings)
        compile_head(self.head, **settings)
        super().compile(
            optimizer=self.head.optimizer,
            loss=self.head.loss,
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            steps_per_execution=settings["steps_per_execution"],
        )
        self._compile_settings = settings

    def get_compile_config(self):
        if not self.compiled or self._compile_settings is None:
            return {}
        return compile_record(self._compile_settings)

    def compile_from_config(self, config):
        self.compile(**compile_arguments(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _check_compiled(self):
        if self._compile_settings is None or not self.head.compiled:
            raise RuntimeError(
                "The classifier is not compiled: call `model.compile()` "
                "(from_preset and load_head compile it)."
            )

    # -- inputs and labels -----------------------------------------------------

    def _input_kind(self, x, argument="x"):
        return input_kind(x, self.extractor, self._has_preprocessor(), argument)

    def _expected_inputs(self):
        return describe_inputs(self.extractor, self._has_preprocessor())

    def _model_inputs(self, x, argument="x"):
        """Backbone inputs (NumPy) for `fit` / `evaluate`, or a dataset."""
        kind, x = self._input_kind(x, argument)
        if kind == "raw":
            x = self.preprocess(x)
        return kind, x

    def _check_labels(self, y, count=None, argument="y"):
        return check_labels(
            y, self.num_classes, self.class_names, count, argument
        )

    def _validation(self, validation_data, cached=False):
        if validation_data is None:
            return None
        if cached:
            return self._cached_arrays(validation_data, "validation_data")
        if isinstance(validation_data, tuple) and len(validation_data) in (
            2,
            3,
        ):
            kind, vx = self._model_inputs(
                validation_data[0], "validation_data[0]"
            )
            if kind == "dataset":
                raise ValueError(
                    "`validation_data` must be `(x, y)` arrays or a dataset "
                    "yielding `(x, y)`, not a tuple holding a dataset."
                )
            vy = self._check_labels(
                validation_data[1], _count(vx), "validation_data[1]"
            )
            return (vx, vy) + tuple(validation_data[2:])
        kind, _ = self._input_kind(validation_data, "validation_data")
        if kind != "dataset":
            raise ValueError(
                "`validation_data` must be a tuple `(x, y)` or a dataset "
                "yielding `(x, y)` batches."
            )
        return validation_data

    # -- training ------------------------------------------------------------

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        validation_data=None,
        **kwargs,
    ):
        """Trains the head end to end through the frozen extractor.

        Args:
            x: raw inputs (texts, image files or uint8 arrays, audio files
                or waveforms; through the preprocessor), the backbone's
                inputs, or a dataset yielding `(x, y)` batches of backbone
                inputs.
            y: integer class ids in `[0, num_classes)` (or class names when
                `class_names` is set). Checked before training.
            batch_size, epochs, **kwargs: as in `keras.Model.fit`.
            validation_data: `(x, y)` of the same kinds, or a dataset.

        Returns:
            The `History`.
        """
        self._check_compiled()
        kind, x = self._model_inputs(x)
        if kind != "dataset":
            y = self._check_labels(y, _count(x))
        validation_data = self._validation(validation_data)
        return super().fit(
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            validation_data=validation_data,
            **kwargs,
        )

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.evaluate` on raw or backbone inputs (labels
        checked as in `fit`)."""
        if kwargs.get("_use_cached_eval_dataset"):
            # `fit`'s validation pass: the data were checked by `fit`.
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        self._check_compiled()
        kind, x = self._model_inputs(x)
        if kind != "dataset":
            y = self._check_labels(y, _count(x))
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def _cached_arrays(self, data, argument):
        from keras_daam.features import FeatureCache

        if isinstance(data, (str, os.PathLike)):
            data = FeatureCache(data)
        if isinstance(data, FeatureCache):
            features, labels = self._from_cache(data, argument)
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            features, labels = data
        else:
            raise ValueError(
                f"`{argument}` must be a FeatureCache, its folder, or a "
                f"tuple (features [n, {self.extractor.num_layers}, "
                f"{self.extractor.feature_dim}], labels). Received: "
                f"{type(data).__name__}"
            )
        if features is None or isinstance(features, (str, numbers.Number)):
            raise ValueError(
                f"The features of `{argument}` must be an array [n, L, d]. "
                f"Received: {type(features).__name__}"
            )
        features = np.asarray(to_numpy(features))
        if features.dtype.kind not in ("f", "i", "u"):
            raise ValueError(
                f"The features of `{argument}` must be numbers; received "
                f"dtype {features.dtype}."
            )
        if features.ndim != 3:
            raise ValueError(
                f"The features of `{argument}` must be [n, L, d] (pooled); "
                f"received shape {features.shape}."
            )
        if len(features) == 0:
            raise ValueError(
                f"`{argument}` is empty (0 examples): there is nothing to "
                "train on."
            )
        expected = (self.extractor.num_layers, self.extractor.feature_dim)
        if features.shape[1:] != expected:
            raise ValueError(
                f"The features of `{argument}` have shape {features.shape[1:]}"
                f"; this model's head takes {expected} "
                f"({self.extractor.layer_names})."
            )
        labels = self._check_labels(
            labels, len(features), f"the labels of `{argument}`"
        )
        return features.astype("float32", copy=False), labels

    def _from_cache(self, cache, argument):
        if not cache.pooled:
            raise ValueError(
                f"`{argument}` ({cache.cache_dir}) holds unpooled features "
                "[N, L, T, d]; `fit_cached` needs a pooled cache. Build it "
                "with `pooled=True`."
            )
        # Preprocessing is compared when the cache recorded it (a cache of
        # backbone inputs cannot say how they were made).
        use_preprocessor = None
        if cache.preprocessing is not None and self._has_preprocessor():
            use_preprocessor = self.preprocessor
            if not hasattr(use_preprocessor, "settings"):
                use_preprocessor = None
        cache.check_compatible(self.extractor, use_preprocessor)
        if cache.labels is None:
            raise ValueError(f"The cache at {cache.cache_dir} has no labels.")
        names = cache.class_names
        if names is not None:
            if self.class_names is not None and names != self.class_names:
                raise ValueError(
                    f"The cache at {cache.cache_dir} names the classes "
                    f"{names}; this model's are {self.class_names}."
                )
            if len(names) != self.num_classes:
                raise ValueError(
                    f"The cache at {cache.cache_dir} has {len(names)} "
                    f"classes ({names}); this model has {self.num_classes}."
                )
            if self.class_names is None:
                self.class_names = list(names)
        return np.asarray(cache.features, "float32"), cache.labels

    def fit_cached(
        self, cache, validation_data=None, epochs=10, batch_size=32, **kwargs
    ):
        """Trains the head on cached features (the fast way).

        `self.head.fit` with the optimizer this model was compiled with.

        Args:
            cache: a `FeatureCache`, its folder, or a tuple `(features,
                labels)` with features `[N, L, d]`. A cache must come from
                this backbone (fingerprint), layers and, when it recorded
                them, preprocessing settings; its class names, if any, must
                be this model's (a model without names takes them).
            validation_data: the same kinds, optional.
            epochs: int. Defaults to 10.
            batch_size: int. Defaults to 32.
            **kwargs: passed to the head's `fit`.

        Returns:
            The `History`.
        """
        self._check_compiled()
        x, y = self._cached_arrays(cache, "cache")
        validation_data = self._validation(validation_data, cached=True)
        return self.head.fit(
            x,
            y,
            validation_data=validation_data,
            epochs=epochs,
            batch_size=batch_size,
            **kwargs,
        )

    # -- inference ---------------------------------------------------------

    def preprocess(self, x, batch_size=256):
        """Raw inputs (texts, images, audio) -> backbone inputs (NumPy)."""
        kind, x = self._input_kind(x)
        if kind != "raw":
            raise ValueError(
                "`preprocess` takes raw inputs. " + self._expected_inputs()
            )
        parts = []
        for lo in range(0, len(x), batch_size):
            out = self.preprocessor(x[lo : lo + batch_size])
            if isinstance(out, tuple):
                out = out[0]
            parts.append(to_numpy(out))
        if isinstance(parts[0], dict):
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return np.concatenate(parts)

    def _features(self, items, batch_size):
        from keras_daam.features import extract_features

        return extract_features(
            self.extractor,
            items,
            preprocessor=self.preprocessor,
            batch_size=batch_size,
        )

    def predict(self, x, batch_size=None, verbose=0, **kwargs):
        """Logits `[n, num_classes]` of raw inputs or backbone inputs.

        Raw inputs go through the preprocessor and
        `keras_daam.features.extract_features` (texts in length buckets),
        then the head.
        """
        kind, x = self._input_kind(x)
        if kind == "raw":
            return self.head.predict(
                self._features(x, batch_size),
                batch_size=batch_size,
                verbose=verbose,
                **kwargs,
            )
        return super().predict(
            x, batch_size=batch_size, verbose=verbose, **kwargs
        )

    def predict_proba(self, x, batch_size=None):
        """Class probabilities `[n, num_classes]` (softmax, float32)."""
        logits = np.asarray(self.predict(x, batch_size=batch_size), "float64")
        logits -= logits.max(axis=-1, keepdims=True)
        weights = np.exp(logits)
        return (weights / weights.sum(axis=-1, keepdims=True)).astype("float32")

    def predict_classes(self, x, batch_size=None):
        """The most likely class of each input: its name when `class_names`
        is set (a NumPy str array), else its id (int64)."""
        ids = np.argmax(self.predict(x, batch_size=batch_size), axis=-1)
        if self.class_names is None:
            return ids.astype("int64")
        return np.asarray(list(self.class_names))[ids]

    # -- saving the head alone ----------------------------------------------

    def _preprocessing_settings(self):
        if self._preprocessor is None:
            recipe = self._preprocessor_recipe
            return dict(recipe["settings"]) if recipe else None
        settings = getattr(self._preprocessor, "settings", None)
        return settings() if callable(settings) else None

    def head_description(self, training=None):
        """The `head.json` content `save_head` writes (without the hash)."""
        return head_description(
            num_classes=self.num_classes,
            extractor=self.extractor.settings(),
            backbone_fingerprint=backbone_fingerprint(self.extractor.backbone),
            head=self.head_name,
            build=self.head_build if self.head_name is None else None,
            class_names=self.class_names,
            preset=self.extractor.preset,
            preprocessing=self._preprocessing_settings(),
            compile=self._compile_settings,
            training=training,
        )

    def save_head(self, path, overwrite=False, training=None):
        """Saves the trained head alone: `head.weights.h5` + `head.json`.

        See `keras_daam.models.saved_head` for the format. Written
        atomically; never into a folder holding other files.

        Args:
            path: str. The folder (new, empty, or a saved head).
            overwrite: bool. Replace a head saved there (only its two
                files). Defaults to `False` (`FileExistsError`).
            training: dict, optional. Recorded as is (e.g. learning rate,
                epochs, validation accuracy).

        Returns:
            `path`.
        """
        if self.head_name is None and self.head_build is None:
            raise ValueError(
                "This classifier's head was not built by name or by "
                "`build_head` arguments, so `load_head` could not rebuild "
                "it: save the whole model with `model.save(...)` instead."
            )
        return save_head_files(
            path,
            self.head,
            self.head_description(training),
            overwrite=overwrite,
        )

    def load_head(self, path):
        """Loads a head saved by `save_head` into this model.

        Returns:
            This model.

        Raises:
            ValueError: the saved head was made for another backbone
                (architecture or weights), layer selection, preprocessing,
                head or number of classes (each difference is named), or
                its weights file is corrupted. Nothing is loaded then.
        """
        saved = read_head_config(path)
        mine = self.head_description()
        if saved["version"] == 1:
            warnings.warn(
                f"{path} holds a head in format 1, whose fingerprint covers "
                "the backbone's architecture, not its weights: check that "
                "it was trained on this preset. Save it again to upgrade.",
                stacklevel=2,
            )
            mine["backbone_fingerprint"] = v1_backbone_fingerprint(
                self.extractor.backbone
            )
        problems = mismatches(saved, mine, self.head)
        if problems:
            raise ValueError(
                f"The head at {path} does not fit this model: "
                + "; ".join(problems)
                + "."
            )
        self.head.set_weights(read_head_weights(path, saved))
        if self.class_names is None and saved.get("class_names"):
            self.class_names = list(saved["class_names"])
        return self

    # -- serialisation --------------------------------------------------------

    def get_config(self):
        settings = self._preprocessing_settings()
        preprocessing = None
        if settings is not None and self.extractor.preset is not None:
            preprocessing = {
                "preset": self.extractor.preset,
                "settings": settings,
            }
        elif self._preprocessor is not None:
            warnings.warn(
                "The classifier's preprocessor is not saved with the model "
                "(it has no settings or preset to rebuild it from); pass "
                "one again after loading.",
                stacklevel=2,
            )
        return {
            "name": self.name,
            "trainable": self.trainable,
            "extractor": keras.saving.serialize_keras_object(self.extractor),
            "head": keras.saving.serialize_keras_object(self.head),
            "class_names": (
                list(self.class_names) if self.class_names else None
            ),
            "head_name": self.head_name,
            "head_build": _jsonable(dict(self.head_build))
            if self.head_build
            else None,
            "preprocessing": preprocessing,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        extractor = keras.saving.deserialize_keras_object(
            config.pop("extractor")
        )
        head = keras.saving.deserialize_keras_object(config.pop("head"))
        preprocessor = None
        # keras_daam 0.1 saved a serialised KerasHub preprocessor and the
        # build_head arguments as `head_config`.
        old = config.pop("preprocessor", None)
        if old is not None:
            preprocessor = keras.saving.deserialize_keras_object(old)
        old_head = config.pop("head_config", None)
        if old_head is not None and not config.get("head_build"):
            build = {
                k: v
                for k, v in old_head.items()
                if k
                not in (
                    "num_layers",
                    "feature_dim",
                    "num_classes",
                    "learning_rate",
                    "weight_decay",
                    "loss",
                    "seed",
                )
            }
            config["head_build"] = build
        return cls(extractor, head, preprocessor=preprocessor, **config)


def _rebuild_preprocessor(extractor, recipe):
    """The preprocessor a saved model had, from its preset and settings."""
    from keras_daam.features import make_preprocessor

    settings = recipe["settings"]
    try:
        location = resolve_preset(recipe["preset"]).location
        preprocessor = make_preprocessor(
            extractor, location, **_preprocessing_options(settings)
        )
    except (ValueError, ImportError, OSError) as error:
        raise ValueError(
            "The saved classifier's preprocessor could not be rebuilt from "
            f"its preset {recipe['preset']!r} ({error}). Attach one with "
            "`model.preprocessor = keras_daam.features.make_preprocessor("
            f"model.extractor, preset, ...)` (saved settings: {settings}), "
            "or pass the backbone's inputs."
        ) from None
    now = _jsonable(preprocessor.settings())
    if now != _jsonable(settings):
        differences = sorted(
            k for k in set(now) | set(settings) if now.get(k) != settings.get(k)
        )
        raise ValueError(
            f"The preset {recipe['preset']!r} now gives another preprocessor "
            f"than the saved model's (differences in {differences}): its "
            "features would not be the ones the head was trained on."
        )
    return preprocessor


def load_head(path, preset=None, preprocessor="auto"):
    """Rebuilds a classifier from a saved head and its preset.

    The backbone comes from the recorded preset (through
    `keras_daam.backbones.resolve_preset`), the layers, preprocessing
    settings (sequence length, image size, audio seconds, crop), head,
    class names and compile settings from `head.json`; then the head's
    weights are checked (SHA-256) and loaded.

    Args:
        path: str. A folder written by `save_head` / `save_head_files`
            (format 2), or a format-1 folder (`head_config.json`).
        preset: the preset to load instead of the recorded one (a folder
            that moved, a hub name, a backbone instance). Its backbone must
            still be the one the head was trained on (fingerprint).
        preprocessor: `"auto"` (rebuild the saved preprocessing; none if
            the head was trained on backbone inputs), a preprocessor, or
            `None`. Defaults to `"auto"`.

    Returns:
        A compiled `DensityAdaptiveClassifier` with the saved head weights.

    Raises:
        ValueError: the head does not fit the preset (each difference is
            named), its files are corrupted, or no preset is recorded.
    """
    saved = read_head_config(path)
    target = preset if preset is not None else saved.get("preset")
    if target is None:
        raise ValueError(
            f"The head at {path} records no preset (it was saved from a "
            "backbone instance): pass `preset=`."
        )
    if preset is None:
        try:
            resolve_preset(target)
        except ValueError as error:
            raise ValueError(
                f"The head at {path} was saved for the preset {target!r}, "
                f"which cannot be found here ({error}). Pass `preset=` (its "
                "new place, or the same preset by another name)."
            ) from None
    options = {}
    settings = saved.get("preprocessing")
    if isinstance(preprocessor, str) and preprocessor == "auto":
        if settings is not None:
            options = _preprocessing_options(settings)
        elif saved["version"] != 1:
            preprocessor = None  # trained on backbone inputs
    head = saved["head"]
    build = dict(saved["build"] or {}) if head is None else {}
    extractor = saved["extractor"]
    arguments = dict(
        head=head,
        class_names=saved.get("class_names"),
        layers=list(extractor["layer_indices"]),
        include_embeddings=extractor["include_embeddings"],
        mixed_widths=extractor["mixed_widths"],
        **options,
        **compile_arguments(saved.get("compile")),
        **build,
    )
    try:
        model = DensityAdaptiveClassifier.from_preset(
            target,
            saved["num_classes"],
            preprocessor=preprocessor,
            **arguments,
        )
    except ValueError as error:
        if saved["version"] != 1 or "Cannot load" not in str(error):
            raise
        # Format 1 recorded no preprocessing; its classifier went without
        # one when the preset had no tokenizer.
        model = DensityAdaptiveClassifier.from_preset(
            target, saved["num_classes"], preprocessor=None, **arguments
        )
    return model.load_head(path)
