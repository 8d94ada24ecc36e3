"""The paper's IF ablation on a task: rank layers by IF, retrain on subsets."""

import numpy as np

from keras_daam import evaluation
from keras_daam import explain
from keras_daam.experiments.common import ONE_HEAD
from keras_daam.experiments.common import quiet

_VERDICTS = {"A better": "top better", "B better": "bottom better"}


def if_ablation(
    train,
    val,
    test,
    num_classes,
    seeds=3,
    k=2,
    head=ONE_HEAD,
    learning_rates=evaluation.DEFAULT_LEARNING_RATES,
    max_epochs=30,
    patience=5,
    batch_size=64,
    log=quiet,
):
    """Train a DAAM head on all layers, rank layers by IF, retrain on subsets.

    1. `head` is trained on every layer with the protocol
       (`evaluation.fit_and_select`, seed 0, no test split).
    2. Its Importance Factor is averaged over the validation split
       (`explain.collect_density_maps`, `explain.importance_factor`).
    3. `explain.importance_ablation` retrains fresh `head`s on the `k`
       highest-IF and the `k` lowest-IF layers, `seeds` seeds each, with
       the same protocol, and compares them on the test split.

    Args:
        train, val, test: `(x [N, L, d], y)` splits.
        num_classes: int. Logit outputs.
        seeds: int. Seeds of the retrained heads. Defaults to 3.
        k: int. Layers per subset. Defaults to 2.
        head: str. A registered DAAM head name. Defaults to
            `"daam_h1_flatten"`.
        learning_rates, max_epochs, patience, batch_size: the protocol.
        log: callable for progress lines.

    Returns:
        `importance_ablation`'s dict (per-seed runs made JSON-able) plus
        `"head"`, `"k"`, `"layer_contribution_percent"` (of the ranking
        head, on validation) and `"ranking_run"` (its selected learning
        rate, epochs and validation accuracy).
    """
    num_layers, feature_dim = np.shape(train[0])[1:]
    spec = evaluation.check_heads([head], num_layers, feature_dim)[0]
    ranking = evaluation.fit_and_select(
        lambda seed: spec.build(
            num_layers, feature_dim, num_classes, compile=False, seed=seed
        ),
        train,
        val,
        learning_rates=learning_rates,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
    )
    if_map = explain.importance_factor(
        explain.collect_density_maps(ranking["model"], val[0], batch_size=256)
    )
    contribution = np.asarray(explain.layer_contribution(if_map))
    log(
        "IF layer contributions % "
        + ", ".join(f"L{i + 1} {v:.1f}" for i, v in enumerate(contribution))
    )
    out = explain.importance_ablation(
        train[0],
        train[1],
        if_map,
        k,
        val,
        test,
        seeds=range(seeds),
        num_classes=num_classes,
        head=head,
        learning_rates=learning_rates,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
    )
    for name in ("top_runs", "bottom_runs"):
        out[name] = evaluation.jsonable({name: out[name]})[name]
    out.update(
        {
            "head": head,
            "k": int(k),
            "layer_contribution_percent": contribution.tolist(),
            "ranking_run": {
                key: ranking[key]
                for key in ("learning_rate", "epochs", "val_accuracy")
            },
        }
    )
    return out


def ablation_sentence(ablation):
    """One line of Markdown describing an `if_ablation` result."""
    c = ablation["comparison"]
    b = c["bootstrap"]
    seeds = len(ablation["top_accuracy"])

    def acc(name):
        return evaluation.format_mean_std(
            ablation[f"{name}_mean"], ablation[f"{name}_std"], seeds
        )

    return (
        f"IF ablation (`{ablation['head']}`, k={ablation['k']}, "
        f"{seeds} seed(s)): top-IF layers {ablation['top_layers']} "
        f"{acc('top')} vs bottom-IF {ablation['bottom_layers']} "
        f"{acc('bottom')}: {100 * c['mean']:+.1f} +- {100 * c['std']:.1f} "
        f"pts, bootstrap CI [{100 * b['ci_low']:+.1f}, "
        f"{100 * b['ci_high']:+.1f}] ({_VERDICTS.get(c['verdict'], 'tie')})."
    )
