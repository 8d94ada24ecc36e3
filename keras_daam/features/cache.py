"""Extract layer-wise features once, keep them on disk, train from there.

A cache is keyed by *all* of its inputs, in the spirit of Hugging Face
`datasets` fingerprints. Its `settings` record everything that changes the
features: the preset's identity, a fingerprint of the backbone's
architecture and weights, the layers, pooling, dtype, the preprocessing
(sequence length, image size, sample rate, clip length and crop policy),
the batching order, and a fingerprint of every item and label of the
data. Extracting into an existing cache with any difference is refused
(never reused, never mixed) unless the caller asks to rebuild it
(`overwrite=True`, `--overwrite` on the command line). A lock file makes a
second writer fail at once. The writer only ever writes into a new or
empty folder or into a keras_daam cache, and only deletes files it wrote.

Layout of a cache folder:

- `metadata.json`: `format`, `settings`, `shapes`, `complete`, and an
  informational `description` (e.g. the data's source and skipped files).
- `features.npy`: `[N, L, d]` (pooled) or `[N, L, T, d]` (unpooled,
  float16 by default), read back as a memory map.
- `padding_mask.npy`: `[N, T]` bool (unpooled only).
- `labels.npy`: optional integer labels (`settings["class_names"]` names
  them when the data had named classes).
- `progress.json`: batches and rows written, replaced atomically after
  every batch, so an interrupted extraction resumes where it stopped.
- `.lock`: held while a process writes.
"""

import json
import os
import time

import numpy as np

from keras_daam.features.extraction import batch_labels_of
from keras_daam.features.extraction import data_length
from keras_daam.features.extraction import default_batch_size
from keras_daam.features.extraction import fingerprint_data
from keras_daam.features.extraction import is_indexable
from keras_daam.features.extraction import is_text_or_paths
from keras_daam.features.extraction import plan_batches
from keras_daam.features.extraction import processing_order_key
from keras_daam.features.extraction import run_batches
from keras_daam.utils import check_positive_int
from keras_daam.utils.folders import FolderLockedError
from keras_daam.utils.folders import OutputFolderError
from keras_daam.utils.folders import folder_lock
from keras_daam.utils.folders import prepare_output_folder

FORMAT = "keras_daam.feature_cache"
FORMAT_VERSION = 2
METADATA = "metadata.json"
PROGRESS = "progress.json"
FEATURES = "features.npy"
MASK = "padding_mask.npy"
LABELS = "labels.npy"
LOCK = ".lock"  # keras_daam.utils.folders.LOCK_FILE
OWN_FILES = (METADATA, PROGRESS, FEATURES, MASK, LABELS, LOCK)
REBUILD_HINT = (
    "Use another folder, or rebuild this one (`--overwrite` on the command "
    "line, `overwrite=True` in Python)."
)


class CacheError(OutputFolderError):
    """A feature cache cannot be written or read as asked."""


class CacheMismatchError(CacheError):
    """The cache was built from other data or with other settings.

    Attributes:
        differences: dict `{setting: (cached, requested)}`.
    """

    def __init__(self, message, differences):
        super().__init__(message)
        self.differences = differences


# Raised when another process writes the cache (`folder_lock`).
CacheLockedError = FolderLockedError


def _atomic_write_json(path, obj):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _human(num_bytes):
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024.0


def read_metadata(cache_dir):
    """The `metadata.json` of a keras_daam cache, or None if there is none.

    Raises:
        CacheError: if the folder holds a `metadata.json` that is not a
            keras_daam feature cache's (another tool's file).
    """
    path = os.path.join(cache_dir, METADATA)
    if not os.path.isfile(path):
        return None
    try:
        meta = _read_json(path)
    except (OSError, ValueError) as error:
        raise CacheError(
            f"{path} is not a readable keras_daam cache file ({error})."
        ) from None
    if not isinstance(meta, dict) or not _is_ours(meta):
        raise CacheError(
            f"{cache_dir} holds a metadata.json that keras_daam did not "
            "write (not a feature cache). Choose another folder: keras_daam "
            "never writes over files it did not make."
        )
    return meta


def _is_ours(meta):
    if meta.get("format") == FORMAT:
        return True
    # Format 1 (keras_daam <= 0.1) had no marker.
    settings = meta.get("settings")
    return isinstance(settings, dict) and settings.get("format_version") == 1


def _normalise_extractor_settings(extractor):
    from keras_daam.backbones import preset_identity

    settings = dict(extractor.settings())
    preset = settings.pop("preset", None)
    # How the layers were asked for ("all" vs [0, ..., 5]) does not matter;
    # which layers were taken does.
    settings.pop("layers", None)
    settings["preset"] = preset_identity(preset) if preset else None
    return settings


def matching_extractor(extractor, pooled):
    """`extractor` with `pooling` switched to match `pooled` (shared
    backbone, no copy)."""
    want = "mean" if pooled else None
    if extractor.pooling == want:
        return extractor
    return type(extractor)(
        extractor.backbone,
        layers=extractor.layer_indices,
        include_embeddings=extractor.include_embeddings,
        pooling=want,
        mixed_widths=extractor.mixed_widths,
        preset=extractor.preset,
    )


def cache_settings(
    extractor,
    preprocessor,
    pooled,
    dtype,
    count,
    data_fingerprint,
    has_labels,
    class_names,
):
    """Everything that changes a cache's features, as a JSON-able dict."""
    from keras_daam.backbones import backbone_fingerprint

    preprocessing = None
    if preprocessor is not None:
        if hasattr(preprocessor, "settings"):
            preprocessing = preprocessor.settings()
        else:
            preprocessing = {"callable": getattr(preprocessor, "__name__", "?")}
    return {
        "format_version": FORMAT_VERSION,
        "extractor": _normalise_extractor_settings(extractor),
        "backbone_fingerprint": backbone_fingerprint(extractor.backbone),
        "preprocessing": preprocessing,
        "pooled": bool(pooled),
        "dtype": dtype,
        "count": int(count),
        "data_fingerprint": data_fingerprint,
        "has_labels": bool(has_labels),
        "class_names": list(class_names) if class_names is not None else None,
    }


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _differences(old, new):
    # Both sides as `metadata.json` holds them: a tuple is a list there, so
    # settings read back from disk equal the same settings made afresh.
    a = _flatten(json.loads(json.dumps(old)))
    b = _flatten(json.loads(json.dumps(new)))
    return {
        k: (a.get(k), b.get(k))
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    }


def _describe(differences):
    def short(v):
        text = repr(v)
        return text if len(text) <= 40 else text[:37] + "..."

    parts = []
    for key, (cached, requested) in differences.items():
        if key == "data_fingerprint":
            parts.append("the data differ (some item or label changed)")
        elif key == "backbone_fingerprint":
            parts.append("the backbone's weights or architecture differ")
        else:
            parts.append(
                f"{key}: cached {short(cached)}, now {short(requested)}"
            )
    return "; ".join(parts)


def _prepare_labels(data, labels, class_names):
    """Integer labels and class names from the arguments (or a Dataset)."""
    if labels is None and getattr(data, "labels", None) is not None:
        labels = data.labels
    if labels is None:
        return None, class_names
    labels = np.asarray(labels)
    if labels.dtype.kind in ("U", "S", "O"):
        from keras_daam.data import encode_labels

        return encode_labels(list(labels), class_names)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(
            labels != np.round(labels)
        ):
            bad = labels[~np.isfinite(labels) | (labels != np.round(labels))]
            raise ValueError(
                "`labels` must be integer class ids (or class names). "
                f"Received non-integer values such as {bad[:3].tolist()}."
            )
        labels = labels.astype("int64")
    if labels.dtype.kind in ("i", "u") and class_names is not None:
        bad = labels[(labels < 0) | (labels >= len(class_names))]
        if bad.size:
            raise ValueError(
                f"`labels` holds ids {sorted(set(bad.tolist()))[:5]} outside "
                f"the {len(class_names)} classes of `class_names`."
            )
    return labels, class_names


def extract_to_cache(
    extractor,
    data,
    cache_dir,
    batch_size=None,
    pooled=True,
    dtype=None,
    labels=None,
    preprocessor=None,
    num_samples=None,
    overwrite=False,
    verbose=True,
    class_names=None,
    data_fingerprint=None,
    description=None,
    shard=None,
):
    """Runs a frozen extractor over a dataset into an on-disk cache.

    A finished cache of the same data and settings is reused; an
    interrupted one (Ctrl-C, a crash) resumes where it stopped; a cache of
    other data or settings is refused (`CacheMismatchError`, naming each
    difference) unless `overwrite=True`. Texts are sorted by token length
    and batched in length buckets (see `keras_daam.features.extraction`);
    rows keep the order of `data`.

    Args:
        extractor: a `keras_daam.backbones.LayerwiseFeatureExtractor`. Its
            pooling is switched to match `pooled` (sharing the backbone).
        data: a `keras_daam.data.Dataset`; a list of strings or file paths
            (needs `preprocessor`); a NumPy array or dict of arrays (the
            backbone's inputs, or raw images/waveforms for `preprocessor`);
            or an iterable of batches `x` or `(x, y)` (a callable returning
            a fresh iterator is best: resuming and fingerprinting iterate it
            again).
        cache_dir: str. Folder of the cache: new, empty, or a keras_daam
            cache. A folder holding other files is refused.
        batch_size: int. Defaults to a throughput-minded size per modality
            (`extraction.DEFAULT_BATCH_SIZES`).
        pooled: bool. Cache `[N, L, d]` (True) or `[N, L, T, d]` with its
            padding mask (False). Defaults to `True`.
        dtype: numpy dtype on disk. Defaults to `"float32"` pooled and
            `"float16"` unpooled.
        labels: optional N labels: integer ids or class names (strings,
            encoded with `keras_daam.data.encode_labels`: numeric names in
            numeric order). A `Dataset`'s own labels are used by default.
        preprocessor: optional callable turning raw items into backbone
            inputs; `keras_daam.features.make_preprocessor` records its
            settings in the cache.
        num_samples: int. Required for iterables without `len()`.
        overwrite: bool. Rebuild a cache made from other data or settings
            (only this cache's own files are deleted). Defaults to `False`.
        verbose: bool. A progress bar and a size report.
        class_names: optional list naming the label ids (string labels are
            mapped onto it by name).
        data_fingerprint: optional str, the data's fingerprint when the
            caller computed it (skips hashing the data again).
        description: optional JSON-able dict stored (not compared) in the
            metadata, e.g. the data's source and skipped files.
        shard: optional `(index, count)`: extract only the `index`-th of
            `count` contiguous slices of `data`, into the sub-folder
            `shard-<index>-of-<count>` of `cache_dir` (one process or host
            per shard; see `keras_daam.features.shards`). Once every shard
            is complete, `merge_shards(cache_dir)`, or a call without
            `shard`, checks and assembles them into the cache itself.

    Returns:
        The `FeatureCache` of the finished cache (of the shard, with
        `shard`).

    Raises:
        CacheMismatchError: the cache holds other data or settings.
        CacheLockedError: another process is writing the cache.
        CacheError: the folder holds files keras_daam did not write.
        ValueError: invalid arguments or data.
    """
    if batch_size is not None:
        batch_size = check_positive_int("batch_size", batch_size)
    else:
        batch_size = default_batch_size(extractor)
    items = getattr(data, "items", data) if hasattr(data, "modality") else data
    if is_text_or_paths(items) and preprocessor is None:
        raise ValueError(
            "`data` holds strings or paths: pass `preprocessor=` (e.g. "
            "`keras_daam.features.make_preprocessor(extractor, preset)`) to "
            "turn them into backbone inputs."
        )
    extractor = matching_extractor(extractor, pooled)
    dtype = np.dtype(dtype or ("float32" if pooled else "float16")).name
    if is_indexable(items):
        count = data_length(items)
    elif num_samples is not None:
        count = check_positive_int("num_samples", num_samples)
    else:
        raise ValueError(
            "`data` is an iterable of batches: pass `num_samples=` (the "
            "number of samples it yields, not batches)."
        )
    if count == 0:
        raise ValueError("`data` is empty: there is nothing to extract.")
    labels, class_names = _prepare_labels(data, labels, class_names)
    if labels is not None and len(labels) != count:
        raise ValueError(
            f"`labels` has {len(labels)} entries but `data` has {count}."
        )
    labels_from_batches = False
    if labels is None and not is_indexable(items):
        labels = batch_labels_of(data)
        labels_from_batches = labels is not None
    if data_fingerprint is None:
        data_fingerprint = fingerprint_data(
            data, None if labels_from_batches else labels, class_names
        )
    order = processing_order_key(items, preprocessor, batch_size)
    settings = cache_settings(
        extractor,
        preprocessor,
        pooled,
        dtype,
        count,
        data_fingerprint,
        labels is not None,
        class_names,
    )
    if shard is not None:
        from keras_daam.features import shards

        index, num_shards = shards.check_shard(shard)
        rows = shards.shard_rows(count, index, num_shards)
        if len(rows) == 0:
            raise ValueError(
                f"Shard {index} of {num_shards} holds no row of the {count} "
                "samples: use fewer shards."
            )
        settings = dict(
            settings,
            count=int(len(rows)),
            shard={
                "index": index,
                "count": num_shards,
                "rows": [int(rows[0]), int(rows[-1]) + 1],
                "total": int(count),
            },
        )
        items = shards.take(items, rows)
        labels = None if labels is None else np.asarray(labels)[rows]
        prepare_output_folder(
            cache_dir,
            own_names(cache_dir),
            what="feature cache",
            error=CacheError,
        )
        cache_dir = os.path.join(
            cache_dir, shards.shard_name(index, num_shards)
        )
    prepare_output_folder(
        cache_dir, own_names(cache_dir), what="feature cache", error=CacheError
    )
    with folder_lock(cache_dir, "feature cache"):
        start = _check_existing(cache_dir, settings, order, overwrite, verbose)
        if start is None:
            return FeatureCache(cache_dir)
        if shard is None and start == 0:
            from keras_daam.features import shards

            if shards.shard_folders(cache_dir):
                return shards.assemble(cache_dir, settings, verbose=verbose)
        return _write(
            extractor,
            items,
            cache_dir,
            settings,
            start,
            batch_size,
            preprocessor,
            labels,
            description,
            order,
            verbose,
        )


def own_names(cache_dir):
    """The names in `cache_dir` a cache may hold: its files and shards."""
    from keras_daam.features.shards import shard_folders

    return OWN_FILES + tuple(shard_folders(cache_dir))


def _remove_shards(cache_dir):
    import shutil

    from keras_daam.features.shards import shard_folders

    for name in shard_folders(cache_dir):
        shutil.rmtree(os.path.join(cache_dir, name))


def _remove_own_files(cache_dir):
    for name in (METADATA, PROGRESS, FEATURES, MASK, LABELS):
        path = os.path.join(cache_dir, name)
        if os.path.exists(path):
            os.remove(path)


def _check_existing(cache_dir, settings, order, overwrite, verbose):
    """Batches already done (0 for a new cache), or None to reuse it.

    A resumed extraction must cut the data into the same batches: with
    another batch size (`order`), it starts again from the first batch.
    """
    old = read_metadata(cache_dir)
    if old is None:
        _remove_own_files(cache_dir)  # a stray progress/features file
        if overwrite:
            _remove_shards(cache_dir)
        return 0
    if overwrite:
        _remove_own_files(cache_dir)
        _remove_shards(cache_dir)
        return 0
    if old.get("format") != FORMAT:
        raise CacheMismatchError(
            f"The cache at {cache_dir} was written by an older keras_daam "
            "whose fingerprints cover only part of the data and settings, "
            f"so it cannot be checked against this request. {REBUILD_HINT}",
            {"format": (old.get("format"), FORMAT)},
        )
    differences = _differences(old["settings"], settings)
    if differences:
        raise CacheMismatchError(
            f"The cache at {cache_dir} was built from other data or with "
            f"other settings: {_describe(differences)}. {REBUILD_HINT}",
            differences,
        )
    if old.get("complete"):
        if verbose:
            print(f"Reusing the finished cache at {cache_dir}.")
        return None
    progress_path = os.path.join(cache_dir, PROGRESS)
    start = 0
    if os.path.exists(progress_path) and os.path.exists(
        os.path.join(cache_dir, FEATURES)
    ):
        progress = _read_json(progress_path)
        if progress.get("order") == order:
            start = int(progress.get("batches", 0))
    if verbose and start:
        rows = _read_json(progress_path).get("rows", 0)
        print(f"Resuming extraction at {rows}/{settings['count']}.")
    return start


def _open_arrays(cache_dir, settings, first_out, sequence_length, verbose):
    from numpy.lib.format import open_memmap

    count, dtype = settings["count"], settings["dtype"]
    if settings["pooled"]:
        shape = (count,) + tuple(first_out.shape[1:])
        mask_shape = None
    else:
        hidden = first_out["hidden_states"]
        t = sequence_length or hidden.shape[2]
        shape = (count, hidden.shape[1], t, hidden.shape[3])
        mask_shape = (count, t)
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if verbose:
        print(
            f"Writing features {shape} {dtype} ({_human(size)}) to {cache_dir}."
        )
    features = open_memmap(
        os.path.join(cache_dir, FEATURES), mode="w+", dtype=dtype, shape=shape
    )
    mask = None
    if mask_shape is not None:
        mask = open_memmap(
            os.path.join(cache_dir, MASK),
            mode="w+",
            dtype="bool",
            shape=mask_shape,
        )
    return features, mask


def _write(
    extractor,
    items,
    cache_dir,
    settings,
    start,
    batch_size,
    preprocessor,
    labels,
    description,
    order,
    verbose,
):
    import keras

    meta_path = os.path.join(cache_dir, METADATA)
    progress_path = os.path.join(cache_dir, PROGRESS)
    count = settings["count"]
    metadata = {
        "format": FORMAT,
        "settings": settings,
        "complete": False,
        "shapes": None,
        "description": description or {},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    state = {"features": None, "mask": None, "rows": 0, "batches": start}
    if start > 0:
        metadata = read_metadata(cache_dir)
        state["features"] = np.load(
            os.path.join(cache_dir, FEATURES), mmap_mode="r+"
        )
        if not settings["pooled"]:
            state["mask"] = np.load(
                os.path.join(cache_dir, MASK), mmap_mode="r+"
            )
        state["rows"] = int(_read_json(progress_path).get("rows", 0))
    else:
        _atomic_write_json(meta_path, metadata)
    progress = {"batches": start, "rows": state["rows"], "order": order}
    _atomic_write_json(progress_path, progress)
    if labels is not None:
        np.save(os.path.join(cache_dir, LABELS), np.asarray(labels))
    sequence_length = getattr(preprocessor, "sequence_length", None)
    bar = keras.utils.Progbar(
        count, verbose=1 if verbose else 0, unit_name="item"
    )
    if state["rows"]:
        bar.update(state["rows"])

    def sink(batch, out):
        if state["features"] is None:
            state["features"], state["mask"] = _open_arrays(
                cache_dir, settings, out, sequence_length, verbose
            )
            shapes = {"features": list(state["features"].shape)}
            if state["mask"] is not None:
                shapes["padding_mask"] = list(state["mask"].shape)
            metadata["shapes"] = shapes
            _atomic_write_json(meta_path, metadata)
        features, rows = state["features"], batch.rows
        if rows.size and rows.max() >= count:
            raise ValueError(
                f"`data` yielded more than num_samples={count} samples."
            )
        if settings["pooled"]:
            _check_shape(out.shape[1:], features.shape[1:])
            features[rows] = out.astype(features.dtype)
        else:
            hidden = out["hidden_states"]
            t = hidden.shape[2]
            _check_shape(
                (hidden.shape[1], hidden.shape[3]),
                (features.shape[1], features.shape[3]),
            )
            if t > features.shape[2]:
                raise ValueError(
                    f"A batch has {t} tokens but the cache holds "
                    f"{features.shape[2]}: pad every batch to the same length "
                    "for an unpooled cache."
                )
            block = np.zeros((len(rows),) + features.shape[1:], features.dtype)
            block[:, :, :t] = hidden
            features[rows] = block
            m = np.zeros((len(rows), features.shape[2]), bool)
            m[:, :t] = out["padding_mask"].astype(bool)
            state["mask"][rows] = m
            state["mask"].flush()
        features.flush()
        state["rows"] += len(rows)
        state["batches"] += 1
        progress.update(batches=state["batches"], rows=state["rows"])
        _atomic_write_json(progress_path, progress)
        bar.update(state["rows"])

    batches = plan_batches(items, batch_size, preprocessor, start_batch=start)
    run_batches(
        extractor, batches, sink, batch_size, pad_batches=count > batch_size
    )
    if state["rows"] != count:
        raise ValueError(
            f"`data` yielded {state['rows']} samples but {count} were expected."
        )
    metadata["complete"] = True
    metadata["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _atomic_write_json(meta_path, metadata)
    return FeatureCache(cache_dir)


def _check_shape(got, want):
    if tuple(got) != tuple(want):
        raise ValueError(
            f"Batch features have shape {tuple(got)} but the cache holds "
            f"{tuple(want)}."
        )


class FeatureCache:
    """A finished feature cache, memory-mapped.

    Args:
        cache_dir: str. A folder written by `extract_to_cache`.
        layers: optional list of layer positions (into the cached `L`) to
            expose; `None` keeps all. Selecting layers reads only those
            layers from disk when indexed.

    Attributes:
        features: `[N, L, d]` or `[N, L, T, d]` array (read-only memmap).
        padding_mask: `[N, T]` bool memmap (unpooled) or None.
        labels: array of N integer labels or None.
        class_names: list naming the labels, or None.
        settings: dict, everything that made the features (see
            `extract_to_cache`).
        metadata: dict, the whole `metadata.json`.

    Example:

    ```python
    cache = keras_daam.features.extract_to_cache(
        extractor, texts, "cache/train", labels=y, preprocessor=pre
    )
    cache = keras_daam.features.FeatureCache("cache/train")
    x, y = cache.features, cache.labels
    ```
    """

    def __init__(self, cache_dir, layers=None):
        cache_dir = os.fspath(cache_dir)
        if not os.path.isdir(cache_dir):
            raise FileNotFoundError(
                f"No feature cache at {cache_dir} (no such folder)."
            )
        metadata = read_metadata(cache_dir)
        if metadata is None:
            raise FileNotFoundError(
                f"No feature cache at {cache_dir} (no {METADATA})."
            )
        self.cache_dir = cache_dir
        self.metadata = metadata
        self.settings = metadata["settings"]
        if not metadata.get("complete"):
            done = 0
            progress = os.path.join(cache_dir, PROGRESS)
            if os.path.exists(progress):
                done = _read_json(progress).get("rows", 0)
            raise CacheError(
                f"The cache at {cache_dir} is incomplete ({done}/"
                f"{self.settings['count']} samples): run the same extraction "
                "again to resume it."
            )
        try:
            self._features = np.load(
                os.path.join(cache_dir, FEATURES), mmap_mode="r"
            )
        except (OSError, ValueError) as error:
            raise CacheError(
                f"{FEATURES} in {cache_dir} cannot be read ({error}): the "
                f"cache is corrupted. {REBUILD_HINT}"
            ) from None
        expected = tuple(metadata["shapes"]["features"])
        if self._features.shape != expected:
            raise CacheError(
                f"{FEATURES} in {cache_dir} has shape {self._features.shape}, "
                f"the metadata says {expected}: the cache is corrupted. "
                f"{REBUILD_HINT}"
            )
        mask_path = os.path.join(cache_dir, MASK)
        self.padding_mask = (
            np.load(mask_path, mmap_mode="r")
            if os.path.exists(mask_path)
            else None
        )
        label_path = os.path.join(cache_dir, LABELS)
        self.labels = (
            np.load(label_path) if os.path.exists(label_path) else None
        )
        if self.labels is not None and len(self.labels) != len(self._features):
            raise CacheError(
                f"{LABELS} in {cache_dir} has {len(self.labels)} labels for "
                f"{len(self._features)} samples: the cache is corrupted. "
                f"{REBUILD_HINT}"
            )
        num_layers = self._features.shape[1]
        if layers is not None:
            layers = [int(i) for i in np.atleast_1d(layers)]
            bad = [i for i in layers if not -num_layers <= i < num_layers]
            if bad:
                raise ValueError(
                    f"Layer positions {bad} are out of range for a cache "
                    f"of {num_layers} layers ({self.layer_names})."
                )
        self.layers = layers

    @property
    def extractor_settings(self):
        # Format 1 kept the extractor's settings at the top level.
        return self.settings.get("extractor", self.settings)

    @property
    def class_names(self):
        names = self.settings.get("class_names")
        return list(names) if names is not None else None

    @property
    def preprocessing(self):
        return self.settings.get("preprocessing")

    @property
    def preset(self):
        return self.extractor_settings.get("preset")

    @property
    def features(self):
        if self.layers is None:
            return self._features
        return self._features[:, self.layers]

    @property
    def layer_names(self):
        names = list(self.extractor_settings["layer_names"])
        if self.layers is None:
            return names
        return [names[i] for i in self.layers]

    @property
    def pooled(self):
        return bool(self.settings["pooled"])

    @property
    def num_layers(self):
        return len(self.layers) if self.layers else self._features.shape[1]

    @property
    def feature_dim(self):
        return int(self._features.shape[-1])

    def __len__(self):
        return int(self._features.shape[0])

    def __repr__(self):
        return (
            f"FeatureCache({self.cache_dir!r}, n={len(self)}, "
            f"shape={tuple(self._features.shape)}, "
            f"dtype={self._features.dtype}, preset={self.preset!r})"
        )

    def check_compatible(self, extractor, preprocessor=None):
        """Raises `CacheMismatchError` if `extractor` (and `preprocessor`)
        would make other features than the cached ones."""
        from keras_daam.backbones import backbone_fingerprint

        mine = dict(self.extractor_settings)
        theirs = _normalise_extractor_settings(extractor)
        keys = (
            "family",
            "layer_indices",
            "include_embeddings",
            "mixed_widths",
            "feature_dim",
        )
        differences = {
            f"extractor.{k}": (mine.get(k), theirs.get(k))
            for k in keys
            if mine.get(k) != theirs.get(k)
        }
        if self.settings.get("backbone_fingerprint") != backbone_fingerprint(
            extractor.backbone
        ):
            differences["backbone_fingerprint"] = ("cached", "this backbone")
        if preprocessor is not None and hasattr(preprocessor, "settings"):
            for k, (a, b) in _differences(
                self.preprocessing or {}, preprocessor.settings()
            ).items():
                differences[f"preprocessing.{k}"] = (a, b)
        if differences:
            raise CacheMismatchError(
                f"The cache at {self.cache_dir} does not match this "
                f"model: {_describe(differences)}.",
                differences,
            )
