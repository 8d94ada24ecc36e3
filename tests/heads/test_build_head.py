import os

import keras
import numpy as np
import pytest
from keras import ops

from keras_daam.heads import ATTENTION_NAMES
from keras_daam.heads import DECODER_NAMES
from keras_daam.heads import build_head
from keras_daam.heads import count_parameters
from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import GroupedQueryDensityAttention

L, D, C = 6, 12, 3
# Small options per attention module so that everything trains in seconds.
OPTIONS = {
    "daam": dict(num_heads=2),
    "daam_gate": dict(num_densities=2),
    "daam_mixture": dict(num_heads=2),
    "gqdaam": dict(
        hidden_dim=16, num_query_heads=4, num_key_value_heads=2, density_heads=2
    ),
    "mha": dict(num_heads=2),
    "mha_bn": dict(num_heads=2),
    "weighted_sum": {},
    "none": {},
    "last_layer": {},
}


def _head(attention, **kwargs):
    kwargs.setdefault("conv_filters", 8)
    kwargs.setdefault("seed", 0)
    return build_head(
        L, D, C, attention=attention, **OPTIONS[attention], **kwargs
    )


def _data(n=16, seed=0, masked=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, L, D)).astype("float32")
    y = rng.integers(0, C, size=n)
    if not masked:
        return x, y
    mask = np.ones((n, L), bool)
    mask[: n // 2, 3:] = False  # half the samples: the last 3 layers padded
    return {"features": x, "padding_mask": mask}, y


# ---------------------------------------------------------- paper counts
def test_daam_v1_paper_counts():
    counts = count_parameters(build_head(24, 1024, 4, compile=False))
    # conv 24 -> 512 (3x3): 110,592 + 512; conv 512 -> 24: 110,592 + 24.
    assert counts["attention"] == 16_384
    assert counts["head_without_classifier"] == 16_384 + 111_104 + 110_616
    assert counts["head_without_classifier"] == 238_104
    assert counts["classifier"] == 24 * 1024 * 4 + 4
    assert counts["total"] == 238_104 + counts["classifier"]


def test_daam_v2_paper_counts():
    model = build_head(24, 1024, 4, num_heads=1, compile=False)
    counts = count_parameters(model)
    assert counts["attention"] == 2_048
    assert counts["head_without_classifier"] == 223_768


def test_gqdaam_paper_counts():
    model = build_head(24, 1024, 4, attention="gqdaam", compile=False)
    counts = count_parameters(model)
    # Standard GQA: 1,420,568. The authors' 1,223,192 summed the query heads
    # of each group: LayerNorm(128) instead of (512) (-768) and a 128 -> 512
    # instead of 512 -> 512 output projection (-196,608).
    assert counts["attention"] == 1_198_848
    assert counts["head_without_classifier"] == 1_420_568
    assert counts["head_without_classifier"] - 768 - 196_608 == 1_223_192
    assert counts["classifier"] == 24 * 512 * 4 + 4


def test_count_parameters_without_named_layers():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert count_parameters(model) == {
        "attention": 0,
        "head_without_classifier": 10,
        "classifier": 0,
        "total": 10,
    }


# --------------------------------------------------------------- contract
@pytest.mark.parametrize("use_mask", [False, True])
def test_contract(use_mask):
    model = build_head(
        L, D, C, num_heads=2, use_mask=use_mask, compile=False, conv_filters=8
    )
    attention = model.get_layer("attention")
    assert type(attention) is DensityAdaptiveAttention
    assert model.get_layer("classifier").units == C
    assert [i.name for i in model.inputs][: 1 + use_mask] == (
        ["features", "padding_mask"][: 1 + use_mask]
    )
    assert tuple(model.inputs[0].shape) == (None, L, D)
    assert tuple(model.output.shape) == (None, C)
    probe = keras.Model(model.inputs, attention.input)
    x, _ = _data(4, masked=use_mask)
    seen = probe(dict(x)) if use_mask else probe([x])
    seen = (
        ops.convert_to_numpy(seen)
        if not use_mask
        else [ops.convert_to_numpy(s) for s in seen]
    )
    if use_mask:
        # The mask is a second input of the attention layer.
        np.testing.assert_array_equal(seen[0], x["features"])
        np.testing.assert_array_equal(seen[1], x["padding_mask"])
    else:
        np.testing.assert_array_equal(seen, x)
    gq = build_head(
        L, D, C, attention="gqdaam", compile=False, **OPTIONS["gqdaam"]
    )
    assert isinstance(gq.get_layer("attention"), GroupedQueryDensityAttention)


def test_invalid_names():
    with pytest.raises(ValueError, match="attention"):
        build_head(L, D, C, attention="lora")
    with pytest.raises(ValueError, match="decoder"):
        build_head(L, D, C, decoder="mlp")
    with pytest.raises(ValueError, match="loss"):
        build_head(L, D, C, num_heads=2, loss="hinge")
    with pytest.raises(ValueError, match="not divisible"):
        build_head(L, D, C)  # 8 heads over 6 layers


def test_seed_reproducible_and_distinct_qkv():
    a = _head("mha", compile=False, seed=3)
    b = _head("mha", compile=False, seed=3)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(wa), ops.convert_to_numpy(wb)
        )
    kernels = {
        w.path.split("/")[-2]: ops.convert_to_numpy(w)
        for w in a.get_layer("attention").weights
        if w.path.endswith("kernel")
    }
    assert not np.allclose(kernels["query"], kernels["key"])


def _predict(model, x):
    # Eager calls: cheaper than compiling a predict function per tiny model.
    if isinstance(x, dict):
        x = {k: ops.convert_to_tensor(v) for k, v in x.items()}
    return ops.convert_to_numpy(model(x, training=False))


def _with_noisy_padding(x):
    noisy = dict(x, features=x["features"].copy())
    pad = ~x["padding_mask"]
    noisy["features"][pad] = 100.0 * np.random.default_rng(1).normal(
        size=noisy["features"][pad].shape
    )
    return noisy


# ------------------------------------ training, masking, .keras round trip
@pytest.mark.parametrize("attention", ATTENTION_NAMES)
def test_each_head_trains_masks_and_round_trips(attention, tmp_path):
    model = _head(attention, learning_rate=1e-2, use_mask=True)
    x, y = _data(masked=True)
    history = model.fit(x, y, batch_size=16, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]

    # Padded layers' values never reach the logits.
    logits = _predict(model, x)
    np.testing.assert_allclose(
        logits, _predict(model, _with_noisy_padding(x)), atol=1e-4
    )

    path = os.path.join(tmp_path, f"{attention}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_predict(loaded, x), logits)
    assert type(loaded.get_layer("attention")) is type(
        model.get_layer("attention")
    )


@pytest.mark.parametrize("attention", ATTENTION_NAMES)
def test_mask_of_all_real_layers_equals_no_mask(attention):
    masked = _head(attention, use_mask=True, compile=False)
    plain = _head(attention, compile=False)
    plain.set_weights(masked.get_weights())
    x, _ = _data(4, masked=True)
    full = dict(x, padding_mask=np.ones((4, L), bool))
    np.testing.assert_allclose(
        _predict(masked, full), _predict(plain, x["features"]), atol=1e-4
    )


@pytest.mark.parametrize("decoder", DECODER_NAMES)
def test_each_decoder_trains_with_focal_loss(decoder):
    model = _head("daam", decoder=decoder, learning_rate=1e-2, loss="focal")
    x, y = _data()
    losses = model.fit(x, y, batch_size=16, epochs=6, verbose=0).history["loss"]
    assert losses[-1] < losses[0]


def test_pool_decoder_ignores_padded_layers():
    model = _head("none", decoder="pool", use_mask=True, compile=False)
    x, _ = _data(8, masked=True)
    np.testing.assert_allclose(
        _predict(model, x), _predict(model, _with_noisy_padding(x)), atol=1e-4
    )
