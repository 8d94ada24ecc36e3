"""Collection of Density Attention maps: streaming, masking, sources."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_daam import explain
from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import DensityBlock
from keras_daam.layers import GroupedQueryDensityAttention
from tests.explain.reference import paper_gate
from tests.explain.reference import weights_of

B, L, D = 10, 6, 8


def _data(seed=0, n=B):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, L, D)).astype("float32")


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _layer(**kwargs):
    kwargs.setdefault("num_heads", 2)
    layer = DensityAdaptiveAttention(**kwargs)
    layer.build((None, L, D))
    # Move the parameters away from their initial values.
    rng = np.random.default_rng(3)
    layer.mean_offset.assign(
        rng.normal(scale=0.3, size=layer.mean_offset.shape)
    )
    return layer


def _reference(layer, x, mask=None):
    """Per-sample maps from the numpy reference (no backend call: fast)."""
    delta, xi = weights_of(layer)
    return paper_gate(x, layer.num_heads, delta, xi, mask=mask)


def test_reference_matches_layer():
    layer = _layer()
    x = _data()
    mask = np.ones((B, L), dtype=bool)
    mask[:3, 1] = False
    _, maps = layer(x, padding_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(
        _np(maps), _reference(layer, x, mask), rtol=1e-4, atol=1e-6
    )


def test_streaming_mean_equals_full_batch_mean():
    layer = _layer()
    x = _data()
    expected = _reference(layer, x).mean(axis=0)
    out = explain.collect_density_maps(layer, x, batch_size=3)
    assert out.shape == (L, D)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


def test_padded_layers_excluded_from_mean():
    layer = _layer()
    x = _data()
    mask = np.ones((B, L), dtype=bool)
    mask[:5, 4:] = False  # last two layers padded in half of the samples
    mask[:, 5] = False  # layer 5 padded everywhere
    mask[7, 5] = True  # ... except in sample 7
    maps = _reference(layer, x, mask)
    # The layer zeroes padded gates; a naive mean would include them.
    assert np.all(maps[:5, 4] == 0)
    out = explain.collect_density_maps(
        layer, x, batch_size=4, padding_mask=mask
    )
    np.testing.assert_allclose(
        out[:4], maps[:, :4].mean(axis=0), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        out[4], maps[5:, 4].mean(axis=0), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(out[5], maps[7, 5], rtol=1e-4, atol=1e-6)
    assert np.all(out[4] > maps[:, 4].mean(axis=0))  # not the naive mean


def test_never_real_element_is_nan():
    layer = _layer()
    x = _data()
    mask = np.ones((B, L), dtype=bool)
    mask[:, 0] = False
    out = explain.collect_density_maps(layer, x, padding_mask=mask)
    assert np.all(np.isnan(out[0]))
    assert np.all(np.isfinite(out[1:]))
    if_map = explain.importance_factor(out)
    assert np.nanmax(if_map) == 1.0
    assert explain.layer_contribution(if_map)[0] == 0.0


def test_data_forms_agree():
    layer = _layer()
    x = _data()
    mask = np.ones((B, L), dtype=bool)
    mask[::2, 0] = False
    y = np.arange(B) % 3
    expected = explain.collect_density_maps(layer, x, padding_mask=mask)

    as_dict = explain.collect_density_maps(
        layer, {"features": x, "padding_mask": mask}, batch_size=4
    )
    batches = [
        (
            {"features": x[i : i + 4], "padding_mask": mask[i : i + 4]},
            y[i : i + 4],
        )
        for i in range(0, B, 4)
    ]
    as_batches = explain.collect_density_maps(layer, batches)
    as_generator = explain.collect_density_maps(layer, (b for b in batches))

    class Cache:
        features = x
        padding_mask = mask
        labels = y

    as_cache = explain.collect_density_maps(layer, Cache(), batch_size=3)
    for out in (as_dict, as_batches, as_generator, as_cache):
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


def test_memmap_data(tmp_path):
    layer = _layer()
    x = _data(n=20)
    mm = np.lib.format.open_memmap(
        tmp_path / "f.npy", mode="w+", dtype="float32", shape=x.shape
    )
    mm[:] = x
    out = explain.collect_density_maps(layer, mm, batch_size=7)
    np.testing.assert_allclose(
        out, _reference(layer, x).mean(0), rtol=1e-4, atol=1e-6
    )


def test_pooled_axes_and_token_mask():
    layer = DensityAdaptiveAttention(num_heads=1, axis=1)
    x = np.random.default_rng(0).normal(size=(4, 3, 5, 2)).astype("float32")
    tokens = np.ones((4, 5), dtype=bool)
    tokens[0, 3:] = False

    class Cache:
        features = x
        padding_mask = tokens

    out = explain.collect_density_maps(layer, Cache(), pooled_axes=(2,))
    assert out.shape == (3, 2)
    full = tokens[:, None, :, None]
    layer(x[:1])  # build
    delta, xi = weights_of(layer)
    # A padded token masks every layer at that token: its gate is 0.
    maps = paper_gate(x, 1, delta, xi) * full
    w = np.broadcast_to(full, maps.shape)
    expected = (maps * w).sum(axis=(0, 2)) / w.sum(axis=(0, 2))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="batch axis"):
        explain.collect_density_maps(layer, x, pooled_axes=(0,))


def test_class_maps():
    layer = _layer()
    x = _data(n=12)
    y = np.array([0, 1, 2] * 4)
    maps = _reference(layer, x)
    out = explain.collect_class_maps(layer, x, labels=y, batch_size=5)
    assert sorted(out) == [0, 1, 2]
    for c in range(3):
        np.testing.assert_allclose(
            out[c], maps[y == c].mean(0), rtol=1e-4, atol=1e-6
        )
    one_hot = np.eye(3)[y]
    batches = [(x[:6], one_hot[:6]), (x[6:], one_hot[6:])]
    out2 = explain.collect_class_maps(layer, batches)
    np.testing.assert_allclose(out2[1], out[1], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="labels"):
        explain.collect_class_maps(layer, x)


def test_density_block_maps():
    block = DensityBlock(
        num_layers=2,
        axes=[1, 2],
        num_heads=[2, 2],
        formulation="paper",
        feature_axis=None,
    )
    block.build((None, L, D))
    rng = np.random.default_rng(5)
    for sub in block.attention_layers:
        sub.mean_offset.assign(rng.normal(size=sub.mean_offset.shape))
    x = _data()
    (d0, xi0), (d1, xi1) = [weights_of(s) for s in block.attention_layers]
    g0 = paper_gate(x, 2, d0, xi0, axis=1)
    x1 = x * g0 + x
    g1 = paper_gate(x1, 2, d1, xi1, axis=2)
    out = explain.collect_density_maps(block, x, batch_size=4)
    assert out.shape == (2, L, D)
    np.testing.assert_allclose(out[0], g0.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out[1], g1.mean(0), rtol=1e-4, atol=1e-6)


def test_grouped_query_density_attention():
    gq = GroupedQueryDensityAttention(
        hidden_dim=8,
        num_query_heads=2,
        num_key_value_heads=1,
        density_heads=2,
    )
    x = _data()
    # Unbuilt: `.density_attention` only exists once the layer is built.
    assert not gq.built
    out = explain.collect_density_maps(gq, x, batch_size=5)
    assert gq.built
    assert out.shape == (L, D)
    expected = _reference(gq.density_attention, x).mean(0)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)
    again = explain.collect_density_maps(gq, x[:4])  # built now
    np.testing.assert_allclose(
        again, _reference(gq.density_attention, x[:4]).mean(0), rtol=1e-4
    )


def _functional_head(use_mask=False, prefix=False):
    inp = keras.Input((L, D), name="features")
    inputs = [inp]
    h = keras.layers.Dense(D, name="pre")(inp) if prefix else inp
    att = DensityAdaptiveAttention(num_heads=2, name="attention")
    if use_mask:
        m = keras.Input((L,), dtype="bool", name="padding_mask")
        inputs.append(m)
        y = att(h, padding_mask=m)
    else:
        y = att(h)
    out = keras.layers.Dense(3)(keras.layers.Flatten()(y))
    return keras.Model(inputs if use_mask else inp, out), att


def test_functional_model_with_attention_layer():
    model, att = _functional_head()
    x = _data()
    out = explain.collect_density_maps(model, x)
    np.testing.assert_allclose(
        out, _reference(att, x).mean(0), rtol=1e-4, atol=1e-6
    )
    assert explain.density_layer(model) is att


def test_functional_model_with_mask_and_prefix():
    model, att = _functional_head(use_mask=True, prefix=True)
    x = _data()
    mask = np.ones((B, L), dtype=bool)
    mask[:3, -1] = False
    out = explain.collect_density_maps(model, x, padding_mask=mask)
    h = _np(model.get_layer("pre")(x))
    maps = _reference(att, h, mask)
    np.testing.assert_allclose(
        out[:-1], maps[:, :-1].mean(0), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        out[-1], maps[3:, -1].mean(0), rtol=1e-4, atol=1e-6
    )
    with pytest.raises(ValueError, match="padding_mask"):
        explain.collect_density_maps(model, x)


def test_errors():
    model = keras.Sequential(
        [keras.Input((L, D)), keras.layers.Dense(2, name="dense")]
    )
    with pytest.raises(ValueError, match="no layer named 'attention'"):
        explain.collect_density_maps(model, _data())
    with pytest.raises(ValueError, match="Expected a DensityAdaptive"):
        explain.collect_density_maps(model, _data(), layer_name="dense")
    layer = _layer()
    with pytest.raises(ValueError, match="rows"):
        explain.collect_density_maps(
            layer, _data(), padding_mask=np.ones((3, L), bool)
        )
    with pytest.raises(ValueError, match="no samples"):
        explain.collect_density_maps(layer, [])
    with pytest.raises(ValueError, match="does not fit"):
        explain.collect_density_maps(
            layer, [{"features": _data(), "padding_mask": np.ones((B, 5))}]
        )


def test_mask_appearing_in_later_batches():
    layer = _layer()
    x = _data()
    mask = np.ones((B, L), dtype=bool)
    mask[5:, 2] = False
    batches = [x[:5], {"features": x[5:], "padding_mask": mask[5:]}]
    out = explain.collect_density_maps(layer, batches)
    maps_a = _reference(layer, x[:5])
    maps_b = _reference(layer, x[5:], mask[5:])
    expected = np.concatenate([maps_a, maps_b]).mean(0)
    expected[2] = maps_a[:, 2].mean(0)  # padded in every later sample
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="Some batches"):
        explain.collect_density_maps(layer, batches[::-1])
