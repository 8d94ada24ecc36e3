"""`run_lora` on a tiny random BERT: ranks against the frozen control."""

import os

import pytest

from keras_daam.experiments import lora
from tests.experiments.tiny import needs_wordnet


def test_labels_and_checks(tmp_path):
    labels = lora.lora_labels([0, 4])
    assert set(labels) == {"lora_r0", "lora_r4"}
    assert "control" in labels["lora_r0"] and "rank 4" in labels["lora_r4"]
    with pytest.raises(ValueError, match="ranks=-1"):
        lora.run_lora(str(tmp_path), ranks=(-1,))
    with pytest.raises(ValueError, match="patience=-1"):
        lora.run_lora(str(tmp_path), patience=-1)
    with pytest.raises(ValueError, match="learning_rates"):
        lora.run_lora(str(tmp_path), learning_rates=())


@pytest.mark.large
@needs_wordnet
def test_run_lora_on_tiny_bert(tiny_minilm, tmp_path):
    report = lora.run_lora(
        str(tmp_path),
        num_train=32,
        num_val=16,
        num_test=16,
        seeds=1,
        max_epochs=1,
        batch_size=16,
        ranks="0,2",
    )
    summary = report["summary"]
    assert set(summary) == {"lora_r0", "lora_r2"}
    # The control trains the classifier only; LoRA adds backbone factors.
    assert summary["lora_r0"]["trainable_params"] == 8 * 26 + 26
    assert (
        summary["lora_r2"]["trainable_params"]
        > summary["lora_r0"]["trainable_params"]
    )
    assert set(report["comparisons"]) == {"lora_r2_vs_lora_r0"}
    md = open(os.path.join(str(tmp_path), "lora.md")).read()
    assert lora.lora_label(2) in md and lora.lora_label(0) in md
