"""An honest evaluation protocol for heads trained on cached features.

The rules this module enforces:

- The learning rate (a small grid) and the number of epochs (early stopping
  with the best weights restored) are chosen on a validation split carved
  from the training data. The test split is touched once, by the selected
  model. Nothing is ever selected on test.
- Every configuration is run over several seeds and reported as mean and
  standard deviation.
- Two heads are compared on the same seeds and the same test examples: the
  per-seed paired difference, a paired bootstrap confidence interval over
  test examples (pooled over seeds) and an exact McNemar test per seed. A
  difference whose 95% interval contains zero is reported as a tie.

Example:

>>> import numpy as np
>>> from keras_daam import evaluation
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 200)
>>> a = np.where(rng.random(200) < 0.8, y, 1 - y)
>>> b = np.where(rng.random(200) < 0.7, y, 1 - y)
>>> p = evaluation.mcnemar_test(y, a, b)
>>> 0.0 <= p <= 1.0
True
"""

import math
import time

import keras
import numpy as np

DEFAULT_LEARNING_RATES = (1e-3, 1e-4)


def _accuracy(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def compile_head(model, learning_rate, weight_decay=0.01):
    """Compile a logits head with AdamW, cross-entropy and accuracy."""
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=learning_rate, weight_decay=weight_decay
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def _trainable_count(model):
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def fit_and_select(
    build_fn,
    train,
    val,
    test=None,
    learning_rates=DEFAULT_LEARNING_RATES,
    max_epochs=30,
    patience=5,
    batch_size=64,
    seed=0,
    weight_decay=0.01,
    verbose=0,
):
    """Train one head per learning rate, select on validation, test once.

    Args:
        build_fn: callable `build_fn(seed=...) -> keras.Model` returning an
            uncompiled model that maps features to logits.
        train: tuple `(x, y)`; `x` an array or a dict of arrays.
        val: tuple `(x, y)` carved from the training data. Early stopping
            (patience `patience`, best weights restored) and the
            learning-rate choice both use its accuracy.
        test: optional tuple `(x, y)`; evaluated only with the selected
            model.
        learning_rates: the grid. Defaults to `(1e-3, 1e-4)`.
        max_epochs: int. Upper bound on epochs. Defaults to 30.
        patience: int. Early-stopping patience in epochs. Defaults to 5.
        batch_size: int. Defaults to 64.
        seed: int. Seeds weights and shuffling (`keras.utils.
            set_random_seed`). Defaults to 0.
        weight_decay: float. AdamW weight decay. Defaults to 0.01.
        verbose: int. Passed to `fit`. Defaults to 0.

    Returns:
        A dict: `learning_rate`, `epochs` (best epoch, 1-based),
        `val_accuracy`, `test_accuracy` and `test_predictions` (if `test`),
        `trainable_params`, `train_time_s` (the selected run's fit time),
        `search_time_s` (the whole grid), `grid` (per rate: val accuracy and
        best epoch) and `model` (the selected, restored model).
    """
    if not learning_rates:
        raise ValueError("`learning_rates` must not be empty.")
    if max_epochs < 1:
        raise ValueError(f"`max_epochs` must be >= 1. Received: {max_epochs}")
    x_train, y_train = train
    x_val, y_val = val
    if len(y_val) == 0:
        raise ValueError(
            "The validation split is empty: the protocol selects the "
            "learning rate and the epoch count on it. Give it some examples."
        )
    best = None
    grid = []
    start = time.perf_counter()
    for lr in learning_rates:
        keras.utils.set_random_seed(seed)
        model = compile_head(build_fn(seed=seed), lr, weight_decay)
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_accuracy",
            mode="max",
            patience=patience,
            restore_best_weights=True,
        )
        t0 = time.perf_counter()
        history = model.fit(
            x_train,
            np.asarray(y_train),
            validation_data=(x_val, np.asarray(y_val)),
            epochs=max_epochs,
            batch_size=batch_size,
            callbacks=[stopper],
            verbose=verbose,
        )
        fit_time = time.perf_counter() - t0
        val_curve = history.history["val_accuracy"]
        best_epoch = int(np.argmax(val_curve)) + 1
        # Measure again with the restored weights rather than trusting the
        # curve (dropout or batch statistics could differ).
        val_pred = predict_classes(model, x_val, batch_size)
        val_acc = _accuracy(y_val, val_pred)
        grid.append(
            {"learning_rate": lr, "val_accuracy": val_acc, "epochs": best_epoch}
        )
        if best is None or val_acc > best["val_accuracy"]:
            best = {
                "learning_rate": lr,
                "epochs": best_epoch,
                "val_accuracy": val_acc,
                "train_time_s": fit_time,
                "model": model,
            }
    best["search_time_s"] = time.perf_counter() - start
    best["grid"] = grid
    best["trainable_params"] = _trainable_count(best["model"])
    if test is not None:
        x_test, y_test = test
        pred = predict_classes(best["model"], x_test, batch_size)
        best["test_predictions"] = pred
        best["test_accuracy"] = _accuracy(y_test, pred)
    return best


def predict_classes(model, x, batch_size=256):
    """Arg-max class predictions of a logits model, as an int array."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(logits).argmax(-1).astype("int64")


# --------------------------------------------------------------- statistics
def mcnemar_test(y_true, pred_a, pred_b):
    """Exact two-sided McNemar test of two classifiers on the same examples.

    Args:
        y_true: int array of labels.
        pred_a: predictions of model A.
        pred_b: predictions of model B.

    Returns:
        The p-value (1.0 when the two never disagree on correctness).
    """
    y_true = np.asarray(y_true)
    ca = np.asarray(pred_a) == y_true
    cb = np.asarray(pred_b) == y_true
    b = int(np.sum(ca & ~cb))
    c = int(np.sum(~ca & cb))
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # Exact binomial tail P(X <= k), X ~ Bin(n, 1/2), summed in log space.
    logs = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        - n * math.log(2.0)
        for i in range(k + 1)
    ]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return float(min(1.0, 2.0 * tail))


def paired_bootstrap(y_true, preds_a, preds_b, num_samples=2000, seed=0):
    """Paired bootstrap of the accuracy difference A - B over test examples.

    Predictions from several seeds are averaged per example first, so the
    interval reflects test-set sampling of the seed-averaged accuracy.

    Args:
        y_true: int array `[N]`.
        preds_a: predictions `[N]` or `[seeds, N]` of model A.
        preds_b: same for model B (same seeds, same order).
        num_samples: int. Bootstrap resamples. Defaults to 2000.
        seed: int. Defaults to 0.

    Returns:
        A dict `difference` (observed, in accuracy points of 1.0 = 100%),
        `ci_low`, `ci_high` (95%) and `p_value` (two-sided, from the
        bootstrap distribution's sign).
    """
    y_true = np.asarray(y_true)
    ca = np.atleast_2d(np.asarray(preds_a) == y_true).mean(0)
    cb = np.atleast_2d(np.asarray(preds_b) == y_true).mean(0)
    if ca.shape != cb.shape:
        raise ValueError(
            "preds_a and preds_b must cover the same examples. Received "
            f"shapes {np.shape(preds_a)} and {np.shape(preds_b)}."
        )
    diff = ca - cb
    rng = np.random.default_rng(seed)
    n = diff.shape[0]
    samples = np.empty(num_samples)
    for start in range(0, num_samples, 200):
        stop = min(num_samples, start + 200)
        idx = rng.integers(0, n, size=(stop - start, n))
        samples[start:stop] = diff[idx].mean(1)
    low, high = np.percentile(samples, [2.5, 97.5])
    p = 2.0 * min(np.mean(samples <= 0.0), np.mean(samples >= 0.0))
    return {
        "difference": float(diff.mean()),
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(min(1.0, p)),
    }


def compare(y_true, runs_a, runs_b, num_samples=2000, seed=0):
    """Compare two heads run on the same seeds and the same test examples.

    Args:
        y_true: test labels `[N]`.
        runs_a: list of per-seed result dicts of head A (from
            `fit_and_select`, with `test_predictions`), in seed order.
        runs_b: the same for head B.

    Returns:
        A dict with the per-seed differences (`per_seed`, in accuracy),
        their mean and std, the paired bootstrap (`bootstrap`), McNemar
        p-values per seed (`mcnemar_p`) and a `verdict`: `"A better"`,
        `"B better"` or `"tie"` (the bootstrap 95% interval contains 0).
    """
    if len(runs_a) != len(runs_b) or not runs_a:
        raise ValueError(
            "Both heads need results for the same, non-empty list of "
            f"seeds. Received {len(runs_a)} and {len(runs_b)} runs."
        )
    per_seed = [
        r_a["test_accuracy"] - r_b["test_accuracy"]
        for r_a, r_b in zip(runs_a, runs_b)
    ]
    pa = np.stack([r["test_predictions"] for r in runs_a])
    pb = np.stack([r["test_predictions"] for r in runs_b])
    boot = paired_bootstrap(y_true, pa, pb, num_samples=num_samples, seed=seed)
    if boot["ci_low"] > 0:
        verdict = "A better"
    elif boot["ci_high"] < 0:
        verdict = "B better"
    else:
        verdict = "tie"
    return {
        "per_seed": [float(d) for d in per_seed],
        "mean": float(np.mean(per_seed)),
        "std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0,
        "bootstrap": boot,
        "mcnemar_p": [mcnemar_test(y_true, a, b) for a, b in zip(pa, pb)],
        "verdict": verdict,
    }


def summarize(runs):
    """Mean and std over seeds of one head's per-seed result dicts."""
    acc = np.array([r["test_accuracy"] for r in runs])
    times = np.array([r["train_time_s"] for r in runs])
    return {
        "test_accuracy_mean": float(acc.mean()),
        "test_accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
        "val_accuracy_mean": float(np.mean([r["val_accuracy"] for r in runs])),
        "trainable_params": int(runs[0]["trainable_params"]),
        "train_time_s_mean": float(times.mean()),
        "learning_rates": [r["learning_rate"] for r in runs],
        "epochs": [r["epochs"] for r in runs],
        "seeds": len(runs),
    }


def format_mean_std(mean, std, seeds, scale=100.0, digits=1):
    """`"74.6 +- 0.4"` (or just `"74.6"` for a single seed)."""
    if seeds > 1:
        return f"{mean * scale:.{digits}f} +- {std * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f}"
