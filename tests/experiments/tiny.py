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

# The experiment runners (`run_text`, `run_demo`, `if_ablation`) only
# orchestrate the public API: extraction, `train_heads`, selection on
# validation, paired tests, reports. What that API computes on each backend
# is tested on every backend in tests/features, tests/heads,
# tests/evaluation and tests/explain; the runners' end-to-end tests check
# the orchestration, so they run once (in PyTorch's process, which compiles
# nothing: 3-7 s there against 20-63 s under TensorFlow or JAX).
ORCHESTRATION = pytest.mark.backend_independent
