"""keras_daam: Multi-Head Density Adaptive Attention for Keras 3.

Data flows one way, and so do the imports (lower never import upper):

- `keras_daam.utils`: argument checks, array helpers (the lowest folder).
- `keras_daam.layers`: DAAM, DensityBlock, GQA-DAAM (pure `keras.ops`).
- `keras_daam.heads`: the head registry, the paper's decoder, baseline
  heads, `build_head`.
- `keras_daam.data`: readers for a user's CSV, image and audio files,
  labels, splits.
- `keras_daam.backbones`: layer-wise hidden states of frozen KerasHub
  backbones; preset short names; converters for packaged weights.
- `keras_daam.features`: preprocessing, extraction, the on-disk cache.
- `keras_daam.models`: `DensityAdaptiveClassifier`, backbone + head.
- `keras_daam.evaluation`: the validation-selected protocol, statistics,
  reports.
- `keras_daam.explain`: Importance Factor maps, plots, layer selection.
- `keras_daam.datasets`: loaders for the packaged real data.
- `keras_daam.experiments`: the demo and the reproduced experiments.
- `keras_daam.pipeline`: extract / train / predict / explain on a user's
  files (what the CLI runs); `keras_daam.cli`: the `keras-daam` command.

`layers`, `heads` and `explain` need only Keras and NumPy and are imported
with the package (so their classes are registered for `.keras` loading);
the others load on first use.
"""

import importlib

from keras_daam import explain as explain
from keras_daam import heads as heads
from keras_daam import layers as layers
from keras_daam.version import __version__

_SUBPACKAGES = (
    "utils",
    "layers",
    "heads",
    "data",
    "backbones",
    "features",
    "models",
    "evaluation",
    "explain",
    "datasets",
    "experiments",
    "pipeline",
    "cli",
)


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_daam.{name}")
    raise AttributeError(f"module 'keras_daam' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBPACKAGES))


__all__ = ["__version__", *_SUBPACKAGES]
