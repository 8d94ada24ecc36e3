"""Counts the buffers eager PyTorch allocates in a `DensityAdaptiveAttention`
call: run as `KERAS_BACKEND=torch python -m tests.layers.torch_kernel_count`.

In eager mode each full-size op is one kernel and one fresh buffer, so the
number of fresh full-size (and statistics-size) outputs measures the cost
of the layer's maths independently of the machine's load. Prints a JSON
object: for each number of densities, the counts in a forward pass without
gradients (`fwd`, `fwd_stats`) and in a forward + backward pass with
respect to the input and the weights (`fwd_bwd`, `fwd_bwd_stats`).
"""

import json

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from keras_daam.layers import DensityAdaptiveAttention

SHAPE = (4, 24, 64)  # 8 heads of 3 layers: statistics are 1/3 of the input


class _FreshOutputs(TorchDispatchMode):
    """Counts op outputs of the given sizes that are not views of inputs."""

    def __init__(self, sizes):
        super().__init__()
        self.counts = dict.fromkeys(sizes, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {
            t.untyped_storage().data_ptr()
            for t in tree_leaves((args, kwargs))
            if isinstance(t, torch.Tensor)
        }
        for t in tree_leaves(out):
            if (
                isinstance(t, torch.Tensor)
                and t.numel() in self.counts
                and t.untyped_storage().data_ptr() not in inputs
            ):
                self.counts[t.numel()] += 1
        return out


def count(num_densities, formulation="package"):
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=SHAPE).astype("float32"))
    g = torch.from_numpy(rng.normal(size=SHAPE).astype("float32"))
    layer = DensityAdaptiveAttention(
        num_heads=8,
        num_densities=num_densities,
        axis=1,
        formulation=formulation,
    )
    layer.build(SHAPE)
    full, stats = x.numel(), x.numel() // 3
    with torch.no_grad(), _FreshOutputs((full, stats)) as fwd:
        layer(x)
    x = x.clone().requires_grad_(True)
    weights = [w.value for w in layer.trainable_weights]
    with _FreshOutputs((full, stats)) as both:
        torch.autograd.grad(layer(x), [x] + weights, g)
    return {
        "fwd": fwd.counts[full],
        "fwd_stats": fwd.counts[stats],
        "fwd_bwd": both.counts[full],
        "fwd_bwd_stats": both.counts[stats],
    }


if __name__ == "__main__":
    print(json.dumps({k: count(k) for k in (1, 5, 16)}))
