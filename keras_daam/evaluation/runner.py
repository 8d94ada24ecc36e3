"""Train named heads over seeds with the protocol.

One `(head, seed)` job is one `fit_and_select`. Jobs run one after another,
or in `workers` processes at once: a small head's training keeps about one
CPU core busy, so on a multi-core machine several heads train side by side.
Every job seeds itself, so the results are the same either way.
"""

import os
import tempfile

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
    workers=1,
    steps_per_execution=1,
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
        workers: int >= 1 or `"auto"`. Processes training jobs at once
            (`"auto"`: `default_workers()`). The results are the same as
            with 1; `on_head_done` is called in this process. Defaults
            to 1.
        steps_per_execution: int >= 1 or `"auto"`. Training steps per
            compiled call (see `keras_daam.heads.compile_head`; fewer Python
            round trips, the same updates). `"auto"`: 32, or 1 on PyTorch,
            whose Keras trainer takes only 1. Defaults to 1.

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
    workers = default_workers() if workers == "auto" else workers
    workers = check_positive_int("workers", workers)
    protocol = dict(
        learning_rates=learning_rates,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
        steps_per_execution=check_positive_int(
            "steps_per_execution",
            _auto_steps()
            if steps_per_execution == "auto"
            else steps_per_execution,
        ),
    )
    shape = (num_layers, feature_dim, num_classes)
    jobs = [(spec.name, seed) for spec in specs for seed in range(seeds)]
    if workers > 1 and len(jobs) > 1:
        finished = _run_in_processes(
            jobs, (train, val, test), shape, protocol, min(workers, len(jobs))
        )
    else:
        finished = (
            (job, _fit_job(job, (train, val, test), shape, protocol))
            for job in jobs
        )
    runs = {spec.name: {} for spec in specs}
    results = {}
    for (name, seed), run in finished:
        log(
            f"  {name} seed {seed}: test "
            f"{100 * run['test_accuracy']:.1f}  (val "
            f"{100 * run['val_accuracy']:.1f}, lr "
            f"{run['learning_rate']:g}, {run['epochs']} ep, "
            f"{run['search_time_s']:.0f} s)"
        )
        runs[name][seed] = run
        if len(runs[name]) < seeds:
            continue
        done = [runs[name][s] for s in range(seeds)]
        model = done[0].get("model")
        if not keep_models:
            done[0].pop("model", None)
        for run in done[1:]:
            run.pop("model", None)
        results[name] = done
        if on_head_done is not None:
            on_head_done(name, done, model)
    return {spec.name: results[spec.name] for spec in specs}


def default_workers():
    """Processes for `train_heads(workers="auto")`.

    `$KERAS_DAAM_WORKERS` when set; else one per CPU core (at most 4), or
    1 when the backend sees an accelerator (the jobs would share it).
    """
    import keras

    if os.environ.get("KERAS_DAAM_WORKERS"):
        return check_positive_int(
            "KERAS_DAAM_WORKERS", int(os.environ["KERAS_DAAM_WORKERS"])
        )

    backend = keras.backend.backend()
    accelerated = False
    if backend == "jax":
        import jax

        accelerated = jax.devices()[0].platform != "cpu"
    elif backend == "tensorflow":
        import tensorflow as tf

        accelerated = bool(tf.config.list_physical_devices("GPU"))
    elif backend == "torch":
        import torch

        accelerated = torch.cuda.is_available()
    return 1 if accelerated else max(1, min(4, os.cpu_count() or 1))


def _auto_steps():
    import keras

    return 1 if keras.backend.backend() == "torch" else 32


def _fit_job(job, splits, shape, protocol):
    """One `(head, seed)` job: `fit_and_select` of a freshly built head."""
    name, seed = job
    num_layers, feature_dim, num_classes = shape
    spec = get_head_spec(name)
    return fit_and_select(
        lambda seed: spec.build(
            num_layers, feature_dim, num_classes, compile=False, seed=seed
        ),
        *splits,
        seed=seed,
        **protocol,
    )


# -- several processes ------------------------------------------------------
_SPLITS = {}


def _save_splits(splits, folder):
    """The splits as `.npy` files (workers memory-map them)."""
    paths = []
    for i, (x, y) in enumerate(splits):
        parts = x if isinstance(x, dict) else {"": x}
        entry = {}
        for key, value in parts.items():
            path = os.path.join(folder, f"{i}_{key}.npy")
            np.save(path, np.asarray(value))
            entry[key] = path
        y_path = os.path.join(folder, f"{i}_y.npy")
        np.save(y_path, np.asarray(y))
        paths.append((entry, y_path))
    return paths


def _worker_init(paths):
    # The workers' own start-up chatter (TensorFlow/absl lines, printed when
    # Keras's data adapters import TensorFlow) stays off the terminal unless
    # the caller asked for it (`keras-daam --verbose` sets the variable).
    if not os.environ.get("KERAS_DAAM_VERBOSE"):
        from keras_daam.utils.quiet import import_quietly

        import_quietly()
    # Workers share the cores: each keeps to one thread, so two of them
    # do not oversubscribe a 2-core machine.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    flags = os.environ.get("XLA_FLAGS", "")
    if "multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = (
            flags + " --xla_cpu_multi_thread_eigen=false"
        ).strip()
    splits = []
    for entry, y_path in paths:
        x = {k: np.load(p, mmap_mode="r") for k, p in entry.items()}
        splits.append((x[""] if "" in x else x, np.load(y_path)))
    _SPLITS["splits"] = tuple(splits)


def _worker_job(job, shape, protocol):
    import keras

    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)
    run = _fit_job(job, _SPLITS["splits"], shape, protocol)
    model = run.pop("model")
    if job[1] == 0:
        run["weights"] = model.get_weights()
    return run


def _run_in_processes(jobs, splits, shape, protocol, workers):
    """Yields `(job, run)` as the jobs finish, in `workers` processes.

    Seed 0's selected model comes back as weights and is rebuilt here.
    """
    import concurrent.futures
    import multiprocessing

    from keras_daam.heads import compile_head

    num_layers, feature_dim, num_classes = shape
    with tempfile.TemporaryDirectory(prefix="keras_daam_jobs_") as folder:
        paths = _save_splits(splits, folder)
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_worker_init,
            initargs=(paths,),
        ) as pool:
            futures = {
                pool.submit(_worker_job, job, shape, protocol): job
                for job in jobs
            }
            try:
                for future in concurrent.futures.as_completed(futures):
                    job = futures[future]
                    run = future.result()
                    weights = run.pop("weights", None)
                    if weights is not None:
                        model = get_head_spec(job[0]).build(
                            num_layers,
                            feature_dim,
                            num_classes,
                            compile=False,
                            seed=job[1],
                        )
                        model.set_weights(weights)
                        run["model"] = compile_head(
                            model, learning_rate=run["learning_rate"]
                        )
                    yield job, run
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
