"""Tables, comparisons, JSON-able results and written reports."""

import json

import numpy as np
import pytest

from keras_daam import evaluation
from keras_daam.heads import get_head_spec


def _run(acc, seed_preds, lr=1e-3, epochs=3):
    return {
        "test_accuracy": acc,
        "val_accuracy": acc - 0.01,
        "train_time_s": 1.5,
        "trainable_params": 1234,
        "learning_rate": lr,
        "epochs": epochs,
        "test_predictions": seed_preds,
        "history": {"loss": [1.0, 0.5]},
        "model": object(),
    }


@pytest.fixture
def results():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    good = [np.where(rng.random(400) < 0.9, y, (y + 1) % 3) for _ in "ab"]
    bad = [np.where(rng.random(400) < 0.5, y, (y + 1) % 3) for _ in "ab"]

    def runs(preds, lrs):
        return [
            _run(float(np.mean(p == y)), p, lr, 3 + i)
            for i, (p, lr) in enumerate(zip(preds, lrs))
        ]

    return y, {
        "daam_h2_flatten": runs(good, (1e-3, 1e-4)),
        "none_flatten": runs(bad, (1e-3, 1e-3)),
        "lora_r4": runs(good, (1e-3, 1e-3)),
    }


def test_results_table_rows_name_the_registered_heads(results):
    _, res = results
    table = evaluation.results_table(
        res, headline="daam_h2_flatten", labels={"lora_r4": "LoRA rank 4"}
    )
    lines = table.splitlines()
    assert lines[0].startswith("| head | test acc. %")
    assert len(lines) == 2 + len(res)
    label = get_head_spec("daam_h2_flatten").label
    assert lines[2].startswith(f"| **{label} (`daam_h2_flatten`)** | ")
    assert lines[3].startswith(
        f"| {get_head_spec('none_flatten').label} (`none_flatten`) | "
    )
    assert lines[4].startswith("| LoRA rank 4 | ")
    s = evaluation.summarize(res["daam_h2_flatten"])
    cells = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert cells[1] == evaluation.format_mean_std(
        s["test_accuracy_mean"], s["test_accuracy_std"], 2
    )
    assert cells[3] == "1,234"
    assert cells[5] == "0.0001, 0.001"  # both rates selected, sorted
    assert cells[6] == "3, 4"
    # An unregistered name without a label is shown as it is.
    assert "| lora_r4 |" in evaluation.results_table(
        {"lora_r4": res["lora_r4"]}
    )


def test_comparisons_and_table(results):
    y, res = results
    comps = evaluation.comparisons(
        res, y, "daam_h2_flatten", ["none_flatten", "daam_h2_flatten", "x"]
    )
    assert list(comps) == ["none_flatten"]  # itself and unknowns skipped
    assert comps["none_flatten"]["verdict"] == "A better"
    assert evaluation.comparisons(res, y, "missing", ["none_flatten"]) == {}
    comps["lora_r4_vs_none_flatten"] = evaluation.compare(
        y, res["lora_r4"], res["none_flatten"]
    )
    table = evaluation.comparisons_table(comps, "daam_h2_flatten")
    lines = table.splitlines()
    assert lines[0].startswith("| daam_h2_flatten minus |")
    assert lines[2].startswith("| none_flatten | +")
    assert lines[2].endswith("| daam_h2_flatten better |")
    assert lines[3].endswith("| first better |")
    c = comps["none_flatten"]
    assert f"{100 * c['mean']:+.1f} +- {100 * c['std']:.1f}" in lines[2]


def test_jsonable_drops_models_predictions_histories(results):
    _, res = results
    out = evaluation.jsonable(res)
    assert set(out) == set(res)
    run = out["none_flatten"][0]
    assert set(run) == {
        "test_accuracy",
        "val_accuracy",
        "train_time_s",
        "trainable_params",
        "learning_rate",
        "epochs",
    }
    json.dumps(out)  # serialisable
    nested = evaluation.jsonable(
        {"h": [{"grid": [{"v": np.float32(0.5)}], "a": np.arange(2)}]}
    )
    assert nested == {"h": [{"grid": [{"v": 0.5}], "a": [0, 1]}]}
    assert type(nested["h"][0]["grid"][0]["v"]) is float


def test_write_report(tmp_path, results):
    _, res = results
    table = evaluation.results_table(res)
    report = {"results": evaluation.jsonable(res), "x": np.int64(3)}
    text = evaluation.write_report(
        str(tmp_path / "out"), report, "My title", [table, "", "closing"]
    )
    md = (tmp_path / "out" / "report.md").read_text()
    assert md == text
    assert md.startswith("# My title\n\n" + table + "\n\nclosing")
    loaded = json.loads((tmp_path / "out" / "report.json").read_text())
    assert loaded["x"] == 3 and set(loaded["results"]) == set(res)
    evaluation.write_report(str(tmp_path), {}, "t", [], name="text")
    assert (tmp_path / "text.json").exists()
    assert (tmp_path / "text.md").read_text() == "# t\n"
