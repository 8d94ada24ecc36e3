"""`compiled_call`: a layer call run as one compiled program on JAX.

Eager JAX compiles every primitive of a call separately, once per shape:
on the tiny, varied shapes of these tests that costs seconds per call,
where compiling the whole call once costs a fraction of it. The call
itself is the ordinary `layer(...)` (autocasting, masks, the layer's own
`call`), traced with the layer's current weights as constants. Other
backends call the layer directly.
"""

import keras
import numpy as np


def compiled_call(layer, inputs, **kwargs):
    """`layer(inputs, **kwargs)`; array keyword arguments (masks) are
    traced, the others (`return_attention_scores=`) are static."""
    if keras.backend.backend() != "jax":
        return layer(inputs, **kwargs)
    import jax

    if not layer.built:
        layer.build(np.shape(inputs))
    arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}
    static = {k: v for k, v in kwargs.items() if k not in arrays}

    def run(x, traced):
        return layer(x, **traced, **static)

    return jax.jit(run)(inputs, arrays)
