import keras
import numpy as np
import pytest
from keras import ops

from keras_daam.backbones import SUPPORTED_FAMILIES
from keras_daam.backbones import LayerwiseFeatureExtractor
from keras_daam.backbones import detect_family
from tests.backbones.tiny import make_backbone
from tests.backbones.tiny import make_inputs


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def bert():
    return make_backbone("bert")


def _masked_mean(hidden, mask):
    m = mask.astype("float32")[..., None]
    return (hidden * m).sum(1) / np.maximum(m.sum(1), 1.0)


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
def test_family_from_local_preset(family, tmp_path):
    backbone = make_backbone(family)
    backbone.save_to_preset(str(tmp_path))
    kwargs = {"layers": "uniform"} if family == "efficientnet" else {}
    # Reloaded from the local folder, as a user would from a preset name.
    extractor = LayerwiseFeatureExtractor(str(tmp_path), **kwargs)
    assert extractor.family == family
    assert extractor.preset == str(tmp_path)
    assert not extractor.trainable_weights
    assert not extractor.backbone.trainable_weights
    x = make_inputs(family)
    pooled = _np(extractor(x))
    num_layers = extractor.num_layers
    assert pooled.shape == (3, num_layers, extractor.feature_dim)
    assert np.all(np.isfinite(pooled))
    # Layers differ from each other (the taps are not one tensor repeated).
    assert not np.allclose(pooled[:, 0], pooled[:, -1])
    # The reloaded weights equal the originals.
    reference = LayerwiseFeatureExtractor(backbone, **kwargs)
    np.testing.assert_allclose(_np(reference(x)), pooled, atol=1e-5)
    # Unpooled form: masked mean of it is the pooled form.
    if family != "efficientnet":
        unpooled = LayerwiseFeatureExtractor(backbone, pooling=None)(x)
        hidden = _np(unpooled["hidden_states"])
        mask = _np(unpooled["padding_mask"])
        assert hidden.shape[:2] == (3, num_layers)
        assert mask.shape == (3, hidden.shape[2])
        for i in range(num_layers):
            np.testing.assert_allclose(
                _masked_mean(hidden[:, i], mask), pooled[:, i], atol=1e-5
            )


def test_bert_taps_are_the_block_outputs(bert):
    x = make_inputs("bert")
    extractor = LayerwiseFeatureExtractor(
        bert, include_embeddings=True, pooling=None
    )
    hidden = _np(extractor(x)["hidden_states"])
    assert extractor.layer_names == [
        "embeddings",
        "transformer_layer_0",
        "transformer_layer_1",
    ]
    # Recompute block by block from the public layers.
    tokens = bert.get_layer("token_embedding")(x["token_ids"])
    positions = bert.get_layer("position_embedding")(tokens)
    segments = bert.get_layer("segment_embedding")(x["segment_ids"])
    h = bert.get_layer("embeddings_add")((tokens, positions, segments))
    h = bert.get_layer("embeddings_layer_norm")(h)
    np.testing.assert_allclose(hidden[:, 0], _np(h), atol=1e-5)
    for i in range(2):
        layer = bert.get_layer(f"transformer_layer_{i}")
        h = layer(h, padding_mask=x["padding_mask"], training=False)
        np.testing.assert_allclose(hidden[:, i + 1], _np(h), atol=1e-5)
    # The last block is the backbone's own sequence output.
    seq = _np(bert(x)["sequence_output"])
    np.testing.assert_allclose(hidden[:, -1], seq, atol=1e-5)


def _embeddings_by_hand(backbone, family, x):
    """The hidden state each family feeds its first block, layer by layer
    from the KerasHub 0.32 backbone code (dropout is off at inference)."""
    get = backbone.get_layer
    if family == "bert":
        tokens = get("token_embedding")(x["token_ids"])
        h = get("embeddings_add")(
            (
                tokens,
                get("position_embedding")(tokens),
                get("segment_embedding")(x["segment_ids"]),
            )
        )
        return get("embeddings_layer_norm")(h)
    if family in ("roberta", "distil_bert", "deberta_v3"):
        first = {
            "roberta": "embeddings",
            "distil_bert": "token_and_position_embedding",
            "deberta_v3": "token_embedding",
        }[family]
        return get("embeddings_layer_norm")(get(first)(x["token_ids"]))
    if family in ("llama", "mistral"):
        return get("token_embedding")(x["token_ids"])
    if family == "gemma":
        h = get("token_embedding")(x["token_ids"])
        return h * ops.cast(ops.sqrt(backbone.hidden_dim), h.dtype)
    if family == "whisper":
        h = keras.activations.gelu(
            get("encoder_token_embedding_conv_layer_1")(x["encoder_features"]),
            approximate=False,
        )
        h = keras.activations.gelu(
            get("encoder_token_embedding_conv_layer_2")(
                get("encoder_padder")(h)
            ),
            approximate=False,
        )
        positions = get("encoder_position_embedding")(h)
        return get("encoder_embeddings_add")((h, positions))
    raise ValueError(family)


def _first_block(backbone, family, h, x):
    """Block 0 called by hand on `h`, with the family's other arguments."""
    name = {
        "deberta_v3": "disentangled_attention_encoder_layer_0",
        "gemma": "decoder_block_0",
        "whisper": "transformer_encoder_layer_0",
    }.get(family, "transformer_layer_0")
    block = backbone.get_layer(name)
    if family == "whisper":
        return block(h, training=False)
    kwargs = {"padding_mask": x["padding_mask"]}
    if family in ("llama", "mistral"):
        kwargs = {"decoder_padding_mask": x["padding_mask"]}
    if family == "deberta_v3":
        kwargs["rel_embeddings"] = backbone.get_layer("rel_embedding")(h)
    return block(h, training=False, **kwargs)


SEQUENCE_FAMILIES = [
    f for f in SUPPORTED_FAMILIES if f not in ("vit", "dinov2", "efficientnet")
]


@pytest.mark.parametrize("family", SEQUENCE_FAMILIES)
def test_embeddings_are_the_input_of_the_first_block(family):
    backbone = make_backbone(family)
    x = make_inputs(family)
    extractor = LayerwiseFeatureExtractor(
        backbone, include_embeddings=True, pooling=None
    )
    assert extractor.layer_names[0] == "embeddings"
    hidden = _np(extractor(x)["hidden_states"])
    by_hand = _np(_embeddings_by_hand(backbone, family, x))
    np.testing.assert_allclose(hidden[:, 0], by_hand, rtol=1e-6, atol=1e-6)
    # Fed to block 0 by hand, the tapped embeddings give the block-0 tap:
    # they are what the backbone itself feeds it.
    block0 = _np(_first_block(backbone, family, hidden[:, 0], x))
    np.testing.assert_allclose(hidden[:, 1], block0, rtol=1e-5, atol=1e-5)


def test_padding_does_not_enter_the_mean(bert):
    extractor = LayerwiseFeatureExtractor(bert)
    x = make_inputs("bert")
    y = {k: v.copy() for k, v in x.items()}
    padded = x["padding_mask"] == 0
    assert padded.any()
    y["token_ids"][padded] = 7  # change only what sits under padding
    np.testing.assert_allclose(_np(extractor(x)), _np(extractor(y)), atol=1e-5)
    # An unmasked mean would differ: the test can fail.
    unpooled = LayerwiseFeatureExtractor(bert, pooling=None)(x)
    plain = _np(unpooled["hidden_states"]).mean(axis=2)
    assert not np.allclose(plain, _np(extractor(x)), atol=1e-4)


def test_vit_rewired_blocks_share_weights():
    vit = make_backbone("vit")
    n_weights = len(vit.weights)
    extractor = LayerwiseFeatureExtractor(vit, pooling=None)
    assert len(extractor.weights) == n_weights  # nothing copied
    x = make_inputs("vit")
    hidden = extractor(x)["hidden_states"]
    last = vit.get_layer("vit_encoder").layer_norm(hidden[:, -1])
    np.testing.assert_allclose(_np(last), _np(vit(x)), atol=1e-5)


def test_layer_selection(bert):
    x = make_inputs("bert")
    full = _np(LayerwiseFeatureExtractor(bert, include_embeddings=True)(x))
    last = LayerwiseFeatureExtractor(bert, layers=[-1])
    assert last.layer_indices == [1]
    np.testing.assert_allclose(_np(last(x))[:, 0], full[:, 2], atol=1e-6)
    sliced = LayerwiseFeatureExtractor(bert, layers=slice(0, 1))
    np.testing.assert_allclose(_np(sliced(x))[:, 0], full[:, 1], atol=1e-6)
    assert LayerwiseFeatureExtractor(bert, layers="last").layer_indices == [1]
    with pytest.raises(ValueError, match="out of range"):
        LayerwiseFeatureExtractor(bert, layers=[5])
    with pytest.raises(ValueError, match="layers="):
        LayerwiseFeatureExtractor(bert, layers="every")
    with pytest.raises(ValueError, match="pooling"):
        LayerwiseFeatureExtractor(bert, pooling="max")
    with pytest.raises(ValueError, match="missing"):
        LayerwiseFeatureExtractor(bert)({"token_ids": x["token_ids"]})


def test_unsupported_backbone_lists_supported():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match="BertBackbone.*ViTBackbone"):
        detect_family(model)
    with pytest.raises(ValueError, match="Unsupported backbone"):
        LayerwiseFeatureExtractor(model)


def test_cnn_mixed_widths():
    cnn = make_backbone("efficientnet")
    with pytest.raises(ValueError, match="different widths"):
        LayerwiseFeatureExtractor(cnn, layers="all")
    padded = LayerwiseFeatureExtractor(cnn, layers="all", mixed_widths="pad")
    assert padded.layer_names[-1] == "top"
    assert padded.layer_widths[0] == 8
    out = _np(padded(make_inputs("efficientnet")))
    assert out.shape == (3, padded.num_layers, max(padded.layer_widths))
    # Narrow layers are zero beyond their width, and only there.
    assert np.all(out[:, 0, 8:] == 0)
    assert np.any(out[:, 0, :8] != 0)


def test_config_round_trip(bert):
    extractor = LayerwiseFeatureExtractor(bert, layers=slice(1, None))
    config = extractor.get_config()
    clone = LayerwiseFeatureExtractor.from_config(config)
    assert clone.layer_indices == [1]
    clone.set_weights(extractor.get_weights())
    x = make_inputs("bert")
    np.testing.assert_allclose(_np(clone(x)), _np(extractor(x)), atol=1e-6)


def test_backbone_unchanged_after_training_a_head(bert):
    extractor = LayerwiseFeatureExtractor(bert)
    inputs = extractor.symbolic_inputs()
    features = extractor(inputs)
    logits = keras.layers.Dense(2)(keras.layers.Flatten()(features))
    model = keras.Model(inputs, logits)
    model.compile(
        optimizer=keras.optimizers.Adam(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,  # tracing BERT costs more than 2 tiny epochs
    )
    before = [w.copy() for w in bert.get_weights()]
    head_before = model.layers[-1].get_weights()[0].copy()
    x = make_inputs("bert", batch=4)
    model.fit(x, np.array([0, 1, 0, 1]), epochs=2, verbose=0)
    assert not np.allclose(model.layers[-1].get_weights()[0], head_before)
    for a, b in zip(before, bert.get_weights()):
        np.testing.assert_array_equal(a, b)
