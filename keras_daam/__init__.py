"""keras_daam: Multi-Head Density Adaptive Attention for Keras 3.

Data flows one way, and so do the imports:

- `keras_daam.layers`: DAAM, DensityBlock, GQA-DAAM (pure `keras.ops`).
- `keras_daam.heads`: the paper's decoder, baseline heads, `build_head`.
- `keras_daam.backbones`: layer-wise hidden states of frozen KerasHub
  backbones; converters for packaged pretrained weights.
- `keras_daam.features`: extraction over datasets and the on-disk cache.
- `keras_daam.models`: `DensityAdaptiveClassifier`, backbone + head.
- `keras_daam.explain`: Importance Factor maps, plots, layer selection.
- `keras_daam.datasets`: loaders for the packaged real data.
- `keras_daam.evaluation`, `keras_daam.cli`: the protocol and the command.

`layers`, `heads` and `explain` need only Keras and NumPy and are imported
with the package; the others (KerasHub, plotting, data) load on first use.
"""

import importlib

from keras_daam import explain
from keras_daam import heads
from keras_daam import layers
from keras_daam.version import __version__

_LAZY = ("backbones", "features", "models", "datasets", "evaluation", "cli")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"keras_daam.{name}")
    raise AttributeError(f"module 'keras_daam' has no attribute {name!r}")


__all__ = ["layers", "heads", "explain", "__version__", *_LAZY]
