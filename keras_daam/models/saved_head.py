"""A trained head saved alone: Keras weights plus a JSON description.

A saved head is a folder of two files:

- `head.weights.h5`: the head's weights in Keras's own format
  (`keras.Model.save_weights`; no optimizer state), kilobytes to a few
  megabytes.
- `head.json`: what the weights belong to, so that they are never loaded
  onto another backbone, layer selection, preprocessing or head:

  ```
  {"format": "keras_daam.head", "version": 2,
   "head": registry name or null, "build": custom build_head kwargs or null,
   "num_layers": L, "feature_dim": d, "num_classes": C,
   "class_names": [...] or null,
   "preset": identity of the preset (keras_daam.backbones.preset_identity),
   "backbone_fingerprint": keras_daam.backbones.backbone_fingerprint,
   "extractor": {family, backbone_class, layer_indices, layer_names,
                 include_embeddings, mixed_widths, pooling, num_layers,
                 feature_dim},
   "preprocessing": Preprocessor.settings() or null,
   "compile": the keras_daam.heads.compile_head arguments,
   "weights_sha256": SHA-256 of head.weights.h5,
   "training": free-form dict from the caller, or null}
  ```

Both files are written to temporary names in the folder and moved into
place with `os.replace`; a folder holding anything else than a saved head
is never written into. `DensityAdaptiveClassifier.save_head` and the
command line's `train` (a bare head trained on a feature cache, no backbone
loaded) both go through `save_head_files`, so they write the same format.

Format 1 (`head_config.json` + `head_weights.npz`, keras_daam 0.1) is still
read: `read_head_config` converts its description, and its weights load by
layer name. Its backbone fingerprint covered the architecture only, so a
warning says that the backbone's weights cannot be checked.
"""

import copy
import hashlib
import io
import json
import os
import uuid
import warnings

import keras
import numpy as np

HEAD_FORMAT = "keras_daam.head"
HEAD_VERSION = 2
HEAD_JSON = "head.json"
HEAD_WEIGHTS = "head.weights.h5"
OWN_FILES = (HEAD_JSON, HEAD_WEIGHTS)
# Format 1 (keras_daam 0.1).
V1_CONFIG = "head_config.json"
V1_WEIGHTS = "head_weights.npz"

# The extractor settings a head depends on (not how the preset or the
# layers were spelled).
EXTRACTOR_KEYS = (
    "family",
    "backbone_class",
    "layer_indices",
    "layer_names",
    "include_embeddings",
    "mixed_widths",
    "pooling",
    "num_layers",
    "feature_dim",
)
COMPILE_KEYS = ("learning_rate", "weight_decay", "loss", "steps_per_execution")
REQUIRED_KEYS = (
    "head",
    "build",
    "num_layers",
    "feature_dim",
    "num_classes",
    "extractor",
    "backbone_fingerprint",
)


def _jsonable(value, what):
    """`value` after a JSON round trip (tuples become lists), or raises."""
    try:
        return json.loads(json.dumps(value, sort_keys=True))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{what} must be JSON-serialisable to be saved with the head: "
            f"{error}. Received: {value!r}"
        ) from None


def compile_record(settings):
    """The `compile_head` arguments as JSON (a loss object serialised)."""
    if settings is None:
        return None
    record = {k: settings[k] for k in COMPILE_KEYS if k in settings}
    loss = record.get("loss")
    if loss is not None and not isinstance(loss, str):
        record["loss"] = keras.saving.serialize_keras_object(loss)
    return _jsonable(record, "The compile settings")


def compile_arguments(record):
    """`compile_head` keyword arguments from a `compile_record`."""
    arguments = dict(record or {})
    if isinstance(arguments.get("loss"), dict):
        arguments["loss"] = keras.saving.deserialize_keras_object(
            arguments["loss"]
        )
    return {k: v for k, v in arguments.items() if k in COMPILE_KEYS}


def head_description(
    *,
    num_classes,
    extractor,
    backbone_fingerprint,
    head=None,
    build=None,
    class_names=None,
    preset=None,
    preprocessing=None,
    compile=None,
    training=None,
):
    """The `head.json` content of a head, from its parts.

    For heads trained outside a `DensityAdaptiveClassifier` (the command
    line's `train` on a feature cache): pass the cache's extractor settings
    and backbone fingerprint, then `save_head_files`.

    Args:
        num_classes: int. Number of classes (logits).
        extractor: dict. `LayerwiseFeatureExtractor.settings()` (or a feature
            cache's extractor settings); only `EXTRACTOR_KEYS` are kept.
        backbone_fingerprint: str.
            `keras_daam.backbones.backbone_fingerprint(backbone)`.
        head: str, optional. The registry name (`keras_daam.heads`).
        build: dict, optional. The custom `build_head` keyword arguments
            (`attention`, `decoder`, options) when `head` is None.
        class_names: list of str, optional.
        preset: str, optional. The preset; its identity is recorded
            (`keras_daam.backbones.preset_identity`).
        preprocessing: dict, optional. `Preprocessor.settings()`.
        compile: dict, optional. The `compile_head` arguments.
        training: dict, optional. Anything JSON-able about the training run
            (learning rate, epochs, validation accuracy, ...).

    Returns:
        dict, ready for `save_head_files` (which adds the weights' hash).
    """
    from keras_daam.backbones import preset_identity

    if (head is None) == (build is None):
        raise ValueError(
            "Describe the head by exactly one of `head` (a registry name) "
            f"and `build` (custom build_head arguments). Received: "
            f"head={head!r}, build={build!r}"
        )
    missing = [k for k in EXTRACTOR_KEYS if k not in extractor]
    if missing:
        raise ValueError(
            f"`extractor` lacks the settings {missing}: pass "
            "`LayerwiseFeatureExtractor.settings()` or a feature cache's "
            "extractor settings."
        )
    if not isinstance(backbone_fingerprint, str) or not backbone_fingerprint:
        raise ValueError(
            "`backbone_fingerprint` must be the string from "
            "`keras_daam.backbones.backbone_fingerprint(backbone)`. "
            f"Received: {backbone_fingerprint!r}"
        )
    if class_names is not None:
        class_names = [str(c) for c in class_names]
        if len(class_names) != num_classes:
            raise ValueError(
                f"`class_names` has {len(class_names)} names for "
                f"num_classes={num_classes}."
            )
    settings = {k: extractor[k] for k in EXTRACTOR_KEYS}
    description = {
        "format": HEAD_FORMAT,
        "version": HEAD_VERSION,
        "head": head,
        "build": build,
        "num_layers": int(settings["num_layers"]),
        "feature_dim": int(settings["feature_dim"]),
        "num_classes": int(num_classes),
        "class_names": class_names,
        "preset": preset_identity(preset) if preset is not None else None,
        "backbone_fingerprint": backbone_fingerprint,
        "extractor": settings,
        "preprocessing": preprocessing,
        "compile": compile_record(compile),
        "training": training,
    }
    return _jsonable(description, "The head description")


def _foreign_files(path):
    """Files in `path` that a saved head does not consist of."""
    return sorted(
        f
        for f in os.listdir(path)
        if f not in OWN_FILES and not f.startswith(".tmp-")
    )


def _prepare_folder(path, overwrite):
    """Checks (or creates) the folder a head is saved into."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"Cannot save a head to {path}: it is a file.")
    if not os.path.isdir(path):
        os.makedirs(path)
        return
    json_path = os.path.join(path, HEAD_JSON)
    if os.path.exists(json_path):
        try:
            read_head_config(path)
        except ValueError as error:
            raise ValueError(
                f"{path} holds a {HEAD_JSON} that is not a readable "
                f"keras_daam head ({error}). Remove it or save elsewhere."
            ) from None
        if not overwrite:
            raise FileExistsError(
                f"{path} already holds a saved head; pass `overwrite=True` "
                "to replace it (only its head.json and head.weights.h5)."
            )
        return
    if os.path.exists(os.path.join(path, V1_CONFIG)):
        raise ValueError(
            f"{path} holds a head saved in format 1 ({V1_CONFIG}, "
            f"{V1_WEIGHTS}); format 2 is not written over it. Load it with "
            "`keras_daam.models.load_head` and save it to a new folder."
        )
    foreign = _foreign_files(path)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise ValueError(
            f"Cannot save a head into {path}: the folder holds files "
            f"keras_daam did not write ({shown}). Choose a new or empty "
            "folder."
        )


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compile_settings_of(head_model):
    """The `compile_head` arguments a compiled head was compiled with, as
    far as its optimizer and loss tell (AdamW learning rate and weight
    decay, loss, steps per execution); None if it is not compiled."""
    if not getattr(head_model, "compiled", False):
        return None
    optimizer = head_model.optimizer
    settings = {
        "steps_per_execution": int(
            getattr(head_model, "steps_per_execution", 1) or 1
        )
    }
    learning_rate = getattr(optimizer, "learning_rate", None)
    if learning_rate is not None:
        settings["learning_rate"] = float(
            keras.ops.convert_to_numpy(learning_rate)
        )
    if getattr(optimizer, "weight_decay", None) is not None:
        settings["weight_decay"] = float(optimizer.weight_decay)
    loss = head_model.loss
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        loss = "crossentropy"
    if isinstance(loss, (str, keras.losses.Loss)):
        settings["loss"] = loss
    return settings


def description_from_cache(
    cache,
    head_model,
    head=None,
    build=None,
    class_names=None,
    compile=None,
    training=None,
):
    """`head_description` of a head trained on a feature cache.

    Args:
        cache: a pooled `keras_daam.features.FeatureCache` (or its folder)
            the head was trained on: it gives the preset, the backbone
            fingerprint, the layers and the preprocessing.
        head_model: the trained head (gives the number of classes and, if
            `compile` is None, the compile settings).
        head, build: the registry name, or custom `build_head` arguments.
        class_names: list, optional. Defaults to the cache's.
        compile: dict, optional. Defaults to `compile_settings_of(head)`.
        training: dict, optional.
    """
    from keras_daam.features import FeatureCache

    if isinstance(cache, (str, os.PathLike)):
        cache = FeatureCache(cache)
    if cache.settings.get(
        "format_version"
    ) != 2 or "backbone_fingerprint" not in (cache.settings):
        raise ValueError(
            f"The cache at {cache.cache_dir} was written by an older "
            "keras_daam whose fingerprint does not cover the backbone's "
            "weights; extract it again to save heads trained on it."
        )
    return head_description(
        num_classes=int(keras.tree.flatten(head_model.output)[0].shape[-1]),
        extractor=cache.extractor_settings,
        backbone_fingerprint=cache.settings["backbone_fingerprint"],
        head=head,
        build=build,
        class_names=(
            class_names if class_names is not None else cache.class_names
        ),
        preset=cache.preset,
        preprocessing=cache.preprocessing,
        compile=compile
        if compile is not None
        else compile_settings_of(head_model),
        training=training,
    )


def save_head_files(
    path,
    head_model,
    description=None,
    overwrite=False,
    *,
    cache=None,
    head=None,
    build=None,
    class_names=None,
    compile=None,
    training=None,
):
    """Writes a saved head: `head.weights.h5` and `head.json` in `path`.

    The one writer of the format, used by
    `DensityAdaptiveClassifier.save_head` and by the command line's `train`
    (a bare head trained on a feature cache, no backbone loaded). Pass
    either a `description` (`head_description`) or the `cache` the head
    was trained on with its `head` name (or `build` arguments).

    Args:
        path: str. The folder: new, empty, or a saved head (then only with
            `overwrite=True`, which replaces the two files and nothing
            else).
        head_model: the head `keras.Model` (input `[L, d]`, logits).
        description: dict from `head_description` (or
            `DensityAdaptiveClassifier.head_description`).
        overwrite: bool. Replace a head saved there. Defaults to `False`.
        cache, head, build, class_names, compile, training: instead of
            `description`, see `description_from_cache`.

    Returns:
        `path`.

    Raises:
        FileExistsError: `path` holds a saved head and `overwrite` is False.
        ValueError: `path` is a file or holds other files; the description
            does not fit `head_model`.

    Example:

    ```python
    head = keras_daam.heads.build_head("daam_h2_flatten", 6, 384, 26)
    head.fit(cache.features, cache.labels, epochs=5)
    keras_daam.models.save_head_files(
        "heads/daam_h2_flatten", head, cache=cache, head="daam_h2_flatten"
    )
    model = keras_daam.models.load_head("heads/daam_h2_flatten")
    ```
    """
    path = os.fspath(path)
    if description is None:
        if cache is None:
            raise ValueError(
                "Pass a `description` (keras_daam.models.head_description) "
                "or the `cache=` the head was trained on."
            )
        description = description_from_cache(
            cache, head_model, head, build, class_names, compile, training
        )
    elif cache is not None or head is not None or build is not None:
        raise ValueError(
            "Pass either a `description` or `cache=` with `head=`/`build=`, "
            "not both."
        )
    description = dict(description)
    missing = [k for k in REQUIRED_KEYS if k not in description]
    if missing:
        raise ValueError(
            f"The head description lacks {missing}; build it with "
            "`keras_daam.models.head_description`."
        )
    expected = (description["num_layers"], description["feature_dim"])
    features_shape = tuple(keras.tree.flatten(head_model.input)[0].shape[1:])
    outputs = int(keras.tree.flatten(head_model.output)[0].shape[-1])
    if features_shape != expected or outputs != description["num_classes"]:
        raise ValueError(
            f"The head takes features {features_shape} and gives {outputs} "
            f"logits; the description says {expected} and "
            f"{description['num_classes']} classes."
        )
    # Saved from a fresh build of the description: the file then holds the
    # head's weights only (no optimizer state), and a description that
    # would not rebuild this head is caught now rather than at loading.
    clean = build_saved_head(description)
    if architecture(clean) != architecture(head_model):
        raise ValueError(
            f"The description (head={description['head']!r}, build="
            f"{description['build']!r}) does not rebuild this head: its "
            "architecture differs. Describe the head it was built with."
        )
    clean.set_weights(head_model.get_weights())
    _prepare_folder(path, overwrite)
    token = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp_weights = os.path.join(path, token + ".weights.h5")
    tmp_json = os.path.join(path, token + ".json")
    try:
        clean.save_weights(tmp_weights)
        description["weights_sha256"] = _sha256_file(tmp_weights)
        description["format"] = HEAD_FORMAT
        description["version"] = HEAD_VERSION
        text = json.dumps(
            _jsonable(description, "The head description"),
            indent=1,
            sort_keys=True,
        )
        with open(tmp_json, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # Weights first: a folder counts as a saved head once head.json is
        # there, and a crash between the two leaves a hash mismatch that
        # loading reports, never a silent mix.
        os.replace(tmp_weights, os.path.join(path, HEAD_WEIGHTS))
        os.replace(tmp_json, os.path.join(path, HEAD_JSON))
    finally:
        for tmp in (tmp_weights, tmp_json):
            if os.path.exists(tmp):
                os.remove(tmp)
    return path


def read_head_config(path):
    """Reads the description of a saved head (format 2, or 1 converted).

    Args:
        path: str. The head's folder (or its `head.json`).

    Returns:
        dict with the keys of `head.json` (see the module docstring). For a
        format-1 head, `version` is 1 and `build`/`compile` come from its
        `head_config`; `preprocessing` and `class_names` are None.

    Raises:
        FileNotFoundError: no saved head there.
        ValueError: the file is not valid JSON, not a keras_daam head, or
            from a newer format.
    """
    path = os.fspath(path)
    if os.path.basename(path) == HEAD_JSON and os.path.isfile(path):
        path = os.path.dirname(path) or "."
    json_path = os.path.join(path, HEAD_JSON)
    if not os.path.exists(json_path):
        if os.path.exists(os.path.join(path, V1_CONFIG)):
            return _read_v1(path)
        raise FileNotFoundError(
            f"No saved head at {path} (no {HEAD_JSON}). Save one with "
            "`DensityAdaptiveClassifier.save_head`."
        )
    description = _read_json(json_path)
    if description.get("format") != HEAD_FORMAT:
        raise ValueError(f"{json_path} is not a keras_daam head description.")
    version = description.get("version")
    if version != HEAD_VERSION:
        raise ValueError(
            f"{json_path} is in head format {version!r}; this keras_daam "
            f"reads formats 1 and {HEAD_VERSION}. Upgrade keras_daam to load "
            "it."
        )
    missing = [
        k for k in REQUIRED_KEYS + ("weights_sha256",) if k not in description
    ]
    if missing:
        raise ValueError(
            f"{json_path} lacks {missing}: the file is corrupted or was not "
            "written by keras_daam; save the head again."
        )
    return description


def _read_json(json_path):
    try:
        with open(json_path) as f:
            description = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{json_path} is not valid JSON: it is corrupted or truncated "
            f"({error}); save the head again."
        ) from None
    if not isinstance(description, dict):
        raise ValueError(f"{json_path} is not a keras_daam head description.")
    return description


def _read_v1(path):
    config_path = os.path.join(path, V1_CONFIG)
    old = _read_json(config_path)
    if old.get("format") != HEAD_FORMAT or old.get("version") != 1:
        raise ValueError(f"{config_path} is not a keras_daam head config.")
    build = dict(old["head_config"])
    num_layers = build.pop("num_layers")
    feature_dim = build.pop("feature_dim")
    num_classes = build.pop("num_classes")
    build.pop("seed", None)  # initial weights only
    compile_settings = {
        k: build.pop(k) for k in ("learning_rate", "weight_decay", "loss")
    }
    build["attention"] = build.get("attention") or "daam"
    build["decoder"] = build.get("decoder") or "conv"
    return {
        "format": HEAD_FORMAT,
        "version": 1,
        "head": None,
        "build": build,
        "num_layers": num_layers,
        "feature_dim": feature_dim,
        "num_classes": num_classes,
        "class_names": None,
        "preset": old.get("preset"),
        "backbone_fingerprint": old["backbone_fingerprint"],
        "extractor": old["extractor"],
        "preprocessing": None,
        "compile": compile_settings,
        "weights_sha256": old["sha256"],
        "training": None,
        "v1_weights": old["weights"],
    }


def v1_backbone_fingerprint(backbone):
    """The format-1 fingerprint: SHA-1 of the backbone's config only."""
    config = {
        k: v
        for k, v in backbone.get_config().items()
        if k not in ("name", "trainable")
    }
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


def build_saved_head(description):
    """An uncompiled head with the architecture `description` records."""
    from keras_daam.heads import build_head

    kwargs = dict(
        num_layers=description["num_layers"],
        feature_dim=description["feature_dim"],
        num_classes=description["num_classes"],
        compile=False,
        seed=0,
    )
    with warnings.catch_warnings():
        # The warnings of this build were shown when the head was made.
        warnings.simplefilter("ignore")
        if description["head"] is not None:
            return build_head(description["head"], **kwargs)
        return build_head(**kwargs, **copy.deepcopy(description["build"]))


def architecture(head_model):
    """The head's Keras config as canonical JSON, without its name: two
    heads with equal architectures compare equal whatever they are called
    (`daamv2` and `daam_h1_conv` are one head)."""
    config = dict(head_model.get_config())
    config.pop("name", None)
    config.pop("trainable", None)
    return json.dumps(config, sort_keys=True, default=str)


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _flatten(d, prefix):
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _same_architecture(saved, current_head):
    if current_head is None:
        return False
    try:
        saved_head = build_saved_head(saved)
    except (ValueError, TypeError):
        return False
    return architecture(saved_head) == architecture(current_head)


def mismatches(saved, current, current_head=None):
    """Differences between a saved head and a model's, as sentences.

    Args:
        saved: the saved description (`read_head_config`).
        current: the model's description
            (`DensityAdaptiveClassifier.head_description()`).
        current_head: the model's head; when the names or build arguments
            differ, the saved architecture is built and compared with it.

    Returns:
        list of str, e.g. `"preprocessing.sequence_length: saved 64, this
        model 128"`; empty when the head fits.
    """
    problems = []

    def differ(key, a, b):
        problems.append(f"{key}: saved {_short(a)}, this model {_short(b)}")

    for key in ("num_layers", "feature_dim", "num_classes"):
        if saved.get(key) != current.get(key):
            differ(key, saved.get(key), current.get(key))
    for key in EXTRACTOR_KEYS:
        a = saved["extractor"].get(key)
        b = current["extractor"].get(key)
        if a != b and key not in ("num_layers", "feature_dim"):
            differ(f"extractor.{key}", a, b)
    if saved["backbone_fingerprint"] != current["backbone_fingerprint"]:
        problems.append(
            "backbone_fingerprint: the backbone's architecture or weights "
            f"differ (saved {saved['backbone_fingerprint'][:12]}..., this "
            f"model {current['backbone_fingerprint'][:12]}...)"
        )
        if saved.get("preset") != current.get("preset"):
            differ("preset", saved.get("preset"), current.get("preset"))
    if saved.get("preprocessing") is not None and (
        current.get("preprocessing") is not None
    ):
        a = _flatten(saved["preprocessing"], "preprocessing.")
        b = _flatten(current["preprocessing"], "preprocessing.")
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                differ(key, a.get(key), b.get(key))
    if saved.get("class_names") is not None and (
        current.get("class_names") is not None
    ):
        if saved["class_names"] != current["class_names"]:
            differ("class_names", saved["class_names"], current["class_names"])
    same_recipe = saved.get("head") == current.get("head") and saved.get(
        "build"
    ) == current.get("build")
    if not same_recipe and not _same_architecture(saved, current_head):
        differ(
            "head",
            saved.get("head") or {"build": saved.get("build")},
            current.get("head") or {"build": current.get("build")},
        )
        if saved.get("build") and current.get("build"):
            a = _flatten(saved["build"], "build.")
            b = _flatten(current["build"], "build.")
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    differ(key, a.get(key), b.get(key))
    return problems


def load_head_model(path):
    """The saved head alone, as a `keras.Model`, and its description.

    No backbone is loaded: for heads applied to cached features (the
    command line's `explain`). The head is compiled with its recorded
    `compile_head` settings.

    Returns:
        `(head, description)`.
    """
    from keras_daam.heads import compile_head

    description = read_head_config(path)
    head = _load_saved_head(path, description)
    if description.get("compile"):
        compile_head(head, **compile_arguments(description["compile"]))
    return head, description


def read_head_weights(path, description):
    """The saved weights as a freshly built head's `get_weights()` list.

    The file's SHA-256 is checked first; the weights are loaded into a new
    head (`build_saved_head`), so a failure never leaves a model half
    loaded.

    Raises:
        FileNotFoundError: the weights file is missing.
        ValueError: the file is corrupted or truncated.
    """
    return _load_saved_head(path, description).get_weights()


def _load_saved_head(path, description):
    path = os.fspath(path)
    name = V1_WEIGHTS if description["version"] == 1 else HEAD_WEIGHTS
    weights_path = os.path.join(path, name)
    if not os.path.exists(weights_path):
        raise FileNotFoundError(
            f"The saved head at {path} has no {name}: save the head again."
        )
    with open(weights_path, "rb") as f:
        payload = f.read()
    if hashlib.sha256(payload).hexdigest() != description["weights_sha256"]:
        config = HEAD_JSON if name == HEAD_WEIGHTS else V1_CONFIG
        raise ValueError(
            f"{weights_path} is corrupted or truncated (its SHA-256 differs "
            f"from the one in {config}); save the head again."
        )
    head = build_saved_head(description)
    if description["version"] == 1:
        _set_v1_weights(head, payload, description, weights_path)
    else:
        try:
            head.load_weights(weights_path)
        except Exception as error:  # noqa: BLE001 - named for the user
            raise ValueError(
                f"{weights_path} does not hold this head's weights "
                f"({error}); save the head again."
            ) from None
    return head


def _set_v1_weights(head, payload, description, weights_path):
    with np.load(io.BytesIO(payload)) as data:
        weights = {k: data[k] for k in data.files}
    for layer in head.layers:
        values = []
        for j, w in enumerate(layer.weights):
            key = f"{layer.name}/{j}/{w.name}"
            if key not in weights or weights[key].shape != tuple(w.shape):
                raise ValueError(
                    f"{weights_path} lacks a valid {key!r}: it does not hold "
                    "this head's weights."
                )
            values.append(weights[key])
        if values:
            layer.set_weights(values)
