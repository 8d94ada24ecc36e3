"""Extraction on several devices and processes writes the same cache."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.features import CacheError
from keras_daam.features import extract_to_cache
from keras_daam.features import make_preprocessor
from keras_daam.features import merge_shards

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
WORKER = os.path.join(os.path.dirname(__file__), "_shard_worker.py")


@pytest.fixture(scope="module")
def setup(tiny_bert_preset, tiny_texts):
    extractor = LayerwiseFeatureExtractor(tiny_bert_preset)
    pre = make_preprocessor(extractor, tiny_bert_preset, sequence_length=24)
    texts, labels = tiny_texts
    return extractor, pre, texts, labels


def _extract(setup, folder, **kwargs):
    extractor, pre, texts, labels = setup
    return extract_to_cache(
        extractor,
        texts,
        str(folder),
        labels=labels,
        preprocessor=pre,
        batch_size=8,
        verbose=False,
        **kwargs,
    )


def test_shards_assemble_into_the_single_process_cache(setup, tmp_path):
    single = _extract(setup, tmp_path / "single")
    for index in (1, 0, 2):
        shard = _extract(setup, tmp_path / "sharded", shard=(index, 3))
        assert len(shard) == 20
    merged = _extract(setup, tmp_path / "sharded")
    np.testing.assert_allclose(
        np.asarray(merged.features), np.asarray(single.features), atol=1e-6
    )
    np.testing.assert_array_equal(merged.labels, single.labels)
    assert merged.class_names == single.class_names
    assert merged.settings == single.settings
    assert not [n for n in os.listdir(tmp_path / "sharded") if "shard" in n]
    again = merge_shards(str(tmp_path / "sharded"))
    assert len(again) == 60


def test_incomplete_or_mismatched_shards_are_refused(setup, tmp_path):
    extractor, _, texts, labels = setup
    _extract(setup, tmp_path, shard=(0, 2))
    with pytest.raises(CacheError, match=r"shards \[1\] have not started"):
        merge_shards(str(tmp_path))
    with pytest.raises(CacheError, match="not complete"):
        _extract(setup, tmp_path)
    short = make_preprocessor(extractor, extractor.preset, sequence_length=16)
    extract_to_cache(
        extractor,
        texts,
        str(tmp_path),
        labels=labels,
        preprocessor=short,
        batch_size=8,
        verbose=False,
        shard=(1, 2),
    )
    with pytest.raises(CacheError, match="other settings or data"):
        merge_shards(str(tmp_path))
    with pytest.raises(ValueError, match="shard index"):
        _extract(setup, tmp_path / "x", shard=(2, 2))


@pytest.mark.large  # a subprocess on 4 virtual devices: 30-40 s
@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="keras.distribution on JAX"
)
def test_data_parallel_on_four_devices_writes_the_same_cache(
    setup, tiny_bert_preset, tmp_path
):
    single = _extract(setup, tmp_path / "one")
    texts = setup[2]
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = textwrap.dedent(
        f"""
        import json, os, sys
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
        sys.path.insert(0, {ROOT!r})
        import jax, keras
        from keras_daam.backbones import LayerwiseFeatureExtractor
        from keras_daam.features import extract_to_cache, make_preprocessor
        assert len(jax.devices()) == 4
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        ext = LayerwiseFeatureExtractor({tiny_bert_preset!r})
        pre = make_preprocessor(ext, {tiny_bert_preset!r}, sequence_length=24)
        texts = json.load(open({str(tmp_path / "texts.json")!r}))
        labels = [f"class_{{i % 3}}" for i in range(len(texts))]
        extract_to_cache(ext, texts, {str(tmp_path / "four")!r}, labels=labels,
                         preprocessor=pre, batch_size=6, verbose=False)
        """
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    from keras_daam.features import FeatureCache

    four = FeatureCache(str(tmp_path / "four"))
    np.testing.assert_allclose(
        np.asarray(four.features), np.asarray(single.features), atol=1e-5
    )
    assert (
        four.settings["data_fingerprint"]
        == (single.settings["data_fingerprint"])
    )


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.large  # two JAX processes and a coordinator: 40-60 s
@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="JAX multi-controller"
)
def test_two_processes_extract_their_shards_into_one_cache(
    setup, tiny_bert_preset, tmp_path
):
    single = _extract(setup, tmp_path / "one")
    texts = setup[2]
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    port = _free_port()
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                WORKER,
                tiny_bert_preset,
                str(tmp_path / "texts.json"),
                str(tmp_path / "multi"),
                str(port),
                str(i),
                "2",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    assert "merged 60" in outputs[0][0]
    from keras_daam.features import FeatureCache

    multi = FeatureCache(str(tmp_path / "multi"))
    np.testing.assert_allclose(
        np.asarray(multi.features), np.asarray(single.features), atol=1e-5
    )
    # Unlabelled here, so only the data part of the settings differs.
    assert multi.settings["extractor"] == single.settings["extractor"]
    assert multi.settings["count"] == 60
