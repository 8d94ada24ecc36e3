"""Smoke test of `benchmarks/run.py --quick` on the current backend.

Checks that the suite runs and writes complete results, and that the
pipeline case's features agree with the Hugging Face anchor. It asserts no
timing target: timings on shared CI machines are noise.
"""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "run.py")
CASES = (
    "vs_package",
    "vs_multiply",
    "densities",
    "vs_mha",
    "end_to_end",
    "pipeline",
)
SKIP_NO_TRANSFORMERS = (
    "pipeline: skipped, transformers not installed: "
    "pip install keras-daam[bench]"
)


def _timings(entry):
    """Every timing dict (`median_s`) inside a result entry."""
    return [
        v for v in entry.values() if isinstance(v, dict) and "median_s" in v
    ]


@pytest.mark.large  # every case in a worker subprocess: 55-75 s
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
        if entry["case"] == "pipeline" and "skipped" in entry:
            continue
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
    _check_pipeline(by_case["pipeline"], tmp_path)


def _check_pipeline(entries, out):
    (entry,) = entries
    if importlib.util.find_spec("transformers") is None:
        # Skipped with the install hint, in the output and in results.md.
        assert "skipped" in entry
        assert SKIP_NO_TRANSFORMERS in (out / "results.md").read_text()
        return
    assert "skipped" not in entry, entry["skipped"]
    for key in (
        "ours_cold",
        "ours_warm",
        "anchor_sorted_cold",
        "anchor_sorted_warm",
        "anchor_unsorted_warm",
    ):
        assert entry[key]["median_s"] > 0, key
    assert entry["ours_texts_per_s"] > 0
    assert entry["ratio_ours_over_anchor"] > 0
    # Same texts, same weights: KerasHub's tanh-GELU BERT vs transformers.
    assert entry["cosine_min"] > 0.999
    assert len(entry["cosine_min_per_layer"]) == 6
    assert min(entry["cosine_min_per_layer"]) > 0.999
    # The anchor's sort restores the input order.
    assert entry["anchor_sorted_vs_unsorted_cosine_min"] > 0.9999


SKIP_CHECK = """
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
import report
from cases import pipeline as case

real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: (
    None if name == "transformers" else real(name, *a)
)

class Adapter:
    use_compile = False

rows = []
case.run(Adapter(), True, lambda c, **f: rows.append(dict(f, case=c)))
for row in rows:
    row.update(backend="jax", mode="jit", gpu=False)
merged = {"date": "d", "command": "c", "threads": 1, "machine": {},
          "workers": [], "results": rows}
print(json.dumps({"rows": rows, "md": report.markdown(merged)}))
"""


# The skip path runs no backend computation: once, under any backend.
@pytest.mark.backend_independent
def test_pipeline_is_skipped_without_transformers():
    proc = subprocess.run(
        [sys.executable, "-c", SKIP_CHECK, os.path.dirname(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [r["case"] for r in out["rows"]] == ["pipeline"]
    assert SKIP_NO_TRANSFORMERS in proc.stdout
    assert SKIP_NO_TRANSFORMERS in out["md"]
