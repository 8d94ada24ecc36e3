"""The training protocol: select on validation, touch test once.

- The learning rate (a small grid) and the number of epochs (early
  stopping with the best weights restored) are chosen on a validation
  split carved from the training data.
- The test split is evaluated once, by the selected model. Nothing is
  ever selected on test.
"""

import time

import keras
import numpy as np

from keras_daam.heads import compile_head
from keras_daam.heads import trainable_parameter_count
from keras_daam.utils import check_float
from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int

DEFAULT_LEARNING_RATES = (1e-3, 1e-4)


def accuracy(y_true, y_pred):
    """The fraction of predictions equal to the labels.

    The one accuracy helper of the package: the protocol, the reports and
    the layer-selection ablation all use it.

    Args:
        y_true: array-like of integer labels `[N]`.
        y_pred: array-like of predicted classes `[N]`.

    Returns:
        A float in [0, 1].

    Example:

    >>> from keras_daam import evaluation
    >>> evaluation.accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape. Received: "
            f"{y_true.shape} and {y_pred.shape}"
        )
    if y_true.size == 0:
        raise ValueError("Accuracy of an empty set is undefined.")
    return float(np.mean(y_true == y_pred))


def predict_classes(model, x, batch_size=256):
    """Arg-max class predictions of a logits model.

    Args:
        model: a `keras.Model` whose outputs are logits `[N, classes]`.
        x: its inputs (an array or a dict of arrays).
        batch_size: int. Defaults to 256.

    Returns:
        An int64 array `[N]`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_daam import evaluation
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> evaluation.predict_classes(model, np.zeros((5, 4))).shape
    (5,)
    """
    batch_size = check_positive_int("batch_size", batch_size)
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(logits).argmax(-1).astype("int64")


def check_learning_rates(learning_rates):
    """The learning-rate grid as a tuple of floats > 0, or a ValueError."""
    if isinstance(learning_rates, (int, float)):
        learning_rates = (learning_rates,)
    learning_rates = tuple(learning_rates)
    if not learning_rates:
        raise ValueError(
            "`learning_rates` must not be empty. Received: learning_rates=()"
        )
    return tuple(
        check_float("learning_rates", lr, minimum=0.0, include_minimum=False)
        for lr in learning_rates
    )


def _num_examples(x):
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x)


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
    steps_per_execution=1,
    verbose=0,
):
    """Train one head per learning rate, select on validation, test once.

    For each learning rate of the grid, a fresh model is built, compiled
    with `keras_daam.heads.compile_head` (AdamW, cross-entropy, accuracy)
    and trained with early stopping on validation accuracy (best weights
    restored). The rate whose restored model has the best validation
    accuracy wins (the first on a tie); only that model sees `test`.

    Args:
        build_fn: callable `build_fn(seed=...) -> keras.Model` returning an
            uncompiled model that maps features to logits.
        train: tuple `(x, y)`; `x` an array or a dict of arrays.
        val: tuple `(x, y)` carved from the training data. Early stopping
            (patience `patience`, best weights restored) and the
            learning-rate choice both use its accuracy.
        test: optional tuple `(x, y)`; evaluated only with the selected
            model.
        learning_rates: the grid, floats > 0. Defaults to `(1e-3, 1e-4)`.
        max_epochs: int >= 1. Upper bound on epochs. Defaults to 30.
        patience: int >= 0. Early-stopping patience in epochs. Defaults
            to 5.
        batch_size: int >= 1. Defaults to 64.
        seed: int. Seeds weights and shuffling (`keras.utils.
            set_random_seed`, and `build_fn(seed=seed)`). Defaults to 0.
        weight_decay: float >= 0. AdamW weight decay. Defaults to 0.01.
        steps_per_execution: int >= 1. Passed to `compile_head`. Defaults
            to 1.
        verbose: int. Passed to `fit`. Defaults to 0.

    Returns:
        A dict: `learning_rate`, `epochs` (best epoch, 1-based),
        `val_accuracy`, `test_accuracy` and `test_predictions` (if `test`),
        `trainable_params`, `train_time_s` (the selected run's fit time),
        `search_time_s` (the whole grid), `grid` (per rate: val accuracy and
        best epoch), `history` (the selected run's Keras history) and
        `model` (the selected, restored model).

    Example:

    >>> import numpy as np
    >>> from keras_daam import evaluation
    >>> from keras_daam.heads import build_head
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(64, 6, 8)), np.arange(64) % 2
    >>> run = evaluation.fit_and_select(
    ...     lambda seed: build_head(
    ...         "daam_h2_flatten", num_layers=6, feature_dim=8,
    ...         num_classes=2, compile=False, seed=seed,
    ...     ),
    ...     (x, y), (x, y), max_epochs=2, learning_rates=(1e-3,),
    ... )
    >>> sorted(run["grid"][0])
    ['epochs', 'learning_rate', 'val_accuracy']
    """
    learning_rates = check_learning_rates(learning_rates)
    max_epochs = check_positive_int("max_epochs", max_epochs)
    patience = check_int("patience", patience, minimum=0)
    batch_size = check_positive_int("batch_size", batch_size)
    seed = check_int("seed", seed)
    weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
    if not callable(build_fn):
        raise ValueError(
            "`build_fn` must be a callable `build_fn(seed=...)` returning a "
            f"model. Received: build_fn={build_fn!r}"
        )
    x_train, y_train = train
    x_val, y_val = val
    if len(y_val) == 0:
        raise ValueError(
            "The validation split is empty: the protocol selects the "
            "learning rate and the epoch count on it. Give it some examples."
        )
    if len(y_train) == 0:
        raise ValueError("The training split is empty.")
    for name, (x, y) in (("train", train), ("val", val)):
        if _num_examples(x) != len(y):
            raise ValueError(
                f"`{name}` has {_num_examples(x)} inputs but {len(y)} labels."
            )
    best = None
    grid = []
    start = time.perf_counter()
    for lr in learning_rates:
        keras.utils.set_random_seed(seed)
        model = compile_head(
            build_fn(seed=seed),
            learning_rate=lr,
            weight_decay=weight_decay,
            steps_per_execution=steps_per_execution,
        )
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
        val_acc = accuracy(y_val, predict_classes(model, x_val, batch_size))
        grid.append(
            {"learning_rate": lr, "val_accuracy": val_acc, "epochs": best_epoch}
        )
        if best is None or val_acc > best["val_accuracy"]:
            best = {
                "learning_rate": lr,
                "epochs": best_epoch,
                "val_accuracy": val_acc,
                "train_time_s": fit_time,
                "history": dict(history.history),
                "model": model,
            }
    best["search_time_s"] = time.perf_counter() - start
    best["grid"] = grid
    best["trainable_params"] = trainable_parameter_count(best["model"])
    if test is not None:
        x_test, y_test = test
        pred = predict_classes(best["model"], x_test, batch_size)
        best["test_predictions"] = pred
        best["test_accuracy"] = accuracy(y_test, pred)
    return best
