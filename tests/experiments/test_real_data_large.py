"""The experiments on the real packaged backbones and data (slow)."""

import json
import os

import keras
import pytest

from keras_daam.experiments import demo
from tests.experiments.tiny import needs_wordnet

# Once, not per backend: the layers, extraction and training are tested on
# every backend elsewhere; these check the experiments end to end on real
# weights and data. On PyTorch, whose eager heads compile nothing (under
# JAX these three took 108 s of the matrix's longest process).
torch_only = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="the real-data runs run once, on the torch backend",
)


@pytest.mark.large
@pytest.mark.requires_package
@needs_wordnet
@torch_only
def test_demo_quick_real_data(tmp_path):
    out = str(tmp_path / "demo")
    heads = ["linear_last_layer", "none_flatten", "daam_h2_flatten"]
    report = demo.run_demo(out, quick=True, heads=heads)
    assert "| daam_h2_flatten minus |" in report["text"]
    saved = json.load(open(os.path.join(out, "report.json")))
    assert list(saved["results"]) == heads
    assert saved["sizes"] == demo.QUICK_SIZES
    assert saved["max_epochs"] == demo.QUICK_MAX_EPOCHS
    daam = saved["results"]["daam_h2_flatten"][0]
    # 26 classes: chance is below 10%; frozen MiniLM features are far above.
    assert daam["test_accuracy"] > 0.4
    assert daam["trainable_params"] == 2 * 2 * 384 + 6 * 384 * 26 + 26
    expl = saved["explanation"]
    assert len(expl["layer_contribution_percent"]) == 6
    assert sum(expl["layer_contribution_percent"]) == pytest.approx(100)
    for name in ("importance_factor.png", "layer_contribution.png"):
        assert os.path.getsize(os.path.join(out, name)) > 1000
    # The pooled last layer feeds the probe: MiniLM beats chance there too.
    assert saved["results"]["linear_last_layer"][0]["test_accuracy"] > 0.3


@pytest.mark.large
@pytest.mark.requires_package
@torch_only
def test_vision_on_efficientnet(tmp_path):
    from keras_daam.experiments import run_vision

    reports = run_vision(
        str(tmp_path),
        num_train=60,
        num_val=30,
        num_test=30,
        seeds=1,
        max_epochs=2,
        image_size=32,
        layer_sets="uniform,pad",
        heads=["linear_last_layer", "daam_h1_flatten"],
        cache_dir=str(tmp_path / "cache"),
    )
    assert set(reports) == {"uniform", "pad"}
    assert reports["uniform"]["features"] == [4, 192]
    assert reports["pad"]["features"] == [17, 1280]
    assert reports["uniform"]["headline"] == "daam_h1_flatten"
    assert "if_ablation" in reports["uniform"]
    assert os.path.exists(tmp_path / "vision_pad.md")


@pytest.mark.large
@pytest.mark.requires_package
@torch_only
def test_audio_on_whisper(tmp_path):
    from keras_daam.experiments import run_audio

    report = run_audio(
        str(tmp_path),
        test_voices=4,
        val_voices=4,
        seeds=1,
        max_epochs=2,
        heads=["linear_last_layer", "daam_h2_flatten", "daam_h1_flatten"],
        ablation=False,
        cache_dir=str(tmp_path / "cache"),
    )
    assert report["features"] == [4, 384]
    assert report["synthetic"] is True and report["standardized"] is True
    assert sum(report["voices_train_val_test"]) == 22
    # 2 heads over 4 layers degenerate: the 1-head DAAM is compared too.
    assert "daam_h1_flatten_vs_linear_last_layer" in report["comparisons"]
