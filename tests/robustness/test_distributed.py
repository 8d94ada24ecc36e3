"""Data-parallel (and, on JAX, model-parallel) training over 4 CPU devices.

Each test runs `_distributed_worker.py` in a fresh process, because the
device count is fixed when the backend starts. The loss curve over 12 SGD
steps must match the single-device run of the same model, same initial
weights and same batches: the gradients are the same means, only summed
across devices.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

WORKER = Path(__file__).with_name("_distributed_worker.py")
ROOT = WORKER.parents[2]


def run_worker(mode):
    env = dict(os.environ, KERAS_BACKEND=mode, TF_CPP_MIN_LOG_LEVEL="2")
    if mode == "jax":
        env["XLA_FLAGS"] = (
            env.get("XLA_FLAGS", "")
            + " --xla_force_host_platform_device_count=4"
        ).strip()
    proc = subprocess.run(
        [sys.executable, str(WORKER), mode],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [
        line for line in proc.stdout.splitlines() if line.startswith("RESULT ")
    ]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT ") :])


def assert_same_curve(single, parallel):
    single, parallel = np.array(single), np.array(parallel)
    assert len(single) == len(parallel) == 12
    assert np.isfinite(parallel).all()
    assert single[-1] < single[0]  # it trains, so the curve is informative
    np.testing.assert_allclose(parallel, single, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="needs the jax backend"
)
def test_jax_data_and_model_parallel_match_one_device():
    result = run_worker("jax")
    assert result["num_devices"] == 4
    assert_same_curve(result["single"], result["parallel"])
    assert_same_curve(result["single_backbone"], result["model_parallel"])
    # The backbone kernel [16, 32] really is split over "model" (2 ways).
    assert result["kernel_shard_shapes"] == [[16, 16]]
    assert result["daam_devices"] == 4  # replicated head


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="needs the tensorflow backend",
)
def test_tf_mirrored_strategy_matches_one_device():
    result = run_worker("tensorflow")
    assert result["num_devices"] == 4
    assert_same_curve(result["single"], result["parallel"])
