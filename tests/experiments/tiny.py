"""A tiny random (not pretrained) BERT standing in for MiniLM.

It has MiniLM's 6 layers but 8 features and a 13-word vocabulary, so the
text experiments run end to end in seconds. Never report accuracy from it.
"""

import os

import pytest

WORDS = ["red", "green", "blue", "cat", "dog", "fish", "sun", "moon"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
TINY_LAYERS, TINY_DIM = 6, 8
WORDNET = "/usr/share/wordnet/data.noun"

needs_wordnet = pytest.mark.skipif(
    not os.path.exists(WORDNET), reason="needs Debian's wordnet-base"
)
