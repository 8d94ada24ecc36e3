"""Regenerates tests/data/minilm_pooled_reference.npy (run from the repo
root with KERAS_BACKEND=jax)."""

import sys
import time

sys.path.insert(0, ".")
import keras_hub
import numpy as np

from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.backbones import minilm_preset_dir

sys.path.insert(0, "tests/backbones")
from test_minilm import SENTENCES
from test_minilm import SEQUENCE_LENGTH

p = minilm_preset_dir()
t = time.time()
pre = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
    p, sequence_length=SEQUENCE_LENGTH
)
ex = LayerwiseFeatureExtractor(p)
x = {k: np.asarray(v) for k, v in pre(SENTENCES).items()}
f = np.asarray(ex(x))
print(ex.layer_names, f.shape, time.time() - t)
np.save("tests/data/minilm_pooled_reference.npy", f.astype("float32"))
last = f[:, -1]
last = last / np.linalg.norm(last, axis=1, keepdims=True)
print(np.round(last @ last.T, 3))
