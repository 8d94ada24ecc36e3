"""`train_heads` and `check_heads`: registry names, checks before training."""

import numpy as np
import pytest

from keras_daam import evaluation

L, D, C = 6, 16, 3


def _split(n, seed, layers=L):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % C
    x = rng.normal(size=(n, layers, D)).astype("float32")
    x[:, -1] += np.random.default_rng(7).normal(size=(C, D))[y] * 2.0
    return x.astype("float32"), y


def _tokens(n, seed, length=5):
    x, y = _split(n, seed, layers=length)
    mask = np.ones((n, length), bool)
    mask[::2, -2:] = False
    return {"features": x, "padding_mask": mask}, y


FAST = dict(learning_rates=(1e-2,), max_epochs=1, batch_size=16)


def test_train_heads_runs_every_seed_in_order_and_reports():
    lines, done = [], []
    results = evaluation.train_heads(
        ["none_flatten", "daam_h2_flatten"],
        _split(48, 0),
        _split(24, 1),
        _split(24, 2),
        num_classes=C,
        seeds=2,
        log=lines.append,
        on_head_done=lambda name, runs, model: done.append(
            (name, len(runs), model.name)
        ),
        **FAST,
    )
    assert list(results) == ["none_flatten", "daam_h2_flatten"]
    assert all(len(runs) == 2 for runs in results.values())
    # Called as soon as each head's seeds are done, with seed 0's model.
    assert done == [("none_flatten", 2, "none_flatten")] + [
        ("daam_h2_flatten", 2, "daam_h2_flatten")
    ]
    assert len(lines) == 4 and lines[0].startswith("  none_flatten seed 0")
    for runs in results.values():
        for run in runs:
            assert "model" not in run
            assert run["test_predictions"].shape == (24,)


def test_keep_models_keeps_seed_zero_only():
    results = evaluation.train_heads(
        ["none_flatten"],
        _split(32, 0),
        _split(16, 1),
        _split(16, 2),
        num_classes=C,
        seeds=2,
        keep_models=True,
        **FAST,
    )
    runs = results["none_flatten"]
    assert "model" in runs[0] and "model" not in runs[1]


def test_token_heads_take_features_and_padding_mask():
    results = evaluation.train_heads(
        ["tokens_mean_linear", "tokens_daam_mixture_h1_k4_sum"],
        _tokens(32, 0),
        _tokens(16, 1),
        _tokens(16, 2),
        num_classes=C,
        **FAST,
    )
    assert set(results) == {
        "tokens_mean_linear",
        "tokens_daam_mixture_h1_k4_sum",
    }
    # A token head on stacked layers (and the reverse) is refused at once.
    with pytest.raises(ValueError, match="padding mask"):
        evaluation.train_heads(
            ["tokens_mean_linear"], *[_split(8, s) for s in range(3)], C
        )
    with pytest.raises(ValueError, match="stacked layer features"):
        evaluation.train_heads(
            ["none_flatten"], *[_tokens(8, s) for s in range(3)], C
        )


def _never_fit(monkeypatch):
    """Make any training fail loudly: checks must come first."""

    def fail(*args, **kwargs):
        raise AssertionError("trained before checking every head")

    monkeypatch.setattr(evaluation.runner, "fit_and_select", fail)


@pytest.mark.parametrize(
    "heads, message",
    [
        (["none_flatten", "no_such_head"], "Unknown head 'no_such_head'"),
        # 4 DAAM heads cannot split 6 layers: named in the error.
        (["none_flatten", "daam_h4_flatten"], "'daam_h4_flatten'"),
        (["none_flatten", "none_flatten"], "more than once"),
        ([], "empty"),
        ("none_flatten", "list of head names"),
    ],
)
def test_every_head_is_checked_before_any_training(monkeypatch, heads, message):
    _never_fit(monkeypatch)
    with pytest.raises(ValueError, match=message):
        evaluation.train_heads(heads, *[_split(8, s) for s in range(3)], C)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seeds": 0}, "seeds=0"),
        ({"max_epochs": 0}, "max_epochs=0"),
        ({"patience": -1}, "patience=-1"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"learning_rates": (0.0,)}, "learning_rates=0"),
        ({"num_classes": 1}, "num_classes=1"),
        ({"on_head_done": 3}, "on_head_done"),
    ],
)
def test_arguments_checked_before_training(monkeypatch, kwargs, message):
    _never_fit(monkeypatch)
    args = {"num_classes": C, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluation.train_heads(
            ["none_flatten"], *[_split(8, s) for s in range(3)], **args
        )


def test_splits_must_agree(monkeypatch):
    _never_fit(monkeypatch)
    with pytest.raises(ValueError, match="test features"):
        evaluation.train_heads(
            ["none_flatten"],
            _split(8, 0),
            _split(8, 1),
            _split(8, 2, layers=5),
            C,
        )
    with pytest.raises(ValueError, match=r"\[N, L, d\]"):
        evaluation.train_heads(
            ["none_flatten"], *[(np.zeros((8, 6)), np.zeros(8))] * 3, C
        )


def test_check_heads_returns_specs():
    specs = evaluation.check_heads(
        ["linear_last_layer", "daam_h3_flatten"], 6, 8
    )
    assert [s.name for s in specs] == ["linear_last_layer", "daam_h3_flatten"]
    assert specs[1].options["num_heads"] == 3


@pytest.mark.large  # starts worker processes: 30-50 s
def test_worker_processes_give_the_same_results():
    splits = [_split(24, s) for s in range(3)]
    kwargs = dict(
        num_classes=C,
        seeds=2,
        max_epochs=2,
        learning_rates=(1e-2,),
        keep_models=True,
        steps_per_execution="auto",
    )
    heads = ["none_flatten", "daam_h2_flatten"]
    done = []
    one = evaluation.train_heads(heads, *splits, workers=1, **kwargs)
    two = evaluation.train_heads(
        heads,
        *splits,
        workers=2,
        on_head_done=lambda name, runs, model: done.append(name),
        **kwargs,
    )
    assert list(two) == heads and sorted(done) == sorted(heads)
    for name in heads:
        for a, b in zip(one[name], two[name]):
            np.testing.assert_array_equal(
                a["test_predictions"], b["test_predictions"]
            )
            assert a["val_accuracy"] == b["val_accuracy"]
        weights = zip(
            one[name][0]["model"].get_weights(),
            two[name][0]["model"].get_weights(),
        )
        assert all(np.array_equal(x, y) for x, y in weights)
    with pytest.raises(ValueError, match="workers"):
        evaluation.train_heads(heads, *splits, workers=0, **kwargs)
