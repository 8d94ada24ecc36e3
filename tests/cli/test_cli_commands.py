"""Every subcommand end to end on a tiny random preset and tiny data."""

import json
import os

import numpy as np
import pytest

from keras_daam import cli


def _extract(preset, data, out, capsys):
    rc = cli.main(
        [
            "extract",
            "--preset",
            preset,
            "--data",
            data,
            "--output",
            out,
            "--batch-size",
            "16",
            "--sequence-length",
            "8",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    return capsys.readouterr()


def test_extract_train_explain(tiny_bert_preset, tiny_csv, tmp_path, capsys):
    cache = str(tmp_path / "cache")
    out = _extract(tiny_bert_preset, tiny_csv, cache, capsys).out
    assert "(60, 2, 8)" in out and "3 classes" in out
    labels = json.load(open(os.path.join(cache, "labels.json")))
    assert labels["class_names"] == ["class_0", "class_1", "class_2"]
    # A second run reuses the cache.
    out = _extract(tiny_bert_preset, tiny_csv, cache, capsys).out
    assert "Reusing the finished cache" in out

    run = str(tmp_path / "run")
    rc = cli.main(
        [
            "train",
            "--cache",
            cache,
            "--output",
            run,
            "--heads",
            "daam_1head,none",
            "--epochs",
            "3",
            "--patience",
            "2",
            "--learning-rates",
            "1e-2",
            "--seeds",
            "2",
            "--val-fraction",
            "0.2",
            "--test-fraction",
            "0.2",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "DAAM 1 head" in captured.out and "daam_1head minus" in captured.out
    report = json.load(open(os.path.join(run, "report.json")))
    assert set(report["results"]) == {"daam_1head", "none"}
    assert report["sizes"] == {"t": 36, "v": 12, "s": 12}
    runs = report["results"]["daam_1head"]
    assert len(runs) == 2 and all(r["learning_rate"] == 1e-2 for r in runs)
    assert os.path.isfile(os.path.join(run, "daam_1head.keras"))
    assert os.path.isfile(os.path.join(run, "report.md"))

    expl = str(tmp_path / "explain")
    rc = cli.main(
        [
            "explain",
            "--cache",
            cache,
            "--model",
            os.path.join(run, "daam_1head.keras"),
            "--output",
            expl,
            "--k",
            "1",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    info = json.load(open(os.path.join(expl, "explanation.json")))
    assert np.sum(info["layer_contribution_percent"]) == pytest.approx(100)
    assert len(info["top_k_layers"]) == 1
    for fig in info["figures"]:
        assert os.path.getsize(fig) > 1000

    # A head without an attention module cannot be explained.
    rc = cli.main(
        [
            "explain",
            "--cache",
            cache,
            "--model",
            os.path.join(run, "none.keras"),
            "--output",
            expl,
        ]
    )
    assert rc == 2
    assert "keras-daam: error" in capsys.readouterr().err


def test_extract_errors(tiny_bert_preset, tmp_path, capsys):
    single = tmp_path / "single.csv"
    single.write_text("a red cat,x\nblue dog,x\n")
    args = ["--output", str(tmp_path / "c")]
    rc = cli.main(
        ["extract", "--preset", tiny_bert_preset, "--data", str(single)] + args
    )
    assert rc == 2 and "single class" in capsys.readouterr().err
    ok = tmp_path / "ok.csv"
    ok.write_text("a red cat,x\nblue dog,y\n")
    rc = cli.main(
        ["extract", "--preset", "not_a_preset", "--data", str(ok)] + args
    )
    assert rc == 2 and "not_a_preset" in capsys.readouterr().err
    rc = cli.main(
        ["extract", "--preset", str(tmp_path / "nope"), "--data", str(ok)]
        + args
    )
    assert rc == 2 and "Preset folder not found" in capsys.readouterr().err


def test_unknown_head_is_an_error(tiny_bert_preset, tiny_csv, tmp_path, capsys):
    cache = str(tmp_path / "cache")
    _extract(tiny_bert_preset, tiny_csv, cache, capsys)
    rc = cli.main(
        ["train", "--cache", cache, "--output", str(tmp_path / "r")]
        + ["--heads", "daam,bogus", "--epochs", "1"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Unknown head 'bogus'" in err
