"""One cache from several processes: shards, checked and assembled.

For a corpus that outgrows one device or one host, each process extracts
one contiguous slice of the data into its own sub-folder of the cache
(`extract_to_cache(..., shard=(index, count))`), with its own lock and
progress, so shards run in parallel and resume independently. Every shard
records the fingerprint of the *whole* dataset, the settings and its
rows. `merge_shards(cache_dir)` (or `extract_to_cache` without `shard`)
checks that every shard is there, complete and made with the same
settings from the same data, then writes the cache itself, exactly as one
process would have: a later single-process run with the same data and
settings reuses it.

The multi-process recipe (JAX multi-controller; one process per host):

```python
keras.distribution.initialize(coordinator_address, num_processes, process_id)
import jax

# Each process batches over its own devices only.
keras.distribution.set_distribution(
    keras.distribution.DataParallel(devices=jax.local_devices())
)
extract_to_cache(
    extractor, texts, "cache", preprocessor=pre,
    shard=(jax.process_index(), jax.process_count()),
)
if jax.process_index() == 0:
    cache = merge_shards("cache", timeout=3600)  # waits for the others
```
"""

import os
import re
import shutil
import time

import numpy as np

from keras_daam.utils import check_int

SHARD_RE = re.compile(r"shard-(\d{5})-of-(\d{5})$")


def shard_name(index, count):
    """The sub-folder of shard `index` of `count`."""
    return f"shard-{index:05d}-of-{count:05d}"


def check_shard(shard):
    """`(index, count)` checked: `0 <= index < count`."""
    try:
        index, count = shard
    except (TypeError, ValueError):
        raise ValueError(
            f"`shard` must be a pair (index, count). Received: {shard!r}"
        ) from None
    count = check_int("shard count", count, minimum=1, maximum=99999)
    index = check_int("shard index", index, minimum=0, maximum=count - 1)
    return index, count


def parse_shard(text):
    """`"0/4"` -> `(0, 4)` (the CLI's `--shard`)."""
    try:
        index, count = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise ValueError(
            f"`--shard` must look like INDEX/COUNT (e.g. 0/4). Received: "
            f"{text!r}"
        ) from None
    return check_shard((index, count))


def shard_rows(count, index, num_shards):
    """The rows of shard `index`: contiguous, sizes differing by at most 1."""
    return np.array_split(np.arange(count), num_shards)[index]


def take(items, rows):
    """Rows `rows` of a list, array or dict of arrays."""
    if isinstance(items, dict):
        return {k: np.asarray(v)[rows] for k, v in items.items()}
    if isinstance(items, (list, tuple)):
        return [items[i] for i in rows]
    return np.asarray(items)[rows]


def shard_folders(cache_dir):
    """Names of the shard sub-folders in `cache_dir`, sorted."""
    if not os.path.isdir(cache_dir):
        return []
    return sorted(
        name
        for name in os.listdir(cache_dir)
        if SHARD_RE.match(name) and os.path.isdir(os.path.join(cache_dir, name))
    )


def _status(cache_dir):
    from keras_daam.features.cache import CacheError
    from keras_daam.features.cache import read_metadata

    names = shard_folders(cache_dir)
    if not names:
        raise CacheError(f"{cache_dir} holds no shard folders to merge.")
    counts = {int(SHARD_RE.match(n).group(2)) for n in names}
    if len(counts) != 1:
        raise CacheError(
            f"{cache_dir} holds shards of different splits "
            f"({sorted(counts)} shards): remove the stale ones (or rebuild "
            "with --overwrite)."
        )
    count = counts.pop()
    metas = {}
    for name in names:
        meta = read_metadata(os.path.join(cache_dir, name))
        if meta is not None:
            metas[int(SHARD_RE.match(name).group(1))] = meta
    missing = [i for i in range(count) if i not in metas]
    incomplete = [i for i, m in sorted(metas.items()) if not m.get("complete")]
    return count, metas, missing, incomplete


def _common_settings(metas):
    """The shards' shared settings, as the whole cache's; or a CacheError."""
    from keras_daam.features.cache import CacheError

    reference = None
    total = None
    for index in sorted(metas):
        settings = dict(metas[index]["settings"])
        shard = settings.pop("shard", None)
        if shard is None or shard["index"] != index:
            raise CacheError(f"Shard {index} records no matching shard index.")
        settings.pop("count")
        if reference is None:
            reference, total = settings, shard["total"]
        elif settings != reference or shard["total"] != total:
            raise CacheError(
                f"Shard {index} was made with other settings or data than "
                "shard 0: every shard must run the same extraction."
            )
    return dict(reference, count=int(total))


def assemble(cache_dir, settings=None, verbose=True):
    """Checks the shards of `cache_dir` and writes the cache from them.

    Called with the caller's lock on `cache_dir` held. `settings`, when
    given, are the settings the caller asks for: the shards must match
    them (same data, backbone, preprocessing, ...).

    Returns:
        The assembled `FeatureCache`.
    """
    from keras_daam.features import cache as cache_module

    count, metas, missing, incomplete = _status(cache_dir)
    if missing or incomplete:
        raise cache_module.CacheError(
            f"{cache_dir} is a sharded cache and is not complete yet: "
            + (f"shards {missing} have not started; " if missing else "")
            + (
                f"shards {incomplete} are running or were interrupted; "
                if incomplete
                else ""
            )
            + "run (or resume) their extractions first."
        )
    merged = _common_settings(metas)
    if settings is not None:
        differences = cache_module._differences(merged, settings)
        if differences:
            raise cache_module.CacheMismatchError(
                f"The shards in {cache_dir} were built from other data or "
                f"with other settings: {cache_module._describe(differences)}. "
                f"{cache_module.REBUILD_HINT}",
                differences,
            )
    shards = [
        cache_module.FeatureCache(os.path.join(cache_dir, shard_name(i, count)))
        for i in range(count)
    ]
    from numpy.lib.format import open_memmap

    first = shards[0]
    shape = (merged["count"],) + tuple(first._features.shape[1:])
    features = open_memmap(
        os.path.join(cache_dir, cache_module.FEATURES),
        mode="w+",
        dtype=first._features.dtype,
        shape=shape,
    )
    mask = None
    if first.padding_mask is not None:
        mask = open_memmap(
            os.path.join(cache_dir, cache_module.MASK),
            mode="w+",
            dtype="bool",
            shape=(merged["count"],) + tuple(first.padding_mask.shape[1:]),
        )
    labels = [] if first.labels is not None else None
    for shard, index in zip(shards, range(count)):
        lo, hi = metas[index]["settings"]["shard"]["rows"]
        features[lo:hi] = shard._features
        if mask is not None:
            mask[lo:hi] = shard.padding_mask
        if labels is not None:
            labels.append(np.asarray(shard.labels))
    features.flush()
    if mask is not None:
        mask.flush()
    if labels is not None:
        np.save(
            os.path.join(cache_dir, cache_module.LABELS), np.concatenate(labels)
        )
    shapes = {"features": list(shape)}
    if mask is not None:
        shapes["padding_mask"] = list(mask.shape)
    metadata = {
        "format": cache_module.FORMAT,
        "settings": merged,
        "complete": True,
        "shapes": shapes,
        "description": dict(metas[0].get("description") or {}, shards=count),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    cache_module._atomic_write_json(
        os.path.join(cache_dir, cache_module.METADATA), metadata
    )
    del features, mask
    for i in range(count):
        shutil.rmtree(os.path.join(cache_dir, shard_name(i, count)))
    if verbose:
        print(f"Merged {count} shards into {cache_dir}.")
    return cache_module.FeatureCache(cache_dir)


def merge_shards(cache_dir, timeout=0.0, poll_seconds=2.0, verbose=True):
    """Waits for every shard of `cache_dir`, checks them and assembles the
    cache (then removes the shard folders).

    Args:
        cache_dir: str. The cache the shards were extracted into.
        timeout: float. Seconds to wait for shards still running (0: do not
            wait; an incomplete shard is an error).
        poll_seconds: float. How often to look while waiting.
        verbose: bool. Print when merged.

    Returns:
        The `FeatureCache`. A cache already assembled is returned as is.

    Raises:
        CacheError: a shard is missing or incomplete after `timeout`, or the
            shards disagree on their settings or data.
    """
    from keras_daam.features import cache as cache_module
    from keras_daam.utils.folders import folder_lock

    deadline = time.monotonic() + float(timeout)
    while True:
        meta = cache_module.read_metadata(cache_dir)
        if (
            meta is not None
            and meta.get("complete")
            and not shard_folders(cache_dir)
        ):
            return cache_module.FeatureCache(cache_dir)
        _, _, missing, incomplete = _status(cache_dir)
        if not (missing or incomplete) or time.monotonic() >= deadline:
            break
        time.sleep(poll_seconds)
    with folder_lock(cache_dir, "feature cache"):
        return assemble(cache_dir, verbose=verbose)
