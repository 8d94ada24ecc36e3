"""Smoke test of `benchmarks/run.py --quick` on the current backend.

Checks that the suite runs and writes complete results. It asserts no
timing target: timings on shared CI machines are noise.
"""

import json
import os
import subprocess
import sys

import keras

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "run.py")
CASES = ("vs_package", "vs_multiply", "densities", "vs_mha", "end_to_end")


def _timings(entry):
    """Every timing dict (`median_s`) inside a result entry."""
    return [
        v for v in entry.values() if isinstance(v, dict) and "median_s" in v
    ]


def test_quick_benchmark_writes_every_case(tmp_path):
    backend = keras.backend.backend()
    proc = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--quick",
            "--backends",
            backend,
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    with open(tmp_path / "results.json") as f:
        data = json.load(f)
    assert (tmp_path / "results.md").read_text().count("|") > 50
    results = data["results"]
    assert {r["backend"] for r in results} == {backend}
    assert {r["case"] for r in results} == set(CASES)
    for entry in results:
        timings = _timings(entry)
        assert timings, entry["case"]
        for t in timings:
            assert t["median_s"] > 0 and t["repeats"] >= 1
    by_case = {}
    for entry in results:
        by_case.setdefault(entry["case"], []).append(entry)
    # Ours and the authors' package compute the same thing.
    for entry in by_case["vs_package"]:
        assert entry["max_abs_diff"] <= 1e-4 * max(entry["max_abs_output"], 1)
        assert entry["ratio_forward_backward"] > 0
    assert len(by_case["vs_mha"]) >= 2
    for entry in by_case["vs_mha"]:
        assert entry["daam_memory"]["method"]
    e2e = by_case["end_to_end"][0]
    assert e2e["speedup_cached_epoch"] > 0
