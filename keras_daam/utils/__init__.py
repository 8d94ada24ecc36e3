"""Small helpers shared across the package (Keras and NumPy only).

The lowest folder: it imports nothing else from `keras_daam`, so every
other folder (`layers/` included) may use it.

- `validation`: argument checks with messages that name the argument, the
  value and the allowed range.
- `arrays`: to-NumPy conversion of (nested) tensors, batch ranges.
- `initializers`: cloning an initializer for each sublayer.
"""

from keras_daam.utils.arrays import batch_ranges
from keras_daam.utils.arrays import to_numpy
from keras_daam.utils.initializers import clone_initializer
from keras_daam.utils.validation import check_choice
from keras_daam.utils.validation import check_float
from keras_daam.utils.validation import check_int
from keras_daam.utils.validation import check_positive_int

__all__ = [
    "batch_ranges",
    "check_choice",
    "check_float",
    "check_int",
    "check_positive_int",
    "clone_initializer",
    "to_numpy",
]
