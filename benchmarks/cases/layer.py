"""Cases 1-4: the layer alone (`vs_package`, `vs_multiply`, `densities`,
`vs_mha`).

Every case takes `(adapter, quick, record)`: the worker's
`adapters.Adapter`, the `--quick` flag and `record(case, **fields)`, which
adds one row to `results.json`.
"""

import numpy as np
from adapters import torch_vjp
from timing import bench
from timing import fixed_mmap_threshold

# Cases 1-3 shapes: [batch, axis, features]; 8 heads, 5 densities, axis 1.
PACKAGE_SHAPES = ((32, 24, 1024), (16, 512, 768))
QUICK_PACKAGE_SHAPES = ((8, 24, 256), (4, 128, 192))
# Case 4: batch 1, width 768 (quick: 64), over sequence lengths.
MHA_LENGTHS = (256, 512, 1024, 2048, 4096)
QUICK_MHA_LENGTHS = (64, 256)


def _shapes(quick):
    return QUICK_PACKAGE_SHAPES if quick else PACKAGE_SHAPES


def make_layer(shape, num_densities=5, formulation="package"):
    """Our layer, built, with the weights the authors' module gets.

    Returns:
        `(layer, offsets, scales)`: offsets and scales `[8, K]`.
    """
    from keras_daam.layers import DensityAdaptiveAttention

    ours = DensityAdaptiveAttention(
        num_heads=8,
        num_densities=num_densities,
        axis=1,
        formulation=formulation,
        seed=0,
    )
    ours.build(shape)
    rng = np.random.default_rng(0)
    # Offsets 0 (the package's own initial value) and moderate scales: with
    # nonzero offsets in input units or small c, the authors' linear-space
    # product underflows on low-variance heads and their output collapses
    # to 0 there (a documented defect), so the outputs would differ by
    # design. The cost of either implementation does not depend on values.
    offsets = np.zeros((8, num_densities), "float32")
    scales = np.exp(rng.normal(0.5, 0.2, (8, num_densities))).astype("float32")
    ours.mean_offset.assign(offsets)
    ours.scale.assign(scales)
    return ours, offsets, scales


def authors_module(offsets, scales, gpu):
    """The authors' `MultiHeadGaussianAdaptiveAttention`, same weights."""
    import torch
    from gaussian_adaptive_attention import MultiHeadGaussianAdaptiveAttention

    heads, k = offsets.shape
    mod = MultiHeadGaussianAdaptiveAttention(
        norm_axis=1, num_heads=heads, num_gaussians=k
    )
    with torch.no_grad():
        for h, head in enumerate(mod.attention_heads):
            head.mean_offsets.copy_(torch.from_numpy(offsets[h]))
            head.c.copy_(torch.from_numpy(scales[h]))
    if gpu:
        mod = mod.cuda()
    return mod


def vs_package(adapter, quick, record):
    """1. The authors' package (PyTorch eager) vs ours, same weights."""
    import keras
    import torch

    torch_gpu = torch.cuda.is_available()
    for shape in _shapes(quick):
        rng = np.random.default_rng(1)
        x_np = rng.normal(size=shape).astype("float32")
        g_np = rng.normal(size=shape).astype("float32")
        ours, offsets, scales = make_layer(shape)
        theirs = authors_module(offsets, scales, torch_gpu)
        x, g = adapter.tensor(x_np), adapter.tensor(g_np)
        tx = torch.from_numpy(x_np)
        tg = torch.from_numpy(g_np)
        if torch_gpu:
            tx, tg = tx.cuda(), tg.cuda()

        def their_fwd():
            with torch.no_grad():
                return theirs(tx)

        def tsync(out):
            if torch_gpu:
                torch.cuda.synchronize()
            return out

        their_vjp = torch_vjp(torch, theirs, list(theirs.parameters()))

        fwd = adapter.forward(ours)
        fb = adapter.forward_backward(ours)
        y_ours = keras.ops.convert_to_numpy(fwd(x))
        y_theirs = their_fwd().cpu().numpy()
        parity = float(np.max(np.abs(y_ours - y_theirs)))
        scale = float(np.max(np.abs(y_theirs)))
        # Interleave ours and theirs so both see the same machine load.
        t_ours_f = bench(lambda: fwd(x), adapter.sync)
        t_theirs_f = bench(their_fwd, tsync)
        t_ours_fb = bench(lambda: fb(x, g), adapter.sync)
        t_theirs_fb = bench(lambda: their_vjp(tx, tg), tsync)
        record(
            "vs_package",
            shape=list(shape),
            max_abs_diff=parity,
            max_abs_output=scale,
            ours_forward=t_ours_f,
            theirs_forward=t_theirs_f,
            ours_forward_backward=t_ours_fb,
            theirs_forward_backward=t_theirs_fb,
            ratio_forward=t_ours_f["median_s"] / t_theirs_f["median_s"],
            ratio_forward_backward=t_ours_fb["median_s"]
            / t_theirs_fb["median_s"],
        )


def vs_multiply(adapter, quick, record):
    """2. Our forward / one elementwise multiply of the same shape."""
    mul = adapter.multiply()
    for shape in _shapes(quick):
        rng = np.random.default_rng(2)
        x = adapter.tensor(rng.normal(size=shape).astype("float32"))
        y = adapter.tensor(rng.normal(size=shape).astype("float32"))
        ours, _, _ = make_layer(shape)
        fwd = adapter.forward(ours)
        t_mul = bench(lambda: mul(x, y), adapter.sync)
        t_ours = bench(lambda: fwd(x), adapter.sync)
        record(
            "vs_multiply",
            shape=list(shape),
            ours_forward=t_ours,
            multiply=t_mul,
            ratio=t_ours["median_s"] / t_mul["median_s"],
        )


def densities(adapter, quick, record):
    """3. 16 densities / 1 density."""
    for shape in _shapes(quick):
        rng = np.random.default_rng(3)
        x = adapter.tensor(rng.normal(size=shape).astype("float32"))
        g = adapter.tensor(rng.normal(size=shape).astype("float32"))
        res = {}
        for k in (1, 16):
            layer, _, _ = make_layer(shape, num_densities=k)
            fwd = adapter.forward(layer)
            fb = adapter.forward_backward(layer)
            res[k] = (
                bench(lambda: fwd(x), adapter.sync),
                bench(lambda: fb(x, g), adapter.sync),
            )
        record(
            "densities",
            shape=list(shape),
            k1_forward=res[1][0],
            k16_forward=res[16][0],
            k1_forward_backward=res[1][1],
            k16_forward_backward=res[16][1],
            ratio_forward=res[16][0]["median_s"] / res[1][0]["median_s"],
            ratio_forward_backward=res[16][1]["median_s"]
            / res[1][1]["median_s"],
        )


def vs_mha(adapter, quick, record):
    """4. DAAM vs `keras.layers.MultiHeadAttention` over lengths."""
    import keras

    lengths = QUICK_MHA_LENGTHS if quick else MHA_LENGTHS
    width, batch = (64 if quick else 768), 1
    entries = []
    for length in lengths:
        shape = (batch, length, width)
        rng = np.random.default_rng(4)
        x = adapter.tensor(rng.normal(size=shape).astype("float32"))
        daam, _, _ = make_layer(shape)
        mha = keras.layers.MultiHeadAttention(
            num_heads=8, key_dim=width // 8, seed=0
        )
        mha.build(shape, shape)
        f_daam = adapter.forward(daam)
        f_mha = adapter.forward(mha, nargs=2)
        entry = {"length": length, "shape": list(shape)}
        entry["daam_forward"] = bench(lambda: f_daam(x), adapter.sync)
        entry["mha_forward"] = bench(
            lambda: f_mha(x, x), adapter.sync, min_repeats=3, min_time=0.0
        )
        entry["ratio_mha_over_daam"] = (
            entry["mha_forward"]["median_s"] / entry["daam_forward"]["median_s"]
        )
        entries.append((entry, x, daam, mha, f_daam, f_mha))
    # Memory after all timings, so the mmap threshold cannot slow them.
    if not adapter.gpu:
        fixed_mmap_threshold()
    for entry, x, daam, mha, f_daam, f_mha in entries:
        entry["daam_memory"] = adapter.peak_memory(f_daam, (x,))
        entry["mha_memory"] = adapter.peak_memory(f_mha, (x, x))
        if adapter.backend == "jax":
            entry["daam_xla_memory"] = adapter.xla_memory(daam, (x,))
            entry["mha_xla_memory"] = adapter.xla_memory(mha, (x, x))
        record("vs_mha", **entry)
