"""Vision: frozen EfficientNet-Lite0 on Fashion-MNIST (docs/results.md, 2).

One backbone pass caches every block and the top convolution,
average-pooled over space and zero-padded to the widest (1280):
`[N, 17, 1280]`. Layer sets are slices of that cache:

- `"uniform"`: the four 192-wide blocks 6a-6d, `[N, 4, 192]`: the only
  equal-width run, so no padded channel enters the attention statistics.
- `"pad"`: all 17 taps, zero-padded to 1280.
"""

import os

import numpy as np

from keras_daam import evaluation
from keras_daam.evaluation import DEFAULT_LEARNING_RATES
from keras_daam.evaluation import check_learning_rates
from keras_daam.experiments.common import LAYER_HEADS
from keras_daam.experiments.common import ONE_HEAD
from keras_daam.experiments.common import as_head_list
from keras_daam.experiments.common import cache_splits
from keras_daam.experiments.common import check_compare
from keras_daam.experiments.common import check_protocol
from keras_daam.experiments.common import layer_heads_report
from keras_daam.experiments.common import pooled_arrays
from keras_daam.experiments.common import quiet
from keras_daam.utils import check_choice
from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int

LAYER_SETS = ("uniform", "pad")
UNIFORM_WIDTH = 192


def layer_set_indices(layer_set, widths):
    """`(layer indices, feature width)` of a layer set over the taps."""
    check_choice("layer_set", layer_set, LAYER_SETS)
    if layer_set == "uniform":
        indices = [i for i, w in enumerate(widths) if w == UNIFORM_WIDTH]
        return indices, UNIFORM_WIDTH
    return list(range(len(widths))), max(widths)


def run_vision(
    output="results",
    num_train=3000,
    num_val=1000,
    num_test=2000,
    split_seed=0,
    seeds=3,
    max_epochs=30,
    patience=5,
    batch_size=64,
    learning_rates=DEFAULT_LEARNING_RATES,
    image_size=112,
    layer_sets=("uniform",),
    heads=None,
    compare=(),
    ablation=True,
    cache_dir="cache",
    extract_batch_size=64,
    command=None,
    log=None,
):
    """Layer heads and the IF ablation on EfficientNet-Lite0 features.

    Writes `<output>/vision_<layer set>.json` and `.md` per layer set.

    Args:
        output: str. Output folder. Defaults to `"results"`.
        num_train, num_val, num_test: int. Fashion-MNIST split sizes.
            Default to 3,000 / 1,000 / 2,000.
        split_seed: int. Seed of the draw. Defaults to 0.
        seeds: int. Training seeds per head. Defaults to 3.
        max_epochs, patience, batch_size: the protocol (30, 5, 64).
        learning_rates: the protocol's grid. Defaults to `(1e-3, 1e-4)`.
        image_size: int. Side the 28 px images are resized to. Defaults
            to 112.
        layer_sets: names from `LAYER_SETS` (or a comma-separated str).
            Defaults to `("uniform",)`.
        heads: list of layer-head names. Defaults to `LAYER_HEADS`, less
            those that cannot take the layer count (2 DAAM heads over an
            odd number of layers).
        compare: head names (or a comma-separated str), each also
            compared with every other trained head. Defaults to none.
        ablation: bool. Run the IF ablation. Defaults to `True`.
        cache_dir: str. Feature cache root. Defaults to `"cache"`.
        extract_batch_size: int. Backbone batch size. Defaults to 64.
        command: str, optional. The command line, recorded in the report.
        log: optional callable for progress lines.

    Returns:
        `{layer set: report dict}`.
    """
    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.backbones import resolve_preset
    from keras_daam.datasets import load_fashion_mnist
    from keras_daam.features.preprocessing import make_preprocessor
    from keras_daam.heads import get_head_spec

    log = log or quiet
    for name, value in (
        ("num_train", num_train),
        ("num_val", num_val),
        ("num_test", num_test),
        ("image_size", image_size),
        ("extract_batch_size", extract_batch_size),
    ):
        check_positive_int(name, value)
    split_seed = check_int("split_seed", split_seed, minimum=0)
    seeds, max_epochs, patience, batch_size = check_protocol(
        seeds, max_epochs, patience, batch_size
    )
    learning_rates = check_learning_rates(learning_rates)
    if isinstance(layer_sets, str):
        layer_sets = [s.strip() for s in layer_sets.split(",") if s.strip()]
    for layer_set in layer_sets:
        check_choice("layer_sets", layer_set, LAYER_SETS)
    explicit = heads is not None
    heads = as_head_list(heads, LAYER_HEADS)
    compare = check_compare(compare, heads)
    for name in heads:
        get_head_spec(name)  # an unknown name fails before extraction
    splits, class_names = load_fashion_mnist(
        num_train, num_val, num_test, seed=split_seed
    )
    location = resolve_preset("efficientnet_lite0").location
    extractor = LayerwiseFeatureExtractor(
        location, layers="all", mixed_widths="pad"
    )
    preprocessor = make_preprocessor(extractor, location, image_size=image_size)
    key = (
        f"vision_effnet_all_px{image_size}_s{split_seed}_{num_train}_"
        f"{num_val}_{num_test}"
    )
    caches, extract_s = cache_splits(
        extractor,
        preprocessor,
        dict(zip(("train", "val", "test"), splits)),
        os.path.join(cache_dir, key),
        extract_batch_size,
        log=log,
    )
    parts = [pooled_arrays(caches[s]) for s in ("train", "val", "test")]
    widths = list(extractor.layer_widths)
    for i, width in enumerate(widths):
        if np.any(parts[0][0][:, i, width:]):
            raise ValueError(
                f"Tap {i} ({extractor.layer_names[i]}) is {width} wide but "
                "its padded channels are not zero: the cache does not hold "
                "what this experiment expects."
            )
    reports = {}
    for layer_set in layer_sets:
        idx, width = layer_set_indices(layer_set, widths)
        sub = [(x[:, idx, :width], y) for x, y in parts]
        task = f"vision_{layer_set}"
        report, _, blocks = layer_heads_report(
            task,
            sub,
            len(class_names),
            heads,
            explicit,
            seeds,
            max_epochs,
            patience,
            batch_size,
            ablation,
            log,
            also_compare=(ONE_HEAD, *compare),
            learning_rates=learning_rates,
            extra={
                "command": command,
                "layer_set": layer_set,
                "blocks": idx,
                "block_names": [extractor.layer_names[i] for i in idx],
                "image_size": image_size,
                "extract_time_s": extract_s,
            },
        )
        header = f"`{command}` on {report['machine']}" if command else ""
        evaluation.write_report(output, report, task, [header, *blocks], task)
        report["text"] = "\n\n".join(b for b in [header, *blocks] if b)
        reports[layer_set] = report
    return reports
