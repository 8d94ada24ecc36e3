"""Initializer cloning for sublayers."""

import keras


def clone_initializer(initializer):
    """A fresh copy of `initializer` (from its config).

    An unseeded Keras initializer fixes its seed when created, so sharing
    one instance between sublayers would give them identical values (e.g.
    equal query, key and value kernels); a clone from the config draws a
    fresh seed, while a seeded one keeps its seed.
    """
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())
