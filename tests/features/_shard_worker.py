"""One process of the multi-process extraction test (JAX multi-controller).

    python _shard_worker.py PRESET TEXTS_JSON CACHE PORT PROCESS_ID COUNT

Each process joins the JAX cluster with `keras.distribution.initialize`,
batches over its own (virtual CPU) devices, extracts its shard, and
process 0 waits for the others and assembles the cache.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import keras  # noqa: E402


def main(preset, texts_json, cache, port, process_id, count):
    keras.distribution.initialize(
        job_addresses=f"localhost:{port}",
        num_processes=count,
        process_id=process_id,
    )
    import jax

    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.features import extract_to_cache
    from keras_daam.features import make_preprocessor
    from keras_daam.features import merge_shards

    assert jax.process_count() == count and jax.process_index() == process_id
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=jax.local_devices())
    )
    with open(texts_json) as f:
        texts = json.load(f)
    extractor = LayerwiseFeatureExtractor(preset)
    pre = make_preprocessor(extractor, preset, sequence_length=24)
    extract_to_cache(
        extractor,
        texts,
        cache,
        preprocessor=pre,
        batch_size=4,
        verbose=False,
        shard=(jax.process_index(), jax.process_count()),
    )
    if jax.process_index() == 0:
        merged = merge_shards(cache, timeout=240, verbose=False)
        print(f"merged {len(merged)}", flush=True)


if __name__ == "__main__":
    preset, texts_json, cache, port, pid, count = sys.argv[1:]
    main(preset, texts_json, cache, int(port), int(pid), int(count))
