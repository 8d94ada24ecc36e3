"""Helpers for tests against the authors' `gaussian-adaptive-attention`."""

import numpy as np


def copy_from_torch(theirs, layer):
    """Copies the offsets and scales of the authors' multi-head module
    (`MultiHeadGaussianAdaptiveAttention`, PyTorch) into a built
    `DensityAdaptiveAttention(formulation="package")`."""
    heads = theirs.attention_heads
    layer.mean_offset.assign(
        np.stack([h.mean_offsets.detach().numpy() for h in heads])
    )
    layer.scale.assign(np.stack([h.c.detach().numpy() for h in heads]))
