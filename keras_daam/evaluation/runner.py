"""Train named heads over seeds with the protocol, one head after another."""

import time

import numpy as np

from keras_daam.evaluation.protocol import DEFAULT_LEARNING_RATES
from keras_daam.evaluation.protocol import check_learning_rates
from keras_daam.evaluation.protocol import fit_and_select
from keras_daam.heads import get_head_spec
from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int


def _split_shape(x, name):
    """`(L, d)` of one split's features, and whether they are token
    features with a padding mask (a dict)."""
    if isinstance(x, dict):
        missing = {"features", "padding_mask"} - set(x)
        if missing:
            raise ValueError(
                f"`{name}` inputs are a dict, so they must hold 'features' "
                f"and 'padding_mask'; missing {sorted(missing)}."
            )
        shape = np.shape(x["features"])
        if np.shape(x["padding_mask"]) != shape[:2]:
            raise ValueError(
                f"`{name}`: padding_mask has shape "
                f"{np.shape(x['padding_mask'])}, the features {shape}; it "
                "must be `[N, T]`."
            )
        tokens = True
    else:
        shape = np.shape(x)
        tokens = False
    if len(shape) != 3:
        raise ValueError(
            f"`{name}` features must be `[N, L, d]` (stacked layers, or one "
            f"layer's tokens). Received shape {shape}."
        )
    return tuple(int(s) for s in shape[1:]), tokens


def check_heads(heads, num_layers, feature_dim, tokens=None):
    """Resolves head names and checks each can take `[L, d]` features.

    Call it before anything expensive (extraction, training): an unknown
    name or a head that does not fit fails at once, naming the head.

    Args:
        heads: list of registered head names
            (`keras_daam.heads.head_names()`).
        num_layers: int. `L`: stacked layers (or tokens).
        feature_dim: int. `d`: features per layer.
        tokens: bool or None. `True` when the features are one layer's
            tokens with a padding mask (the `tokens_*` heads), `False` for
            stacked layers; `None` skips that check.

    Returns:
        The list of `HeadSpec`s, in order.

    Raises:
        ValueError: an empty or repeated list, an unknown name, a head that
            cannot take the shape, or a head for the other kind of input.

    Example:

    >>> from keras_daam import evaluation
    >>> specs = evaluation.check_heads(["daam_h2_flatten"], 6, 384)
    >>> specs[0].attention
    'daam'
    """
    if isinstance(heads, str):
        raise ValueError(
            "`heads` must be a list of head names, not one string. "
            f"Received: heads={heads!r}"
        )
    heads = list(heads)
    if not heads:
        raise ValueError("`heads` is empty: name at least one head.")
    repeated = sorted({h for h in heads if heads.count(h) > 1})
    if repeated:
        raise ValueError(f"`heads` names {repeated} more than once.")
    specs = [get_head_spec(name) for name in heads]
    for spec in specs:
        if tokens is not None and spec.use_mask != tokens:
            raise ValueError(
                f"Head {spec.name!r} takes "
                + (
                    "one layer's token features with a padding mask "
                    "({'features', 'padding_mask'})"
                    if spec.use_mask
                    else "stacked layer features `[N, L, d]`"
                )
                + "; the data given are "
                + (
                    "token features with a padding mask."
                    if tokens
                    else "stacked layer features."
                )
            )
        spec.check(num_layers, feature_dim)
    return specs


def train_heads(
    heads,
    train,
    val,
    test,
    num_classes,
    seeds=1,
    learning_rates=DEFAULT_LEARNING_RATES,
    max_epochs=30,
    patience=5,
    batch_size=64,
    keep_models=False,
    on_head_done=None,
    log=None,
):
    """Train every named head over `seeds` seeds with `fit_and_select`.

    Every name is resolved through the head registry and checked against
    the feature shape (`check_heads`) before any head is trained. Seed `s`
    of every head is `fit_and_select(..., seed=s)` on the same splits, so
    heads can be compared pairwise (`compare`).

    Args:
        heads: list of registered head names.
        train: `(x, y)`. `x` is `[N, L, d]` stacked layer features, or for
            the `tokens_*` heads a dict `{"features": [N, T, d],
            "padding_mask": [N, T]}`.
        val: `(x, y)`, the validation split (selection).
        test: `(x, y)`, the test split (evaluated once per seed).
        num_classes: int >= 2. Logit outputs.
        seeds: int >= 1. Seeds `0 .. seeds - 1`. Defaults to 1.
        learning_rates: the grid. Defaults to `(1e-3, 1e-4)`.
        max_epochs: int >= 1. Defaults to 30.
        patience: int >= 0. Defaults to 5.
        batch_size: int >= 1. Defaults to 64.
        keep_models: bool. Keep seed 0's selected model in its result
            dict (`"model"`). Defaults to `False`.
        on_head_done: optional callable `on_head_done(name, runs, model)`,
            called as soon as a head's seeds are done (`model` is seed 0's
            selected model, whatever `keep_models`), e.g. to save it.
        log: optional callable taking one progress line (str) per seed.
            Defaults to silence.

    Returns:
        `{head name: [per-seed result dict, ...]}` in the order of
        `heads`. Each dict is `fit_and_select`'s (`test_predictions`
        included), without `"model"` unless `keep_models` (seed 0 only).

    Example:

    >>> import numpy as np
    >>> from keras_daam import evaluation
    >>> rng = np.random.default_rng(0)
    >>> split = lambda n: (rng.normal(size=(n, 6, 8)), np.arange(n) % 2)
    >>> results = evaluation.train_heads(
    ...     ["none_flatten"], split(32), split(16), split(16),
    ...     num_classes=2, max_epochs=1, learning_rates=(1e-3,),
    ... )
    >>> len(results["none_flatten"])
    1
    """
    num_classes = check_int("num_classes", num_classes, minimum=2)
    seeds = check_positive_int("seeds", seeds)
    learning_rates = check_learning_rates(learning_rates)
    max_epochs = check_positive_int("max_epochs", max_epochs)
    patience = check_int("patience", patience, minimum=0)
    batch_size = check_positive_int("batch_size", batch_size)
    if on_head_done is not None and not callable(on_head_done):
        raise ValueError(
            "`on_head_done` must be callable (name, runs, model). "
            f"Received: on_head_done={on_head_done!r}"
        )
    shapes = {}
    for name, split in (("train", train), ("val", val), ("test", test)):
        shapes[name] = _split_shape(split[0], name)
    (num_layers, feature_dim), tokens = shapes["train"]
    for name in ("val", "test"):
        if shapes[name] != shapes["train"]:
            raise ValueError(
                f"The {name} features {shapes[name][0]} differ from the "
                f"training features {shapes['train'][0]} (or one has a "
                "padding mask and the other not)."
            )
    specs = check_heads(heads, num_layers, feature_dim, tokens=tokens)
    log = log or (lambda line: None)
    results = {}
    for spec in specs:
        runs = []
        model = None
        for seed in range(seeds):
            t0 = time.perf_counter()
            run = fit_and_select(
                lambda seed, spec=spec: spec.build(
                    num_layers,
                    feature_dim,
                    num_classes,
                    compile=False,
                    seed=seed,
                ),
                train,
                val,
                test,
                learning_rates=learning_rates,
                max_epochs=max_epochs,
                patience=patience,
                batch_size=batch_size,
                seed=seed,
            )
            if seed == 0:
                model = run["model"]
            if not (keep_models and seed == 0):
                run.pop("model")
            runs.append(run)
            log(
                f"  {spec.name} seed {seed}: test "
                f"{100 * run['test_accuracy']:.1f}  (val "
                f"{100 * run['val_accuracy']:.1f}, lr "
                f"{run['learning_rate']:g}, {run['epochs']} ep, "
                f"{time.perf_counter() - t0:.0f} s)"
            )
        results[spec.name] = runs
        if on_head_done is not None:
            on_head_done(spec.name, runs, model)
    return results
