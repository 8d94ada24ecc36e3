"""Tiny randomly initialised KerasHub backbones, saved and reloaded offline.

Not pretrained: for testing the plumbing only.
"""

import keras_hub
import numpy as np

SEQ = 8
VOCAB = 40


def make_backbone(family):
    m = keras_hub.models
    text = dict(
        vocabulary_size=VOCAB, num_layers=2, hidden_dim=16, intermediate_dim=32
    )
    if family == "bert":
        return m.BertBackbone(num_heads=2, max_sequence_length=SEQ, **text)
    if family == "roberta":
        return m.RobertaBackbone(num_heads=2, max_sequence_length=SEQ, **text)
    if family == "distil_bert":
        return m.DistilBertBackbone(
            num_heads=2, max_sequence_length=SEQ, **text
        )
    if family == "deberta_v3":
        return m.DebertaV3Backbone(
            num_heads=2, max_sequence_length=SEQ, bucket_size=4, **text
        )
    if family == "llama":
        return m.LlamaBackbone(num_query_heads=2, num_key_value_heads=1, **text)
    if family == "gemma":
        return m.GemmaBackbone(
            num_query_heads=2, num_key_value_heads=1, head_dim=8, **text
        )
    if family == "mistral":
        return m.MistralBackbone(
            num_query_heads=2,
            num_key_value_heads=1,
            sliding_window=SEQ,
            **text,
        )
    if family == "whisper":
        return m.WhisperBackbone(
            vocabulary_size=VOCAB,
            num_layers=2,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            max_encoder_sequence_length=16,
            max_decoder_sequence_length=4,
        )
    if family == "vit":
        return m.ViTBackbone(
            image_shape=(16, 16, 3),
            patch_size=8,
            num_layers=2,
            num_heads=2,
            hidden_dim=16,
            mlp_dim=32,
        )
    if family == "dinov2":
        return m.DINOV2Backbone(
            patch_size=4,
            num_layers=2,
            hidden_dim=16,
            num_heads=2,
            intermediate_dim=32,
            layer_scale_init_value=1.0,
            image_shape=(16, 16, 3),
            position_embedding_shape=(16, 16),
        )
    if family == "efficientnet":
        return m.EfficientNetBackbone(
            stackwise_width_coefficients=[1.0] * 3,
            stackwise_depth_coefficients=[1.0] * 3,
            stackwise_kernel_sizes=[3, 3, 3],
            stackwise_num_repeats=[1, 2, 2],
            stackwise_input_filters=[8, 8, 16],
            stackwise_output_filters=[8, 16, 16],
            stackwise_expansion_ratios=[1, 2, 2],
            stackwise_squeeze_and_excite_ratios=[0.25, 0.25, 0.25],
            stackwise_strides=[1, 2, 2],
            stackwise_block_types=["v1", "v1", "v1"],
            input_shape=(16, 16, 3),
            # KerasHub 0.32's get_config drops `num_features`: only the
            # default (1280) survives save_to_preset/from_preset.
        )
    raise ValueError(family)


def make_inputs(family, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    if family == "whisper":
        return {
            "encoder_features": rng.normal(size=(batch, 16, 80)).astype(
                "float32"
            )
        }
    if family in ("vit", "dinov2", "efficientnet"):
        return rng.uniform(size=(batch, 16, 16, 3)).astype("float32")
    ids = rng.integers(1, VOCAB, size=(batch, SEQ)).astype("int32")
    mask = np.ones((batch, SEQ), dtype="int32")
    for i in range(batch):
        n = SEQ - 2 * i if SEQ - 2 * i > 0 else 1
        mask[i, n:] = 0
        ids[i, n:] = 0
    out = {"token_ids": ids, "padding_mask": mask}
    if family == "bert":
        out["segment_ids"] = np.zeros_like(ids)
    return out
