"""Loaders for the labelled data that ships in Debian/PyPI packages.

- `load_wordnet_supersense`: WordNet noun glosses, 26 supersense labels.
- `load_fashion_mnist`, `load_digits_8x8`: small image sets.
- `synthesize_spoken_digits`, `load_spoken_digits`: *synthetic* spoken
  digits (espeak-ng / flite), split by voice. The paper's IEMOCAP speech
  emotion task cannot be reproduced offline.
"""

from keras_daam.datasets.fashion_mnist import load_digits_8x8
from keras_daam.datasets.fashion_mnist import load_fashion_mnist
from keras_daam.datasets.spoken_digits import default_voices
from keras_daam.datasets.spoken_digits import load_spoken_digits
from keras_daam.datasets.spoken_digits import synthesize_spoken_digits
from keras_daam.datasets.wordnet import SUPERSENSES
from keras_daam.datasets.wordnet import load_wordnet_supersense

__all__ = [
    "SUPERSENSES",
    "default_voices",
    "load_digits_8x8",
    "load_fashion_mnist",
    "load_spoken_digits",
    "load_wordnet_supersense",
    "synthesize_spoken_digits",
]
