"""Running a frozen extractor over a dataset, batch by batch.

`plan_batches` turns a dataset (texts, file paths, arrays, a dict of
arrays, a `keras_daam.data.Dataset`, or an iterable of batches) into
batches of backbone inputs, each tagged with the rows it fills. For texts
with a `TextPreprocessor` it does what sentence-transformers does: the
texts are tokenised, sorted by token length, and each batch is cut to the
smallest of a few bucket lengths that keeps all its real tokens, so the
backbone compiles a handful of shapes and runs far fewer padding tokens
(on PyTorch, which compiles nothing, to the batch's own longest text).
Padding is excluded from the mean, so the features equal fixed-length
padding to float rounding. `run_batches` feeds the batches through the
extractor (the last, short batch of a run is padded to the batch size so
no new shape is compiled) and hands each result to a sink: the on-disk
cache (`extract_to_cache`) or an in-memory array (`extract_features`).
"""

import hashlib
import os

import numpy as np

from keras_daam.utils import batch_ranges
from keras_daam.utils import check_positive_int
from keras_daam.utils import to_numpy

# Token lengths a text batch is padded to: few distinct shapes (one compile
# each), at most 1.5x the longest text of the batch.
BUCKET_LENGTHS = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
# Texts are tokenised and sorted this many at a time (memory stays bounded
# for large corpora; within a chunk the sort gives nearly all the gain).
CHUNK_SIZE = 16384
DEFAULT_BATCH_SIZES = {"text": 32, "image": 32, "audio": 16}


def default_batch_size(extractor):
    """The batch size extraction uses when none is given (by modality)."""
    return DEFAULT_BATCH_SIZES.get(getattr(extractor, "modality", None), 32)


def compiles_shapes():
    """Whether the backend compiles one program per input shape.

    JAX and TensorFlow do (XLA / `tf.function`), so batches are padded to a
    few bucket lengths and short batches to a full one. PyTorch runs Keras
    models eagerly: any shape costs the same to start, so each batch is
    padded only to its own longest text and never to more rows.
    """
    import keras

    return keras.backend.backend() != "torch"


def bucket_length(length, maximum):
    """The smallest bucket length >= `length` (at most `maximum`)."""
    for bucket in BUCKET_LENGTHS:
        if bucket >= length:
            return min(bucket, maximum)
    return maximum


def is_text_or_paths(data):
    """Whether `data` is a sequence of strings or file paths."""
    if isinstance(data, np.ndarray):
        return data.dtype.kind in ("U", "S", "O") and data.ndim == 1
    if isinstance(data, (list, tuple)) and len(data) > 0:
        return isinstance(data[0], (str, bytes, os.PathLike))
    return False


def is_indexable(data):
    return isinstance(data, (dict, np.ndarray, list, tuple))


def data_length(data):
    """Number of samples of an indexable dataset."""
    if isinstance(data, dict):
        lengths = {len(v) for v in data.values()}
        if len(lengths) != 1:
            raise ValueError(
                "All arrays of a dict input need the same length. Received "
                f"lengths {sorted(lengths)}."
            )
        return lengths.pop()
    return len(data)


def _take(data, index):
    if isinstance(data, dict):
        return {k: np.asarray(v)[index] for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [data[i] for i in index]
    return np.asarray(data[index])


class Batch:
    """Backbone inputs for the dataset rows `rows`, in the same order."""

    def __init__(self, rows, inputs, length=None):
        self.rows = np.asarray(rows, "int64")
        self.inputs = inputs
        self.length = length


def _text_buckets(texts, preprocessor, batch_size, start_batch):
    """Sorted, length-bucketed batches of tokenised texts."""
    mask_key = "padding_mask"
    position = 0
    for lo, hi in batch_ranges(len(texts), CHUNK_SIZE):
        tokens = preprocessor.tokenize(list(texts[lo:hi]))
        if mask_key not in tokens:
            raise ValueError(
                "The text preprocessor returned no `padding_mask`; length "
                "buckets need it."
            )
        mask = np.asarray(tokens[mask_key], bool)
        lengths = mask.sum(axis=1)
        # Right padding: every real token before every pad. Otherwise cut
        # nothing (one bucket at the full length).
        positions = np.arange(mask.shape[1])
        right_padded = np.all(mask == (positions < lengths[:, None]))
        full = mask.shape[1]
        bucketed = compiles_shapes()
        order = np.argsort(lengths, kind="stable")
        # The one short batch holds the shortest texts, where padding it to
        # a full batch (one compiled shape) costs least.
        short = len(order) % batch_size
        edges = [0] + list(
            range(short or batch_size, len(order) + 1, batch_size)
        )
        for b_lo, b_hi in zip(edges[:-1], edges[1:]):
            if position >= start_batch:
                index = order[b_lo:b_hi]
                longest = int(lengths[index].max())
                if not right_padded:
                    cut = full
                elif bucketed:
                    cut = bucket_length(longest, full)
                else:
                    cut = max(longest, 1)
                inputs = {
                    k: np.asarray(v)[index, :cut] if np.ndim(v) == 2 else v
                    for k, v in tokens.items()
                }
                yield Batch(lo + index, inputs, cut)
            position += 1


def processing_order_key(data, preprocessor, batch_size):
    """A string naming the order batches come in (recorded for resuming)."""
    if _buckets_apply(data, preprocessor):
        return f"length_buckets:{batch_size}:{CHUNK_SIZE}"
    return f"sequential:{batch_size}"


def _buckets_apply(data, preprocessor):
    return (
        preprocessor is not None
        and getattr(preprocessor, "supports_length_buckets", False)
        and is_text_or_paths(data)
    )


def plan_batches(data, batch_size, preprocessor=None, start_batch=0):
    """Yields `Batch`es of backbone inputs, skipping `start_batch` batches.

    Args:
        data: a list/array of texts or file paths (needs `preprocessor`),
            a NumPy array or dict of arrays (backbone inputs, or raw images
            / waveforms for the preprocessor), a `keras_daam.data.Dataset`,
            or an iterable of batches `x` / `(x, y)` (rows in order).
        batch_size: int.
        preprocessor: optional callable (`keras_daam.features.
            make_preprocessor`) from raw items to backbone inputs.
        start_batch: int. Batches already done (resuming).
    """
    items = getattr(data, "items", data) if hasattr(data, "modality") else data
    if _buckets_apply(items, preprocessor):
        yield from _text_buckets(items, preprocessor, batch_size, start_batch)
        return
    if is_indexable(items):
        n = data_length(items)
        for k, (lo, hi) in enumerate(batch_ranges(n, batch_size)):
            if k < start_batch:
                continue
            x = _take(items, np.arange(lo, hi))
            if preprocessor is not None:
                x = preprocessor(x)
                if isinstance(x, tuple):
                    x = x[0]
            yield Batch(np.arange(lo, hi), to_numpy(x))
        return
    # An iterable of batches (generator function, tf.data.Dataset, ...).
    iterator = data() if callable(data) else iter(data)
    seen = 0
    for k, item in enumerate(iterator):
        x = item[0] if isinstance(item, tuple) else item
        x = to_numpy(x)
        if preprocessor is not None:
            x = to_numpy(preprocessor(x))
            if isinstance(x, tuple):
                x = x[0]
        size = data_length(x) if isinstance(x, dict) else len(x)
        if k >= start_batch:
            yield Batch(np.arange(seen, seen + size), x)
        seen += size


def batch_labels_of(data):
    """Labels carried by an iterable of `(x, y)` batches, concatenated."""
    iterator = data() if callable(data) else iter(data)
    labels = []
    for item in iterator:
        if not (isinstance(item, tuple) and len(item) >= 2):
            return None
        labels.append(np.asarray(to_numpy(item[1])))
    return np.concatenate(labels) if labels else None


def _pad_rows(inputs, size):
    """Pads a batch to `size` rows by repeating its first row."""

    def pad(v):
        v = np.asarray(v)
        if v.ndim == 0 or v.shape[0] >= size:
            return v
        extra = np.repeat(v[:1], size - v.shape[0], axis=0)
        return np.concatenate([v, extra])

    if isinstance(inputs, dict):
        return {k: pad(v) for k, v in inputs.items()}
    return pad(inputs)


def _rows(inputs):
    if isinstance(inputs, dict):
        return len(next(iter(inputs.values())))
    return len(inputs)


def device_count():
    """Devices the active `keras.distribution` splits a batch over (1)."""
    import keras

    distribution = keras.distribution.distribution()
    if distribution is None:
        return 1
    mesh = getattr(distribution, "device_mesh", None)
    return int(np.prod(mesh.shape)) if mesh is not None else 1


def run_batches(extractor, batches, sink, batch_size, pad_batches=True):
    """Runs every batch through `extractor` and calls `sink(batch, out)`.

    `out` is the pooled `[n, L, d]` array or the unpooled dict, with `n`
    the batch's real rows. Short batches are padded to `batch_size` rows
    (and to a multiple of the devices of an active `keras.distribution`)
    so that no new input shape is compiled; the padding rows are dropped.
    On PyTorch (no compiles, `compiles_shapes()`) only the devices pad.
    """
    devices = device_count()
    compiles = compiles_shapes()
    for batch in batches:
        n = _rows(batch.inputs)
        x = batch.inputs
        target = batch_size if pad_batches and compiles else n
        target = max(target, n)
        target = -(-target // devices) * devices
        if target != n:
            x = _pad_rows(x, target)
        out = extractor.predict_on_batch(x)
        if isinstance(out, dict):
            out = {k: np.asarray(v)[:n] for k, v in out.items()}
        else:
            out = np.asarray(out)[:n]
        sink(batch, out)


def extract_features(
    extractor, data, preprocessor=None, batch_size=None, pooled=True
):
    """Features of a dataset, in memory (no cache).

    The same batching as `extract_to_cache` (length buckets for texts).

    Args:
        extractor: a `keras_daam.backbones.LayerwiseFeatureExtractor`.
        data: see `plan_batches` (not an iterable of batches).
        preprocessor: optional, from `make_preprocessor`.
        batch_size: int. Defaults to `default_batch_size(extractor)`.
        pooled: bool. `[N, L, d]` (True) or a dict with `hidden_states`
            `[N, L, T, d]` and `padding_mask` `[N, T]` (False). Defaults to
            `True`.

    Returns:
        The features, rows in the order of `data`.

    Example:

    ```python
    pre = keras_daam.features.make_preprocessor(extractor, preset)
    x = keras_daam.features.extract_features(extractor, texts, pre)
    ```
    """
    from keras_daam.features.cache import matching_extractor

    items = getattr(data, "items", data) if hasattr(data, "modality") else data
    if not is_indexable(items):
        raise ValueError(
            "`extract_features` needs a list, array or dict of arrays; for "
            "an iterable of batches use `extract_to_cache`."
        )
    n = data_length(items)
    if n == 0:
        raise ValueError("`data` is empty: there is nothing to extract.")
    if is_text_or_paths(items) and preprocessor is None:
        raise ValueError(
            "`data` holds strings or paths: pass `preprocessor=` "
            "(`keras_daam.features.make_preprocessor(extractor, preset)`)."
        )
    extractor = matching_extractor(extractor, pooled)
    batch_size = check_positive_int(
        "batch_size", batch_size or default_batch_size(extractor)
    )
    store = {}

    def sink(batch, out):
        if pooled:
            if "x" not in store:
                store["x"] = np.zeros((n,) + out.shape[1:], "float32")
            store["x"][batch.rows] = out
            return
        hidden = out["hidden_states"]
        mask = out["padding_mask"].astype(bool)
        if "x" not in store:
            full = getattr(preprocessor, "sequence_length", hidden.shape[2])
            shape = (n, hidden.shape[1], full, hidden.shape[3])
            store["x"] = np.zeros(shape, "float32")
            store["mask"] = np.zeros((n, full), bool)
        t = hidden.shape[2]
        store["x"][batch.rows, :, :t] = hidden
        store["mask"][batch.rows, :t] = mask

    run_batches(
        extractor,
        plan_batches(items, batch_size, preprocessor),
        sink,
        batch_size,
        pad_batches=n > batch_size,
    )
    if pooled:
        return store["x"]
    return {"hidden_states": store["x"], "padding_mask": store["mask"]}


def fingerprint_data(data, labels=None, class_names=None):
    """Hex SHA-256 of every item and label of a dataset.

    Texts: every text. File paths: the path, size and content hash of each
    file. Arrays: dtype, shape and bytes. A `keras_daam.data.Dataset`:
    its own `fingerprint()`. Iterables of batches: every batch's arrays
    (the data is iterated once, without the backbone).
    """
    digest = hashlib.sha256()

    def add_array(a):
        a = np.ascontiguousarray(np.asarray(a))
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        if a.dtype.kind == "O":
            for v in a.ravel():
                add_text(v)
        else:
            digest.update(a.tobytes())

    def add_text(s):
        b = s if isinstance(s, bytes) else str(s).encode("utf-8", "replace")
        digest.update(len(b).to_bytes(8, "little"))
        digest.update(b)

    def add_file(path):
        path = os.fspath(path)
        add_text(os.path.abspath(path))
        if os.path.isfile(path):
            digest.update(os.path.getsize(path).to_bytes(8, "little"))
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            digest.update(h.digest())

    if hasattr(data, "fingerprint") and hasattr(data, "modality"):
        add_text(data.fingerprint())
    elif is_text_or_paths(data):
        paths = _all_files(data)
        digest.update(b"files" if paths else b"texts")
        for s in data:
            add_file(s) if paths else add_text(s)
    elif isinstance(data, dict):
        for k in sorted(data):
            add_text(k)
            add_array(data[k])
    elif is_indexable(data):
        add_array(data)
    else:
        iterator = data() if callable(data) else iter(data)
        digest.update(b"batches")
        for item in iterator:
            x = item[0] if isinstance(item, tuple) else item
            x = to_numpy(x)
            if isinstance(x, dict):
                for k in sorted(x):
                    add_text(k)
                    add_array(x[k])
            else:
                add_array(x)
    if labels is not None:
        digest.update(b"labels")
        add_array(np.asarray(labels))
    if class_names is not None:
        digest.update(b"classes")
        for name in class_names:
            add_text(name)
    return digest.hexdigest()


def _all_files(items):
    return len(items) > 0 and all(
        isinstance(s, os.PathLike) or (isinstance(s, str) and os.path.isfile(s))
        for s in items
    )
