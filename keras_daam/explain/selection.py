"""IF-guided layer selection: retrain a fresh head on chosen layers.

The paper's ablation: retrain on the layers with the highest IF and on
those with the lowest; if high-IF layers give the better head, the IF
pointed at something real. This, not the map, is the test of importance.

Both subsets are trained with the evaluation protocol
(`keras_daam.evaluation.fit_and_select`): learning rate and epochs chosen
on the validation split, the test split touched once by the selected
model, the same seeds for both, and a paired comparison of the two.
"""

import numpy as np

from keras_daam.evaluation import DEFAULT_LEARNING_RATES
from keras_daam.evaluation import compare
from keras_daam.evaluation import fit_and_select
from keras_daam.explain.importance import bottom_k_layers
from keras_daam.explain.importance import top_k_layers

DEFAULT_HEAD = "daam_h1_flatten"
_DAAM_ATTENTIONS = ("daam",)


def _features_of(data):
    return data.features if hasattr(data, "features") else data


def _labels(y):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=-1)
    return y.reshape(len(y)).astype(np.int64)


def _select(features, layers):
    features = _features_of(features)
    if np.ndim(features) != 3:
        raise ValueError(
            "Features must be `[N, L, d]` stacked layers. Received shape "
            f"{np.shape(features)}."
        )
    return np.ascontiguousarray(np.take(features, layers, axis=1))


def _check_layers(layers, num_layers):
    layers = [int(i) for i in np.asarray(layers).ravel()]
    if not layers:
        raise ValueError("`layers` is empty: select at least one layer.")
    bad = [i for i in layers if not -num_layers <= i < num_layers]
    if bad:
        raise ValueError(
            f"Layer indices {bad} are out of range for {num_layers} layers."
        )
    if len(set(i % num_layers for i in layers)) != len(layers):
        raise ValueError(f"`layers` contains duplicates: {layers}")
    return layers


def _head_builder(head, num_layers, feature_dim, num_classes, head_options):
    """`build_fn(seed=...)` of a named head or a custom one."""
    from keras_daam.heads import build_head
    from keras_daam.heads import get_head_spec

    if head is not None:
        if head_options:
            raise ValueError(
                f"The head {head!r} fixes its attention module and decoder; "
                f"received {sorted(head_options)} as well. For a custom "
                "head pass `head=None` with `attention=`, `decoder=` and "
                "its options."
            )
        spec = get_head_spec(head)
        spec.check(num_layers, feature_dim)
        return lambda seed: spec.build(
            num_layers, feature_dim, num_classes, compile=False, seed=seed
        )
    options = dict(head_options)
    if options.get("attention", "daam") in _DAAM_ATTENTIONS:
        # A few selected layers rarely split into the default 8 heads.
        options.setdefault("num_heads", 1)
    build_head(
        num_layers=num_layers,
        feature_dim=feature_dim,
        num_classes=num_classes,
        compile=False,
        seed=0,
        **options,
    )  # fail before training
    return lambda seed: build_head(
        num_layers=num_layers,
        feature_dim=feature_dim,
        num_classes=num_classes,
        compile=False,
        seed=seed,
        **options,
    )


def retrain_on_layers(
    features,
    labels,
    layers,
    val_data,
    test_data,
    num_classes=None,
    head=DEFAULT_HEAD,
    learning_rates=DEFAULT_LEARNING_RATES,
    max_epochs=30,
    patience=5,
    batch_size=64,
    seed=0,
    weight_decay=0.01,
    verbose=0,
    **head_options,
):
    """Train a fresh head on only the given layers, with the protocol.

    Reproduces one arm of the paper's IF ablation, e.g.
    `retrain_on_layers(..., layers=top_k_layers(if_map, 3))` against the
    bottom 3. The head (`num_layers=len(layers)`) is trained with
    `keras_daam.evaluation.fit_and_select`: the learning rate (from
    `learning_rates`) and the epoch count (early stopping, best weights
    restored) are chosen on `val_data`; `test_data` is evaluated once, by
    the selected model. All three splits are restricted to `layers`.

    This is the test of importance an averaged IF map cannot give on its
    own (the map may mostly reflect the data; see
    `compare_with_initialization`). Differences between layer subsets can
    be small (the paper's AG News gap is 0.2 points): repeat with several
    seeds (`importance_ablation` does) before drawing conclusions.

    Args:
        features: training features `[N, L, d]` (array, memmap or feature
            cache with `.features`).
        labels: integer class ids `[N]` (or one-hot).
        layers: list of layer indices (0-based, into axis 1 of the
            features).
        val_data: `(features [N_val, L, d], labels)`, all `L` layers.
        test_data: `(features [N_test, L, d], labels)`, all `L` layers.
        num_classes: int. Defaults to the largest label seen + 1.
        head: str or None. A registered head name
            (`keras_daam.heads.head_names()`). Defaults to
            `"daam_h1_flatten"` (one DAAM head over the selected layers,
            flatten decoder). `None` builds a custom head from
            `head_options` (`attention=`, `decoder=`, ...; for DAAM
            `num_heads` defaults to 1).
        learning_rates: the learning-rate grid. Defaults to `(1e-3, 1e-4)`.
        max_epochs: int. Upper bound on epochs. Defaults to 30.
        patience: int. Early-stopping patience. Defaults to 5.
        batch_size: int. Defaults to 64.
        seed: int. Seeds weights and shuffling. Defaults to 0.
        weight_decay: float. AdamW weight decay. Defaults to 0.01.
        verbose: int. Keras verbosity of `fit`. Defaults to 0.
        **head_options: `keras_daam.heads.build_head` arguments of a
            custom head (`head=None`): `attention`, `decoder`, attention
            options.

    Returns:
        dict with `"layers"` (the indices used), `"val_accuracy"`,
        `"test_accuracy"` (floats in [0, 1]), `"test_predictions"`,
        `"learning_rate"` and `"epochs"` (selected on validation),
        `"grid"`, `"trainable_params"`, `"train_time_s"`,
        `"search_time_s"`, `"history"` (the selected run's Keras history)
        and `"model"` (the selected head).

    Example:

    ```python
    result = keras_daam.explain.retrain_on_layers(
        x_train, y_train, [4, 5], (x_val, y_val), (x_test, y_test)
    )
    print(result["test_accuracy"], result["learning_rate"])
    ```
    """
    x = _features_of(features)
    if np.ndim(x) != 3:
        raise ValueError(
            "Features must be `[N, L, d]` stacked layers. Received shape "
            f"{np.shape(x)}."
        )
    num_layers = x.shape[1]
    layers = _check_layers(layers, num_layers)
    y = _labels(labels)
    x_val, y_val = val_data[0], _labels(val_data[1])
    x_test, y_test = test_data[0], _labels(test_data[1])
    for name, arr in (("val_data", x_val), ("test_data", x_test)):
        shape = np.shape(_features_of(arr))
        if len(shape) != 3 or shape[1:] != tuple(x.shape[1:]):
            raise ValueError(
                f"`{name}` features must have all {num_layers} layers like "
                f"the training features {tuple(x.shape[1:])}; received "
                f"{shape}."
            )
    if num_classes is None:
        num_classes = int(max(y.max(), y_val.max(), y_test.max())) + 1
    build_fn = _head_builder(
        head, len(layers), int(x.shape[2]), num_classes, head_options
    )
    run = fit_and_select(
        build_fn,
        (_select(x, layers), y),
        (_select(x_val, layers), y_val),
        (_select(x_test, layers), y_test),
        learning_rates=learning_rates,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
        seed=seed,
        weight_decay=weight_decay,
        verbose=verbose,
    )
    return {"layers": layers, **run}


def importance_ablation(
    features,
    labels,
    if_map,
    k,
    val_data,
    test_data,
    seeds=(0,),
    **retrain_kwargs,
):
    """The paper's ablation: retrain on the top-k vs the bottom-k IF layers.

    Each subset is retrained once per seed with `retrain_on_layers` (the
    protocol: learning rate and epochs chosen on validation, test touched
    once), on the same seeds, and the two are compared pairwise on the
    same test examples (`keras_daam.evaluation.compare`).

    Args:
        features, labels, val_data, test_data: as in `retrain_on_layers`.
        if_map: IF map `[L, d]` (or per-layer scores `[L]`) that ranks the
            layers. Compute it on the validation split, never on test.
        k: int. Number of layers in each subset.
        seeds: iterable of ints; each subset is retrained once per seed.
            Defaults to `(0,)`.
        **retrain_kwargs: passed to `retrain_on_layers` (`head`,
            `learning_rates`, `max_epochs`, `patience`, `batch_size`, ...).

    Returns:
        dict with `"top_layers"`, `"bottom_layers"`, `"top_accuracy"`,
        `"bottom_accuracy"` (test accuracies, one per seed), their
        `"top_mean"`, `"bottom_mean"`, `"top_std"`, `"bottom_std"` (sample
        std over seeds, 0 for one seed), `"top_runs"` and `"bottom_runs"`
        (the per-seed protocol results, without models) and
        `"comparison"` (top minus bottom: per-seed differences, paired
        bootstrap interval, McNemar p-values and a verdict).

    Example:

    ```python
    result = keras_daam.explain.importance_ablation(
        x_train, y_train, if_map, k=3,
        val_data=(x_val, y_val), test_data=(x_test, y_test),
        seeds=(0, 1, 2),
    )
    print(result["top_mean"], result["bottom_mean"])
    print(result["comparison"]["verdict"])
    ```
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("`seeds` is empty: give at least one seed.")
    top = top_k_layers(if_map, k)
    bottom = bottom_k_layers(if_map, k)
    out = {"top_layers": top.tolist(), "bottom_layers": bottom.tolist()}
    for name, chosen in (("top", top), ("bottom", bottom)):
        runs = []
        for s in seeds:
            run = retrain_on_layers(
                features,
                labels,
                chosen,
                val_data,
                test_data,
                seed=s,
                **retrain_kwargs,
            )
            run.pop("model", None)
            runs.append(run)
        accs = [r["test_accuracy"] for r in runs]
        out[f"{name}_accuracy"] = accs
        out[f"{name}_mean"] = float(np.mean(accs))
        out[f"{name}_std"] = (
            float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
        )
        out[f"{name}_runs"] = runs
    out["comparison"] = compare(
        _labels(test_data[1]), out["top_runs"], out["bottom_runs"]
    )
    return out
