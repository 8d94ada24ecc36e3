"""Extract layer-wise features once, keep them on disk, train from there.

Layout of a cache folder:

- `metadata.json`: the settings (preset, family, layers, pooling, dtype,
  count, shapes, a fingerprint of the backbone config and of the data) and
  whether extraction finished.
- `features.npy`: `[N, L, d]` (pooled) or `[N, L, T, d]` (unpooled,
  float16 by default), read back as a memory map.
- `padding_mask.npy`: `[N, T]` bool (unpooled only).
- `labels.npy`: optional labels.
- `progress.json`: how many samples are written, replaced atomically after
  every batch so an interrupted extraction resumes where it stopped.
"""

import hashlib
import json
import os
import sys
import time

import numpy as np

METADATA = "metadata.json"
PROGRESS = "progress.json"
FEATURES = "features.npy"
MASK = "padding_mask.npy"
LABELS = "labels.npy"
FORMAT_VERSION = 1


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


class _Progress:
    """tqdm when installed, else a line every ~10 %."""

    def __init__(self, total, initial, enabled, desc):
        self.total = total
        self.count = initial
        self.enabled = enabled
        self.bar = None
        self.next_print = 0.0
        self.desc = desc
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc)
        except ImportError:
            print(f"{desc}: {initial}/{total}", file=sys.stderr)
            self.next_print = initial + total / 10.0

    def update(self, n):
        self.count += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
        elif self.count >= self.next_print or self.count >= self.total:
            print(f"{self.desc}: {self.count}/{self.total}", file=sys.stderr)
            self.next_print = self.count + self.total / 10.0

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _is_text_or_paths(data):
    if isinstance(data, np.ndarray):
        return data.dtype.kind in ("U", "S", "O")
    if isinstance(data, (list, tuple)) and len(data) > 0:
        return isinstance(data[0], (str, bytes, os.PathLike))
    return False


def _length(data):
    if isinstance(data, dict):
        lengths = {len(v) for v in data.values()}
        if len(lengths) != 1:
            raise ValueError(
                "All arrays of a dict input need the same length. Received "
                f"lengths {sorted(lengths)}."
            )
        return lengths.pop()
    return len(data)


def _slice(data, start, stop):
    if isinstance(data, dict):
        return {k: v[start:stop] for k, v in data.items()}
    return data[start:stop]


def _to_numpy(x):
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return x
    from keras import ops

    return np.asarray(ops.convert_to_numpy(x))


def _batches(data, batch_size, start, labels, preprocessor):
    """Yields `(x, y)` numpy batches from sample `start` onwards."""
    indexable = isinstance(data, (dict, np.ndarray, list, tuple))
    if indexable:
        n = _length(data)
        for lo in range(start, n, batch_size):
            hi = min(lo + batch_size, n)
            x = _slice(data, lo, hi)
            y = None if labels is None else np.asarray(labels[lo:hi])
            if preprocessor is not None:
                x = preprocessor(list(x) if not isinstance(x, dict) else x)
                if isinstance(x, tuple):
                    x = x[0]
            yield _to_numpy(x), y
        return
    # An iterable of batches (generator, tf.data.Dataset, PyDataset...).
    iterator = data() if callable(data) else iter(data)
    seen = 0
    for item in iterator:
        if isinstance(item, tuple) and len(item) >= 2:
            x, y = item[0], _to_numpy(item[1])
        else:
            x, y = item, None
        x = _to_numpy(x)
        size = _length(x) if isinstance(x, dict) else len(x)
        if seen + size <= start:
            seen += size
            continue
        if seen < start:
            raise ValueError(
                "Cannot resume inside a batch: the data's batches changed "
                f"size (resume point {start}, batch spans {seen}-"
                f"{seen + size}). Use the same batching as the first run."
            )
        if preprocessor is not None:
            x = _to_numpy(preprocessor(x))
            if isinstance(x, tuple):
                x = x[0]
        seen += size
        yield x, y


def _fingerprint_data(data, labels):
    """A cheap hash of the dataset's head and tail, to catch a swapped set."""
    digest = hashlib.sha1()
    if isinstance(data, (dict, np.ndarray, list, tuple)):
        n = _length(data)
        digest.update(str(n).encode())
        for part in (_slice(data, 0, 4), _slice(data, max(n - 4, 0), n)):
            if isinstance(part, dict):
                for k in sorted(part):
                    digest.update(k.encode())
                    digest.update(np.ascontiguousarray(part[k]).tobytes())
            elif _is_text_or_paths(part):
                for s in part:
                    digest.update(
                        os.fspath(s).encode() if not isinstance(s, bytes) else s
                    )
            else:
                digest.update(np.ascontiguousarray(part).tobytes())
    else:
        digest.update(b"iterable")
    if labels is not None:
        digest.update(np.ascontiguousarray(np.asarray(labels)).tobytes())
    return digest.hexdigest()


def _backbone_fingerprint(extractor):
    # The architecture, not the instance: Keras numbers the names of
    # repeated loads (`bert_backbone_1`) and freezing flips `trainable`.
    config = {
        k: v
        for k, v in extractor.backbone.get_config().items()
        if k not in ("name", "trainable")
    }
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


def _matching_extractor(extractor, pooled):
    want = "mean" if pooled else None
    if extractor.pooling == want:
        return extractor
    cls = type(extractor)
    return cls(
        extractor.backbone,
        layers=extractor.layers_arg,
        include_embeddings=extractor.include_embeddings,
        pooling=want,
        mixed_widths=extractor.mixed_widths,
        preset=extractor.preset,
    )


def extract_to_cache(
    extractor,
    data,
    cache_dir,
    batch_size=32,
    pooled=True,
    dtype=None,
    labels=None,
    preprocessor=None,
    num_samples=None,
    overwrite=False,
    verbose=True,
):
    """Runs a frozen extractor over a dataset into an on-disk cache.

    Args:
        extractor: a `keras_daam.backbones.LayerwiseFeatureExtractor`. Its
            pooling is switched to match `pooled` (sharing the backbone).
        data: numpy array, dict of arrays (the backbone's inputs), a list
            of strings / file paths (needs `preprocessor`), or an iterable
            of batches `x` or `(x, y)` (generator, `tf.data.Dataset`; a
            callable returning a fresh iterator is best, as resuming
            re-iterates it and skips what is already written).
        cache_dir: str. Folder of the cache (created).
        batch_size: int. Batch size for arrays and lists. Defaults to 32.
        pooled: bool. Cache `[N, L, d]` (True) or `[N, L, T, d]` with its
            padding mask (False). Defaults to `True`.
        dtype: numpy dtype on disk. Defaults to `"float32"` pooled and
            `"float16"` unpooled.
        labels: optional array of N labels to store alongside.
        preprocessor: optional callable (e.g. a KerasHub preprocessor)
            turning a batch of raw items into the backbone's inputs.
        num_samples: int. Required for iterables without `len()`.
        overwrite: bool. Delete and rebuild a cache made with other
            settings (or a finished one). Without it, a cache with
            different settings raises. Defaults to `False`.
        verbose: bool. Progress bar (tqdm if installed) and size report.

    Returns:
        The `FeatureCache` of the finished cache.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received {batch_size}")
    if _is_text_or_paths(data) and preprocessor is None:
        raise ValueError(
            "`data` holds strings or paths: pass `preprocessor=` (e.g. "
            "`keras_hub.models.BertTextClassifierPreprocessor.from_preset("
            "preset)`) to turn them into backbone inputs."
        )
    extractor = _matching_extractor(extractor, pooled)
    dtype = np.dtype(dtype or ("float32" if pooled else "float16")).name
    if isinstance(data, (dict, np.ndarray, list, tuple)):
        count = _length(data)
    elif num_samples is not None:
        count = int(num_samples)
    elif hasattr(data, "__len__"):
        raise ValueError(
            "`data` is an iterable of batches: pass `num_samples=` (the "
            "number of samples, not batches)."
        )
    else:
        raise ValueError(
            "`data` has no length: pass `num_samples=` (the number of "
            "samples it yields)."
        )
    if labels is not None and len(labels) != count:
        raise ValueError(
            f"`labels` has {len(labels)} entries but `data` has {count}."
        )
    settings = dict(extractor.settings())
    settings.update(
        {
            "format_version": FORMAT_VERSION,
            "pooled": bool(pooled),
            "dtype": dtype,
            "count": count,
            "backbone_fingerprint": _backbone_fingerprint(extractor),
            "data_fingerprint": _fingerprint_data(data, labels),
            "has_labels": labels is not None,
        }
    )
    os.makedirs(cache_dir, exist_ok=True)
    meta_path = os.path.join(cache_dir, METADATA)
    progress_path = os.path.join(cache_dir, PROGRESS)
    start = 0
    if os.path.exists(meta_path):
        old = _read_json(meta_path)
        diff = {
            k: (old["settings"].get(k), v)
            for k, v in settings.items()
            if old["settings"].get(k) != v
        }
        if overwrite:
            _clear(cache_dir)
        elif diff:
            details = "; ".join(
                f"{k}: cached {a!r} vs requested {b!r}"
                for k, (a, b) in diff.items()
            )
            raise ValueError(
                f"The cache at {cache_dir!r} was built with different "
                f"settings ({details}). Use another folder, or pass "
                "`overwrite=True` to rebuild it."
            )
        elif old.get("complete"):
            if verbose:
                print(f"Reusing the finished cache at {cache_dir}.")
            return FeatureCache(cache_dir)
        else:
            if os.path.exists(progress_path):
                start = int(_read_json(progress_path)["done"])
            if verbose:
                print(f"Resuming extraction at {start}/{count}.")
    metadata = {"settings": settings, "complete": False, "shapes": None}
    if os.path.exists(meta_path) and start > 0:
        metadata = _read_json(meta_path)

    features = mask = label_store = None
    if start > 0:
        features = np.load(os.path.join(cache_dir, FEATURES), mmap_mode="r+")
        if not pooled:
            mask = np.load(os.path.join(cache_dir, MASK), mmap_mode="r+")
        if labels is None and settings["has_labels"] is False:
            label_path = os.path.join(cache_dir, LABELS)
            if os.path.exists(label_path):
                label_store = np.load(label_path, mmap_mode="r+")
    if start == 0:
        _atomic_write_json(meta_path, metadata)
        _atomic_write_json(progress_path, {"done": 0})
    if labels is not None:
        np.save(os.path.join(cache_dir, LABELS), np.asarray(labels))

    bar = _Progress(count, start, verbose, "extracting features")
    done = start
    try:
        for x, y in _batches(data, batch_size, start, labels, preprocessor):
            out = extractor.predict_on_batch(x)
            if pooled:
                feats, m = np.asarray(out), None
            else:
                feats = np.asarray(out["hidden_states"])
                m = np.asarray(out["padding_mask"]).astype(bool)
            n = feats.shape[0]
            if done + n > count:
                raise ValueError(
                    f"`data` yielded more than num_samples={count} samples."
                )
            if features is None:
                features, mask, label_store = _create_arrays(
                    cache_dir, metadata, feats, m, y, count, dtype, verbose
                )
            if feats.shape[1:] != features.shape[1:]:
                raise ValueError(
                    f"Batch features have shape {feats.shape[1:]} but the "
                    f"cache holds {features.shape[1:]}: pad every batch to "
                    "the same length for an unpooled cache."
                )
            features[done : done + n] = feats.astype(dtype)
            if mask is not None:
                mask[done : done + n] = m
            if label_store is not None and y is not None:
                label_store[done : done + n] = y
            done += n
            features.flush()
            if mask is not None:
                mask.flush()
            if label_store is not None:
                label_store.flush()
            _atomic_write_json(progress_path, {"done": done})
            bar.update(n)
    finally:
        bar.close()
    if done != count:
        raise ValueError(
            f"`data` yielded {done} samples but {count} were expected."
        )
    metadata["complete"] = True
    metadata["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _atomic_write_json(meta_path, metadata)
    return FeatureCache(cache_dir)


def _create_arrays(cache_dir, metadata, feats, m, y, count, dtype, verbose):
    from numpy.lib.format import open_memmap

    shape = (count,) + feats.shape[1:]
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if verbose:
        print(
            f"Writing features {shape} {dtype} ({_human(size)}) to {cache_dir}."
        )
    features = open_memmap(
        os.path.join(cache_dir, FEATURES), mode="w+", dtype=dtype, shape=shape
    )
    mask = None
    shapes = {"features": list(shape)}
    if m is not None:
        mask_shape = (count,) + m.shape[1:]
        mask = open_memmap(
            os.path.join(cache_dir, MASK),
            mode="w+",
            dtype="bool",
            shape=mask_shape,
        )
        shapes["padding_mask"] = list(mask_shape)
    label_store = None
    label_path = os.path.join(cache_dir, LABELS)
    if y is not None and not os.path.exists(label_path):
        # Labels that come with the batches of an iterable.
        y = np.asarray(y)
        label_store = open_memmap(
            label_path, mode="w+", dtype=y.dtype, shape=(count,) + y.shape[1:]
        )
        metadata["settings"]["labels_from_batches"] = True
    metadata["shapes"] = shapes
    metadata["bytes"] = size
    _atomic_write_json(os.path.join(cache_dir, METADATA), metadata)
    return features, mask, label_store


def _clear(cache_dir):
    for name in (METADATA, PROGRESS, FEATURES, MASK, LABELS):
        path = os.path.join(cache_dir, name)
        if os.path.exists(path):
            os.remove(path)


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
        labels: array of N labels or None.
        metadata: dict, the cache's settings and shapes.

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
        meta_path = os.path.join(cache_dir, METADATA)
        if not os.path.exists(meta_path):
            raise FileNotFoundError(
                f"No feature cache at {cache_dir!r} (no {METADATA})."
            )
        self.cache_dir = cache_dir
        self.metadata = _read_json(meta_path)
        if not self.metadata.get("complete"):
            done = 0
            progress = os.path.join(cache_dir, PROGRESS)
            if os.path.exists(progress):
                done = _read_json(progress)["done"]
            raise ValueError(
                f"The cache at {cache_dir!r} is incomplete ({done}/"
                f"{self.metadata['settings']['count']} samples). Call "
                "`extract_to_cache` again with the same arguments to resume."
            )
        self.settings = self.metadata["settings"]
        self._features = np.load(
            os.path.join(cache_dir, FEATURES), mmap_mode="r"
        )
        expected = tuple(self.metadata["shapes"]["features"])
        if self._features.shape != expected:
            raise ValueError(
                f"{FEATURES} in {cache_dir!r} has shape "
                f"{self._features.shape}, metadata says {expected}: the "
                "cache is corrupted; rebuild it with `overwrite=True`."
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
    def features(self):
        if self.layers is None:
            return self._features
        return self._features[:, self.layers]

    @property
    def layer_names(self):
        return list(self.settings["layer_names"])

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
            f"dtype={self._features.dtype}, "
            f"preset={self.settings.get('preset')!r})"
        )

    def check_compatible(self, extractor):
        """Raises a ValueError if `extractor` would produce other features."""
        mine = self.settings
        theirs = extractor.settings()
        keys = ("family", "layer_indices", "include_embeddings", "mixed_widths")
        diff = {
            k: (mine.get(k), theirs.get(k))
            for k in keys
            if mine.get(k) != theirs.get(k)
        }
        fingerprint = _backbone_fingerprint(extractor)
        if mine.get("backbone_fingerprint") != fingerprint:
            diff["backbone_config"] = ("cached", "different")
        if diff:
            raise ValueError(
                f"The cache at {self.cache_dir!r} does not match this "
                f"extractor: {diff}."
            )
