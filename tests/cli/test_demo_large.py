"""The real-data demo path: frozen MiniLM on WordNet, `demo --quick`."""

import json
import os

import keras
import pytest

from keras_daam import cli


@pytest.mark.large
@pytest.mark.requires_package
@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the real-data demo runs once, on the jax backend",
)
def test_demo_quick_real_data(tmp_path, capsys):
    out = str(tmp_path / "demo")
    heads = "last_layer,none,daam"
    args = ["demo", "--quick", "--output", out, "--heads", heads]
    assert cli.main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "DAAM 2 heads" in printed and "| daam minus |" in printed
    report = json.load(open(os.path.join(out, "report.json")))
    assert set(report["results"]) == set(heads.split(","))
    assert report["sizes"] == cli.QUICK_SIZES
    daam = report["results"]["daam"][0]
    # 26 classes: chance is below 10%; frozen MiniLM features are far above.
    assert daam["test_accuracy"] > 0.4
    assert daam["trainable_params"] == 2 * 2 * 384 + 6 * 384 * 26 + 26
    expl = report["explanation"]
    assert len(expl["layer_contribution_percent"]) == 6
    assert sum(expl["layer_contribution_percent"]) == pytest.approx(100)
    for name in ("importance_factor.png", "layer_contribution.png"):
        assert os.path.getsize(os.path.join(out, name)) > 1000
    # A second run reuses the feature cache (no MiniLM load).
    assert cli.main(args + ["--epochs", "1"]) == 0
    err = capsys.readouterr().err
    assert "reusing cached train features" in err
    assert "loading MiniLM" not in err
