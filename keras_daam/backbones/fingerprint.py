"""A fingerprint of a backbone: its architecture and its weights.

Feature caches and saved heads record it, so features made by one
checkpoint are never mixed with (or read as) features of another, even when
both have the same architecture and preset name.
"""

import hashlib
import json

import numpy as np

from keras_daam.utils import to_numpy

# Above this many bytes of weights, each variable is hashed on a strided
# sample (plus its sum) rather than in full: a different checkpoint changes
# practically every value, and hashing tens of GB would cost more than the
# extraction of a small dataset.
FULL_HASH_BYTES = 2 * 2**30
_SAMPLE = 65536


def _architecture(backbone):
    # The architecture, not the instance: Keras numbers the names of
    # repeated loads (`bert_backbone_1`) and freezing flips `trainable`.
    config = {
        k: v
        for k, v in backbone.get_config().items()
        if k not in ("name", "trainable")
    }
    return json.dumps(config, sort_keys=True, default=str)


def backbone_fingerprint(backbone):
    """Hex SHA-256 of a backbone's class, config and weight values.

    Args:
        backbone: a `keras.Model` (a KerasHub backbone).

    Returns:
        str, 64 hex digits. Equal for two loads of the same preset; different
        for another architecture or other weights.

    Example:

    ```python
    fp = keras_daam.backbones.backbone_fingerprint(extractor.backbone)
    ```
    """
    digest = hashlib.sha256()
    digest.update(type(backbone).__name__.encode())
    digest.update(_architecture(backbone).encode())
    weights = sorted(backbone.weights, key=lambda w: w.path)
    total = sum(int(np.prod(w.shape)) * 4 for w in weights)
    for w in weights:
        value = np.ascontiguousarray(to_numpy(w.value))
        digest.update(f"{w.path}:{value.shape}:{value.dtype}".encode())
        if total <= FULL_HASH_BYTES or value.size <= _SAMPLE:
            digest.update(value.tobytes())
        else:
            flat = value.reshape(-1)
            step = max(1, flat.size // _SAMPLE)
            digest.update(flat[::step].tobytes())
            digest.update(np.float64(flat.astype("float64").sum()).tobytes())
    return digest.hexdigest()
