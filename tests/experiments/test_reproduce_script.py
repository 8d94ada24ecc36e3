"""`scripts/reproduce_results.py` is argument parsing + calls, nothing more."""

import ast
import importlib.util
import pathlib

import pytest

from keras_daam import experiments

SCRIPT = pathlib.Path(__file__).parents[2] / "scripts" / "reproduce_results.py"


@pytest.fixture
def script():
    spec = importlib.util.spec_from_file_location("reproduce", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def calls(monkeypatch):
    seen = {}

    def fake(name, result):
        def run(**kwargs):
            seen[name] = kwargs
            return result

        return run

    report = {"text": "table"}
    for name in ("run_text", "run_lora", "run_audio"):
        monkeypatch.setattr(experiments, name, fake(name, report))
    monkeypatch.setattr(
        experiments, "run_vision", fake("run_vision", {"uniform": report})
    )
    return seen


def test_script_is_thin_and_public():
    source = SCRIPT.read_text()
    assert len(source.splitlines()) <= 150
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] in ("keras_daam",) or (
                node.module in ("argparse", "os", "sys")
            )
            for alias in node.names:
                assert not alias.name.startswith("_"), alias.name
        if isinstance(node, ast.Attribute):
            # No private names and no package state changed from here.
            assert not node.attr.startswith("_") or node.attr.startswith(
                "__"
            ), node.attr
    assert "HEAD_SPECS" not in source and "setdefault" not in source


def test_text_arguments(script, calls, capsys):
    args = ["text", "--seeds", "2", "--num-train", "40", "--skip-tokens"]
    args += ["--heads", "none_flatten,daam_h2_flatten", "--cache", "c"]
    assert script.main(args) == 0
    kwargs = calls["run_text"]
    assert kwargs["seeds"] == 2 and kwargs["num_train"] == 40
    assert "num_val" not in kwargs  # the task's default
    assert kwargs["tokens"] is False and kwargs["ablation"] is True
    assert kwargs["heads"] == "none_flatten,daam_h2_flatten"
    assert kwargs["cache_dir"] == "c" and kwargs["max_epochs"] == 30
    assert "patience" not in kwargs
    assert kwargs["command"].startswith("scripts/reproduce_results.py text")
    assert capsys.readouterr().out.strip() == "table"


def test_other_tasks(script, calls):
    script.main(["vision", "--layer-set", "uniform,pad", "--skip-ablation"])
    assert calls["run_vision"]["layer_sets"] == "uniform,pad"
    assert calls["run_vision"]["ablation"] is False
    script.main(["audio", "--extra-voices", "--no-standardize"])
    assert calls["run_audio"]["extra_voices"] is True
    assert calls["run_audio"]["standardized"] is False
    script.main(["lora", "--lora-ranks", "0,4", "--patience", "2"])
    assert calls["run_lora"]["ranks"] == "0,4"
    assert calls["run_lora"]["patience"] == 2
    assert "heads" not in calls["run_lora"]
