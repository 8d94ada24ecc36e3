"""Regenerates tests/data/minilm_pooled_reference.npy.

Run once from the repository root with `KERAS_BACKEND=jax`.
"""

import sys

import keras_hub
import numpy as np

sys.path.insert(0, ".")
sys.path.insert(0, "tests/backbones")

from test_minilm import SENTENCES  # noqa: E402
from test_minilm import SEQUENCE_LENGTH  # noqa: E402

from keras_daam.backbones import LayerwiseFeatureExtractor  # noqa: E402
from keras_daam.backbones import minilm_preset_dir  # noqa: E402

path = minilm_preset_dir()
preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
    path, sequence_length=SEQUENCE_LENGTH
)
inputs = {k: np.asarray(v) for k, v in preprocessor(SENTENCES).items()}
features = np.asarray(LayerwiseFeatureExtractor(path)(inputs))
np.save("tests/data/minilm_pooled_reference.npy", features.astype("float32"))
last = features[:, -1]
last = last / np.linalg.norm(last, axis=1, keepdims=True)
print(np.round(last @ last.T, 3))
