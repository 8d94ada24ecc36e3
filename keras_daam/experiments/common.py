"""What the experiments share: caches per split, logging, layer-head runs."""

import os
import platform
import time

import numpy as np

from keras_daam import evaluation
from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int

SPLITS = ("train", "val", "test")

# Every head over stacked layers that the experiments train by default, in
# table order (registry names).
LAYER_HEADS = (
    "linear_last_layer",
    "weighted_sum_linear",
    "none_flatten",
    "mha_flatten",
    "mha_bn_flatten",
    "daam_h2_flatten",
    "daam_h1_flatten",
    "daam_mixture_h1_k4_flatten",
    "gqdaam_h2_flatten",
    "daam_features_h8_flatten",
)
# The headline head, and the one-head fallback where 2 heads do not divide
# the layers.
HEADLINE = "daam_h2_flatten"
ONE_HEAD = "daam_h1_flatten"


def quiet(line):
    """The default `log`: drop progress lines."""


def machine_description():
    """`"x86_64, 2 CPU cores (shared), keras 3.x on jax"`."""
    import keras

    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), "
        f"keras {keras.__version__} on {keras.backend.backend()}"
    )


def check_protocol(seeds, max_epochs, patience, batch_size):
    """Checks the protocol arguments at the door (ValueErrors naming them)."""
    return (
        check_positive_int("seeds", seeds),
        check_positive_int("max_epochs", max_epochs),
        check_int("patience", patience, minimum=0),
        check_positive_int("batch_size", batch_size),
    )


def as_head_list(heads, default):
    """A list of head names from a list, a comma-separated str or None."""
    if heads is None:
        return list(default)
    if isinstance(heads, str):
        heads = [h.strip() for h in heads.split(",") if h.strip()]
    return list(heads)


def cache_splits(
    extractor,
    preprocessor,
    splits,
    cache_dir,
    batch_size,
    pooled=True,
    log=quiet,
):
    """Extract (or reuse) one feature cache per split.

    Every split goes through `keras_daam.features.extract_to_cache`, which
    reuses a finished cache of the same data and settings, resumes an
    interrupted one and refuses one made otherwise.

    Args:
        extractor: a `LayerwiseFeatureExtractor`.
        preprocessor: the matching preprocessor (`make_preprocessor`).
        splits: `{split name: (raw inputs, labels)}`.
        cache_dir: str. Each split goes to `cache_dir/<split name>`.
        batch_size: int. Extraction batch size.
        pooled: bool. Pooled `[N, L, d]` or unpooled `[N, L, T, d]`.
        log: callable for progress lines.

    Returns:
        `({split name: FeatureCache}, seconds)`.
    """
    from keras_daam.features import extract_to_cache

    caches = {}
    t0 = time.perf_counter()
    for split, (x, y) in splits.items():
        folder = os.path.join(cache_dir, split)
        log(f"features of {len(y)} {split} examples ({folder})")
        caches[split] = extract_to_cache(
            extractor,
            x,
            folder,
            batch_size=batch_size,
            pooled=pooled,
            labels=np.asarray(y),
            preprocessor=preprocessor,
            verbose=log is not quiet,
        )
    return caches, time.perf_counter() - t0


def pooled_arrays(cache):
    """`(features float32 [N, L, d], labels int64)` of a pooled cache."""
    return (
        np.asarray(cache.features, "float32"),
        np.asarray(cache.labels).astype("int64"),
    )


def token_arrays(cache, layer=-1):
    """`({"features": [N, T, d], "padding_mask": [N, T]}, labels)` of one
    layer of an unpooled cache, for the `tokens_*` heads."""
    x = {
        "features": np.asarray(cache.features[:, layer], "float32"),
        "padding_mask": np.asarray(cache.padding_mask, bool),
    }
    return x, np.asarray(cache.labels).astype("int64")


def standardize(parts):
    """Per-layer, per-channel z-scores with training statistics only.

    Args:
        parts: `[(x_train, y), (x_val, y), (x_test, y)]`, x `[N, L, d]`.

    Returns:
        The same list with standardised features.
    """
    x = parts[0][0]
    mean = x.mean(0, keepdims=True)
    std = x.std(0, keepdims=True) + 1e-6
    return [((f - mean) / std, y) for f, y in parts]


def check_compare(compare, heads):
    """`compare` as a list of names, each one of `heads` (else ValueError)."""
    compare = as_head_list(compare, ())
    missing = [name for name in compare if name not in heads]
    if missing:
        raise ValueError(
            f"`compare` names heads that are not trained: {missing}. Add "
            f"them to the heads ({', '.join(heads)})."
        )
    return compare


def fitting_heads(heads, num_layers, feature_dim, explicit, log=quiet):
    """The heads that can take `[L, d]`.

    Heads the caller named (`explicit`) must all fit: a misfit raises. From
    a default list, heads that cannot take the shape (2 DAAM heads over an
    odd number of layers) are left out, with a log line.
    """
    if explicit:
        evaluation.check_heads(heads, num_layers, feature_dim, tokens=False)
        return list(heads)
    kept = []
    for name in heads:
        try:
            evaluation.check_heads([name], num_layers, feature_dim)
        except ValueError as error:
            log(f"leaving out {name}: {error}")
            continue
        kept.append(name)
    return kept


def layer_heads_report(
    task,
    parts,
    num_classes,
    heads,
    explicit,
    seeds,
    max_epochs,
    patience,
    batch_size,
    ablation,
    log,
    also_compare=(),
    learning_rates=evaluation.DEFAULT_LEARNING_RATES,
    extra=None,
):
    """Train layer-axis heads, compare with the headline, run the ablation.

    Args:
        task: str, the report's name.
        parts: `[(x, y)] * 3` for train, val and test, x `[N, L, d]`.
        num_classes: int. Logit outputs (the task's class count).
        heads: list of head names.
        explicit: bool, whether the caller named the heads (a misfit then
            raises instead of being left out).
        seeds, max_epochs, patience, batch_size: the protocol.
        ablation: bool. Run the IF ablation (`if_ablation`).
        log: callable for progress lines.
        also_compare: head names each also compared with every other
            trained head (keys `"A_vs_B"`), besides the headline's
            comparisons; names not trained are skipped.
        learning_rates: the learning-rate grid of the protocol.
        extra: dict merged into the report.

    Returns:
        `(report, results, markdown blocks)`.
    """
    from keras_daam.experiments.ablation import ablation_sentence
    from keras_daam.experiments.ablation import if_ablation

    num_layers, feature_dim = parts[0][0].shape[1:]
    heads = fitting_heads(heads, num_layers, feature_dim, explicit, log)
    t0 = time.perf_counter()
    results = evaluation.train_heads(
        heads,
        *parts,
        num_classes=num_classes,
        seeds=seeds,
        learning_rates=learning_rates,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
        log=log,
    )
    y_test = parts[2][1]
    # The 2-head DAAM, else the 1-head one; None when neither was trained
    # (then there is no headline comparison).
    headline = next((h for h in (HEADLINE, ONE_HEAD) if h in results), None)
    comps = evaluation.comparisons(
        results, y_test, headline=headline, baselines=list(results)
    )
    for first in also_compare:
        if first not in results or first == headline:
            continue
        for name in results:
            # Each pair once; the headline's pairs are already in `comps`.
            if name in (first, headline) or f"{name}_vs_{first}" in comps:
                continue
            comps[f"{first}_vs_{name}"] = evaluation.compare(
                y_test, results[first], results[name]
            )
    report = {
        "task": task,
        "machine": machine_description(),
        "sizes": [len(p[1]) for p in parts],
        "features": [int(num_layers), int(feature_dim)],
        "heads": list(results),
        "headline": headline,
        "seeds": seeds,
        "learning_rates": list(learning_rates),
        "max_epochs": max_epochs,
        "patience": patience,
        "train_time_s": time.perf_counter() - t0,
        "results": evaluation.jsonable(results),
        "summary": {k: evaluation.summarize(v) for k, v in results.items()},
        "comparisons": comps,
        **(extra or {}),
    }
    blocks = [
        evaluation.results_table(results, headline=headline),
        evaluation.comparisons_table(comps, headline) if comps else "",
    ]
    if ablation:
        report["if_ablation"] = if_ablation(
            *parts,
            num_classes=num_classes,
            seeds=seeds,
            learning_rates=learning_rates,
            max_epochs=max_epochs,
            patience=patience,
            batch_size=batch_size,
            log=log,
        )
        blocks.append(ablation_sentence(report["if_ablation"]))
    return report, results, blocks
