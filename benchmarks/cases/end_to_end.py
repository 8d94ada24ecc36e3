"""Case 5, `end_to_end`: training on cached features vs through the backbone.

A tiny random KerasHub `BertBackbone` (frozen) and the registered head
`daam_h1_flatten` (one DAAM head over the layer axis, flatten decoder,
Dense). Times one epoch of the head on cached pooled layer features
against one epoch of the same head fed by the backbone, and
`LayerwiseFeatureExtractor.predict_features` against the bare backbone's
`predict` (the extractor's overhead).
"""

import warnings

import numpy as np
from timing import bench

HEAD = "daam_h1_flatten"
NUM_SAMPLES = 1024
QUICK_NUM_SAMPLES = 64


def tiny_bert(num_layers, hidden, seq_len, vocab=1000):
    import keras_hub

    return keras_hub.models.BertBackbone(
        vocabulary_size=vocab,
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=hidden,
        intermediate_dim=hidden * 2,
        max_sequence_length=seq_len,
        dropout=0.0,
    )


def _head(num_layers, hidden, classes):
    from keras_daam.heads import build_head

    return build_head(
        HEAD,
        num_layers=num_layers,
        feature_dim=hidden,
        num_classes=classes,
        compile=False,
        seed=0,
    )


def run(adapter, quick, record):
    import keras

    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.heads import compile_head

    warnings.filterwarnings("ignore")
    num_samples = QUICK_NUM_SAMPLES if quick else NUM_SAMPLES
    num_layers, hidden, seq_len, classes, batch = 4, 128, 64, 8, 32
    if quick:
        num_layers, hidden, seq_len = 2, 32, 16
    keras.utils.set_random_seed(0)
    backbone = tiny_bert(num_layers, hidden, seq_len)
    backbone.trainable = False
    extractor = LayerwiseFeatureExtractor(
        backbone, layers="all", pooling="mean"
    )
    rng = np.random.default_rng(5)
    token_ids = rng.integers(1, 1000, (num_samples, seq_len)).astype("int32")
    lengths = rng.integers(seq_len // 4, seq_len + 1, num_samples)
    tokens = {
        "token_ids": token_ids,
        "segment_ids": np.zeros((num_samples, seq_len), "int32"),
        "padding_mask": np.arange(seq_len)[None] < lengths[:, None],
    }
    labels = rng.integers(0, classes, num_samples)

    def predict_features():
        return np.asarray(extractor.predict_features(tokens, batch))

    def predict_bare():
        return backbone.predict(tokens, batch_size=batch, verbose=0)

    t_bare = bench(predict_bare, lambda o: o, warmup=1, min_repeats=3)
    t_ext = bench(predict_features, lambda o: o, warmup=1, min_repeats=3)
    feats = predict_features()

    head = compile_head(_head(num_layers, hidden, classes), learning_rate=1e-4)

    def epoch_cached():
        head.fit(feats, labels, batch_size=batch, epochs=1, verbose=0)

    # Full model: the frozen extractor feeding a fresh head of the same form.
    full_head = _head(num_layers, hidden, classes)
    full = compile_head(
        keras.Model(backbone.input, full_head(extractor(backbone.input))),
        learning_rate=1e-4,
    )

    def epoch_full():
        full.fit(tokens, labels, batch_size=batch, epochs=1, verbose=0)

    t_cached = bench(epoch_cached, lambda o: o, warmup=1, min_repeats=3)
    t_full = bench(epoch_full, lambda o: o, warmup=1, min_repeats=3)
    record(
        "end_to_end",
        extractor="keras_daam.backbones.LayerwiseFeatureExtractor",
        head=HEAD,
        num_samples=num_samples,
        backbone=f"BertBackbone {num_layers} layers, hidden {hidden}, "
        f"seq {seq_len}, random weights",
        bare_predict=t_bare,
        extract_features=t_ext,
        epoch_cached_features=t_cached,
        epoch_with_backbone=t_full,
        extraction_overhead=t_ext["median_s"] / t_bare["median_s"] - 1.0,
        speedup_cached_epoch=t_full["median_s"] / t_cached["median_s"],
    )
