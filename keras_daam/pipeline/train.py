"""From a feature cache to trained, saved, compared heads.

`train_on_cache` checks everything before training anything (labels,
classes, the test cache's compatibility and class names, each head's fit
to the features, the output folder), then trains every head with the
validation-selected protocol of `keras_daam.evaluation` and saves each
head as soon as it is trained, as a self-describing head folder
(`keras_daam.models` format: preset, layers, preprocessing, class names)
that `keras-daam predict` and `keras_daam.models.load_head` use.
"""

import json
import os
import shutil
import time

import numpy as np

from keras_daam.utils import check_float
from keras_daam.utils.folders import OutputFolderError
from keras_daam.utils.folders import folder_lock
from keras_daam.utils.folders import prepare_output_folder

RUN_FILE = "run.json"
HEADS_FOLDER = "heads"
OWN_FILES = (RUN_FILE, "report.json", "report.md", HEADS_FOLDER, ".lock")


def open_cache(path, role="--cache"):
    """A pooled, labelled `FeatureCache`, or a ValueError naming the problem."""
    from keras_daam.features import FeatureCache

    if not os.path.isdir(path):
        raise ValueError(
            f"No feature cache at {path} ({role}); create one with "
            "`keras-daam extract`."
        )
    try:
        cache = FeatureCache(path)
    except FileNotFoundError as error:
        raise ValueError(f"{error} Create one with `keras-daam extract`.")
    if not cache.pooled:
        raise ValueError(
            f"{path} holds unpooled features {tuple(cache.features.shape)}; "
            "heads train on pooled [N, layers, features] caches."
        )
    if cache.labels is None:
        raise ValueError(
            f"The feature cache {path} has no labels (it was extracted from "
            "unlabelled data): training needs a label per example."
        )
    return cache


def _names(cache):
    if cache.class_names is not None:
        return list(cache.class_names)
    return [str(i) for i in range(int(np.max(cache.labels)) + 1)]


def map_test_labels(train_cache, test_cache):
    """The test cache's labels as ids of the training classes, by name.

    Raises:
        ValueError: the test set has classes the training set lacks (they
            are named), or only one of the caches names its classes.
    """
    if (train_cache.class_names is None) != (test_cache.class_names is None):
        raise ValueError(
            "Only one of the caches names its classes, so the test labels "
            "cannot be matched to the training labels by name. Extract both "
            "from labelled files (class names) or both from integer labels."
        )
    train_names = _names(train_cache)
    test_names = _names(test_cache)
    index = {name: i for i, name in enumerate(train_names)}
    unknown = sorted(
        set(test_names[int(i)] for i in test_cache.labels) - set(index)
    )
    if unknown:
        counts = {
            n: int(np.sum(np.asarray(test_names)[test_cache.labels] == n))
            for n in unknown
        }
        shown = ", ".join(f"{n!r} ({c})" for n, c in counts.items())
        raise ValueError(
            f"The test cache {test_cache.cache_dir} has classes the training "
            f"cache never saw: {shown}. Training classes: "
            f"{', '.join(map(repr, train_names))}."
        )
    return np.array(
        [index[test_names[int(i)]] for i in test_cache.labels], "int64"
    )


def check_test_cache(train_cache, test_cache):
    """Raises a ValueError when the test features were made differently."""
    a, b = train_cache.settings, test_cache.settings
    problems = []
    if tuple(train_cache.features.shape[1:]) != tuple(
        test_cache.features.shape[1:]
    ):
        problems.append(
            f"features {tuple(test_cache.features.shape[1:])} vs "
            f"{tuple(train_cache.features.shape[1:])}"
        )
    for key in ("backbone_fingerprint", "dtype"):
        if a.get(key) != b.get(key):
            problems.append(key.replace("_", " "))
    ea, eb = train_cache.extractor_settings, test_cache.extractor_settings
    for key in (
        "preset",
        "layer_indices",
        "include_embeddings",
        "mixed_widths",
    ):
        if ea.get(key) != eb.get(key):
            problems.append(f"{key} {eb.get(key)!r} vs {ea.get(key)!r}")
    if (a.get("preprocessing") or {}) != (b.get("preprocessing") or {}):
        problems.append("preprocessing settings")
    if problems:
        raise ValueError(
            f"The test cache {test_cache.cache_dir} was not made like the "
            f"training cache {train_cache.cache_dir}: {'; '.join(problems)}. "
            "Extract both with the same preset and options."
        )


def prepare_run_folder(output, overwrite):
    """A new or empty folder, or a previous run's (replaced if `overwrite`).

    Only files this command writes are ever deleted.
    """
    held = prepare_output_folder(output, OWN_FILES, what="--output")
    if not held:
        return
    if not overwrite:
        raise OutputFolderError(
            f"{output} holds the results of an earlier `keras-daam train` "
            "run. Choose another --output, or pass --overwrite to replace "
            "that run (only its own files are deleted)."
        )
    run_path = os.path.join(output, RUN_FILE)
    heads = []
    if os.path.exists(run_path):
        with open(run_path) as f:
            heads = json.load(f).get("heads", [])
    heads_dir = os.path.join(output, HEADS_FOLDER)
    for name in heads:
        if os.path.isdir(os.path.join(heads_dir, name)):
            shutil.rmtree(os.path.join(heads_dir, name))
    if os.path.isdir(heads_dir) and not os.listdir(heads_dir):
        os.rmdir(heads_dir)
    for name in (RUN_FILE, "report.json", "report.md"):
        path = os.path.join(output, name)
        if os.path.exists(path):
            os.remove(path)


def _check_fraction(name, value, allow_zero):
    return check_float(
        name,
        value,
        minimum=0.0,
        maximum=1.0,
        include_minimum=allow_zero,
        include_maximum=False,
    )


def train_on_cache(
    cache,
    output,
    heads,
    test_cache=None,
    val_fraction=0.1,
    test_fraction=0.2,
    split_seed=0,
    seeds=1,
    learning_rates=(1e-3, 1e-4),
    epochs=30,
    patience=5,
    batch_size=64,
    overwrite=False,
    log=None,
    workers=1,
):
    """Trains and compares heads on a feature cache; saves every head.

    Args:
        cache: str. A labelled, pooled feature cache.
        output: str. The run folder: new, empty, or an earlier run's
            (replaced only with `overwrite=True`).
        heads: list of registry head names; the first is compared with the
            others.
        test_cache: str, optional. A cache of test data; its labels are
            matched to the training classes by name. Without it, a test
            split of `test_fraction` is held out of `cache`.
        val_fraction, test_fraction: float. Stratified split fractions
            (validation selects the learning rate and epochs).
        split_seed, seeds, learning_rates, epochs, patience, batch_size:
            the protocol (see `keras_daam.evaluation.fit_and_select`).
        overwrite: bool. Replace an earlier run in `output`.
        log: callable for progress lines, or None.
        workers: int or `"auto"`. Heads trained at once (processes; see
            `keras_daam.evaluation.train_heads`). Defaults to 1.

    Returns:
        The report dict (also written to `report.json` / `report.md`).
    """
    from keras_daam.data import stratified_split
    from keras_daam.heads import get_head_spec

    log = log or (lambda message: None)
    val_fraction = _check_fraction("val_fraction", val_fraction, False)
    test_fraction = _check_fraction(
        "test_fraction", test_fraction, test_cache is not None
    )
    train_cache = open_cache(cache)
    x_all = np.asarray(train_cache.features, "float32")
    y_all = np.asarray(train_cache.labels, "int64")
    class_names = _names(train_cache)
    named = np.asarray(class_names, dtype=object)[y_all]  # errors name classes
    present = np.unique(y_all)
    if len(present) < 2:
        raise ValueError(f"The feature cache {cache} has a single class.")
    specs = [get_head_spec(name) for name in heads]
    _, num_layers, feature_dim = x_all.shape
    for spec in specs:
        spec.check(num_layers, feature_dim)
    if test_cache is not None:
        tcache = open_cache(test_cache, role="--test-cache")
        check_test_cache(train_cache, tcache)
        y_test = map_test_labels(train_cache, tcache)
        tr, va, _ = stratified_split(named, val_fraction, 0.0, split_seed)
        train = (x_all[tr], y_all[tr])
        val = (x_all[va], y_all[va])
        test = (np.asarray(tcache.features, "float32"), y_test)
    else:
        if test_fraction == 0:
            raise ValueError(
                "`test_fraction` must be > 0 without a test cache: the "
                "heads are compared on held-out test data."
            )
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(
                "`val_fraction` + `test_fraction` must leave training data "
                f"(< 1). Received: {val_fraction:g} + {test_fraction:g}."
            )
        tr, va, te = stratified_split(
            named, val_fraction, test_fraction, split_seed
        )
        train, val, test = (
            (x_all[tr], y_all[tr]),
            (x_all[va], y_all[va]),
            (x_all[te], y_all[te]),
        )
    prepare_output_folder(output, OWN_FILES, what="--output")
    with folder_lock(output, "training run"):
        prepare_run_folder(output, overwrite)
        protocol = dict(
            seeds=seeds,
            learning_rates=list(learning_rates),
            max_epochs=epochs,
            patience=patience,
            batch_size=batch_size,
            workers=workers,
            steps_per_execution="auto",
        )
        return _train(
            output,
            heads,
            (train, val, test),
            train_cache,
            test_cache,
            protocol,
            log,
        )


def _train(output, heads, splits, train_cache, test_cache, protocol, log):
    """Trains, saves and compares the heads (the run folder is locked)."""
    from keras_daam import evaluation

    train, val, test = splits
    class_names = _names(train_cache)
    heads_dir = os.path.join(output, HEADS_FOLDER)
    os.makedirs(heads_dir, exist_ok=True)
    run = {
        "format": "keras_daam.train_run",
        "cache": os.path.abspath(train_cache.cache_dir),
        "test_cache": os.path.abspath(test_cache) if test_cache else None,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "heads": [],
    }
    _write_json(os.path.join(output, RUN_FILE), run)
    saved = {}

    def on_head_done(name, runs, model):
        from keras_daam.models import save_head_files

        best = runs[0]
        path = os.path.join(heads_dir, name)
        save_head_files(
            path,
            model,
            head=name,
            class_names=class_names,
            cache=train_cache,
            training={
                "learning_rate": best["learning_rate"],
                "epochs": best["epochs"],
                "val_accuracy": best["val_accuracy"],
                "test_accuracy": best.get("test_accuracy"),
                "seed": 0,
                "train_size": int(len(train[1])),
            },
        )
        saved[name] = path
        run["heads"].append(name)
        _write_json(os.path.join(output, RUN_FILE), run)
        log(f"saved {name} -> {path}")

    results = evaluation.train_heads(
        list(heads),
        train,
        val,
        test,
        len(class_names),
        keep_models=True,
        on_head_done=on_head_done,
        log=log,
        **protocol,
    )
    headline = heads[0]
    comparisons = evaluation.comparisons(
        results, test[1], headline=headline, baselines=list(heads[1:])
    )
    table = evaluation.results_table(results, headline=headline)
    comp_table = (
        evaluation.comparisons_table(comparisons, headline)
        if comparisons
        else ""
    )
    report = {
        "cache": run["cache"],
        "test_cache": run["test_cache"],
        "class_names": class_names,
        "sizes": {
            "train": int(len(train[1])),
            "val": int(len(val[1])),
            "test": int(len(test[1])),
        },
        "seeds": protocol["seeds"],
        "heads": saved,
        "results": evaluation.jsonable(results),
        "comparisons": comparisons,
    }
    evaluation.write_report(
        output,
        report,
        "keras-daam train",
        [t for t in (table, comp_table) if t],
    )
    run["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _write_json(os.path.join(output, RUN_FILE), run)
    report["table"] = table
    report["comparison_table"] = comp_table
    return report


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)
