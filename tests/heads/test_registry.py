"""Every registered head name: what the CLI trains is `build_head(NAME)`.

The CLI's `train` (and the demo and the experiments) train through
`keras_daam.evaluation.train_heads`; for every name `head_names()` lists,
the model it trains must have the config and the trainable-parameter
count of `build_head(NAME, num_layers=..., feature_dim=..., num_classes=...)`.
"""

import numpy as np
import pytest

from keras_daam import evaluation
from keras_daam.heads import build_head
from keras_daam.heads import get_head_spec
from keras_daam.heads import head_names
from keras_daam.heads import trainable_parameter_count

# 8 layers: every listed layout fits (DAAMv1's 8 heads, 2-head families).
L, T, D, C = 8, 6, 16, 3
TOKEN = [n for n in head_names() if get_head_spec(n).use_mask]
LAYER = [n for n in head_names() if n not in TOKEN]


def _data(n, seed, tokens):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T if tokens else L, D)).astype("float32")
    y = rng.integers(0, C, size=n)
    if not tokens:
        return x, y
    mask = np.arange(T)[None, :] < rng.integers(2, T + 1, size=n)[:, None]
    return {"features": x, "padding_mask": mask}, y


def test_every_name_is_a_layer_or_a_token_head():
    assert TOKEN and LAYER
    assert sorted(TOKEN + LAYER) == sorted(head_names())
    assert all(n.startswith("tokens_") for n in TOKEN)


# A name's config and parameter count do not depend on the backend (the
# registry is Python; every backend trains the heads in test_build_head and
# tests/evaluation), so once: on PyTorch in the matrix, where 23 heads
# train in 5 s, not 50-70 s of compiling each one's steps.
@pytest.mark.backend_independent
@pytest.mark.large
@pytest.mark.parametrize("tokens", [False, True], ids=["layers", "tokens"])
def test_what_train_heads_trains_is_build_head(tokens):
    names = TOKEN if tokens else LAYER
    splits = [_data(n, s, tokens) for s, n in enumerate((12, 6, 6))]
    results = evaluation.train_heads(
        names,
        *splits,
        num_classes=C,
        max_epochs=1,
        learning_rates=(1e-3,),
        batch_size=6,
        keep_models=True,
    )
    assert list(results) == names
    steps = T if tokens else L
    for name in names:
        (run,) = results[name]
        ref = build_head(
            name,
            num_layers=steps,
            feature_dim=D,
            num_classes=C,
            compile=False,
            seed=0,
        )
        assert run["model"].get_config() == ref.get_config(), name
        assert run["trainable_params"] == trainable_parameter_count(ref), name
        assert run["trainable_params"] > 0, name
