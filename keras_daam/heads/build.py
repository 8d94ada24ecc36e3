"""`build_head`: attention module + decoder + classifier, and its counts."""

import contextlib
import random

import keras
import numpy as np

from keras_daam.heads.decoders import ConvDecoder
from keras_daam.heads.decoders import TokenMeanPooling
from keras_daam.heads.focal_loss import FocalLoss
from keras_daam.heads.layer_attention import IdentityAttention
from keras_daam.heads.layer_attention import LastLayer
from keras_daam.heads.layer_attention import LayerSelfAttention
from keras_daam.heads.layer_attention import WeightedLayerSum
from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import GroupedQueryDensityAttention

ATTENTION_NAMES = (
    "daam",
    "daam_mixture",
    "gqdaam",
    "mha",
    "mha_bn",
    "weighted_sum",
    "none",
    "last_layer",
)
DECODER_NAMES = ("conv", "conv_pool", "pool", "flatten")
LOSS_NAMES = ("crossentropy", "focal")


def make_attention(attention, **options):
    """The attention module `attention` (one of `ATTENTION_NAMES`).

    `options` override the defaults below and go to the module's
    constructor (`name`, `dtype` included):

    - `"daam"`: `DensityAdaptiveAttention(num_heads=8, axis=1,
      formulation="paper")`, the paper's DAAMv1; `num_heads=1` is DAAMv2.
    - `"daam_mixture"`: `DensityAdaptiveAttention(num_heads=8,
      num_densities=4, axis=1, formulation="package")`, the paper appendix's
      "Mixture of DAAM" as the authors' package computes it (a normalised
      *product* of 4 Gaussians per head, 64 parameters). Pass
      `formulation="mixture"` for a true mixture (sum) of densities.
    - `"gqdaam"`: `GroupedQueryDensityAttention()` (8 DAAM heads, width
      512, 8 query / 2 key-value heads of 64).
    - `"mha"`: `LayerSelfAttention(num_heads=8)`; `"mha_bn"`: the same with
      `use_batch_norm=True`.
    - `"weighted_sum"`: `WeightedLayerSum()`.
    - `"none"`: `IdentityAttention()`; `"last_layer"`: `LastLayer()`.
    """
    if attention not in ATTENTION_NAMES:
        raise ValueError(
            f"Unknown `attention`: {attention!r}. Expected one of "
            f"{ATTENTION_NAMES}."
        )
    if attention == "daam":
        defaults = dict(num_heads=8, axis=1, formulation="paper")
        return DensityAdaptiveAttention(**{**defaults, **options})
    if attention == "daam_mixture":
        defaults = dict(
            num_heads=8, num_densities=4, axis=1, formulation="package"
        )
        return DensityAdaptiveAttention(**{**defaults, **options})
    if attention == "gqdaam":
        return GroupedQueryDensityAttention(**options)
    if attention in ("mha", "mha_bn"):
        defaults = dict(num_heads=8, use_batch_norm=attention == "mha_bn")
        return LayerSelfAttention(**{**defaults, **options})
    if attention == "weighted_sum":
        return WeightedLayerSum(**options)
    if attention == "none":
        return IdentityAttention(**options)
    return LastLayer(**options)


@contextlib.contextmanager
def _seeded_python_random(seed):
    """Draw Keras's default initializer seeds from `seed`, then restore.

    Keras initializers without a seed take one from Python's `random`
    module when created (and Keras clones them per sublayer the same way),
    so seeding it for the duration of the build makes every weight
    reproducible while sublayers still get distinct values; a fixed integer
    seed on one initializer would give, e.g., identical query, key and
    value kernels. The global state is restored afterwards.
    """
    if seed is None:
        yield
        return
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def _make_loss(loss):
    if isinstance(loss, keras.losses.Loss):
        return loss
    if loss == "crossentropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if loss == "focal":
        return FocalLoss()
    raise ValueError(
        f"Unknown `loss`: {loss!r}. Expected one of {LOSS_NAMES} or a "
        "`keras.losses.Loss` instance."
    )


def build_head(
    num_layers,
    feature_dim,
    num_classes,
    attention="daam",
    decoder="conv",
    use_mask=False,
    compile=True,
    learning_rate=1e-4,
    weight_decay=0.01,
    loss="crossentropy",
    seed=None,
    conv_filters=512,
    map_shape=None,
    name=None,
    **attention_options,
):
    """A classification head over stacked layer features `[L, d]`.

    `features [batch, L, d]` -> attention module (layer `"attention"`) ->
    decoder -> `Dense(num_classes)` (layer `"classifier"`, logits). With the
    defaults (`attention="daam"`, `decoder="conv"`) this is the paper's
    DAAMv1 head with its "DAT" decoder: on 24 x 1024 features it has
    16,384 attention and 238,104 parameters before the classifier.

    Attention modules (`ATTENTION_NAMES`, see `make_attention` for their
    defaults): `"daam"` (8 heads, DAAMv1; `num_heads=1` is DAAMv2),
    `"daam_mixture"`, `"gqdaam"`, `"mha"`, `"mha_bn"`, `"weighted_sum"`,
    `"none"` and `"last_layer"`. `"weighted_sum"` and `"last_layer"` leave
    one token `[batch, 1, d]` for the decoder.

    Decoders (`DECODER_NAMES`):
    - `"conv"`: the paper's `ConvDecoder` (each token's features as a 2-D
      map, tokens as channels, `Conv2D(C -> conv_filters)` + ReLU,
      `Conv2D(conv_filters -> C)` + ReLU, flatten).
    - `"conv_pool"`: the same convolutions, then global average pooling
      instead of flattening (a classifier of `C * classes` weights).
    - `"pool"`: no convolution, the (masked) mean over tokens.
    - `"flatten"`: no convolution, all tokens' features flattened; with
      `attention="last_layer"` this is the linear probe on the last layer.

    Weights are Xavier-uniform (`glorot_uniform`), biases zero.

    Args:
        num_layers: int. `L`, the number of stacked layers.
        feature_dim: int. `d`, the features per layer.
        num_classes: int. Number of classes (logit outputs).
        attention: str. The attention module. Defaults to `"daam"`.
        decoder: str. The decoder. Defaults to `"conv"`.
        use_mask: bool. Add a second input `"padding_mask"` `[batch, L]`
            (bool, `True` = real layer). Padded layers never influence the
            logits. Defaults to `False`.
        compile: bool. Compile with AdamW, the loss and accuracy.
            Defaults to `True`.
        learning_rate: float. AdamW learning rate. Defaults to `1e-4` (the
            paper's; 5e-5 for its 5120-d text runs). In a prototype the
            light heads (`decoder="pool"`/`"flatten"`, `"weighted_sum"`,
            `"last_layer"`) needed `1e-3` to converge in a few epochs.
        weight_decay: float. AdamW weight decay. Defaults to `0.01`.
        loss: `"crossentropy"` (sparse, from logits), `"focal"`
            (`FocalLoss(alpha=0.25, gamma=2.5)`, the paper's speech
            setting) or a `keras.losses.Loss`. Labels are integer class
            ids for both names. Defaults to `"crossentropy"`.
        seed: int, optional. Makes the initial weights reproducible (see
            below); the global random state is left as it was.
        conv_filters: int. Hidden width of the conv decoders. Defaults to
            `512` (the paper).
        map_shape: tuple `(h, w)` or `None`. 2-D shape of each token's
            features for the conv decoders; `None` picks the most square
            factor pair (`map_shape_for`). Defaults to `None`.
        name: str, optional. Model name. Defaults to `"head_<attention>"`.
        **attention_options: passed to the attention module's constructor
            (e.g. `num_heads=1`, `formulation="mixture"`, `hidden_dim=256`).

    Returns:
        A functional `keras.Model`. Input `"features"` `(L, d)` (and
        `"padding_mask"` `(L,)` if `use_mask`, the inputs then form a dict);
        output logits `(num_classes,)`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> model = keras_daam.heads.build_head(6, 16, 3, num_heads=2, seed=0)
    >>> model.predict(np.zeros((2, 6, 16)), verbose=0).shape
    (2, 3)
    """
    for arg, value in (
        ("num_layers", num_layers),
        ("feature_dim", feature_dim),
        ("num_classes", num_classes),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{arg}` must be a positive integer. Received: {value!r}"
            )
    if decoder not in DECODER_NAMES:
        raise ValueError(
            f"Unknown `decoder`: {decoder!r}. Expected one of {DECODER_NAMES}."
        )
    loss_fn = _make_loss(loss) if compile else None
    with _seeded_python_random(seed):
        features = keras.Input((num_layers, feature_dim), name="features")
        module = make_attention(
            attention, name="attention", **attention_options
        )
        mask = None
        if use_mask:
            mask = keras.Input((num_layers,), dtype="bool", name="padding_mask")
            x = module(features, padding_mask=mask)
            inputs = {"features": features, "padding_mask": mask}
        else:
            x = module(features)
            inputs = features
        if x.shape[1] != num_layers:
            mask = None  # the module already reduced the layer axis
        if decoder in ("conv", "conv_pool"):
            x = ConvDecoder(
                filters=conv_filters,
                map_shape=map_shape,
                pooling="avg" if decoder == "conv_pool" else None,
                name="decoder",
            )(x)
        elif decoder == "pool":
            pool = TokenMeanPooling(name="decoder")
            x = pool(x) if mask is None else pool(x, padding_mask=mask)
        else:
            x = keras.layers.Flatten(name="decoder")(x)
        logits = keras.layers.Dense(
            num_classes, kernel_initializer="glorot_uniform", name="classifier"
        )(x)
        model = keras.Model(inputs, logits, name=name or f"head_{attention}")
    if compile:
        model.compile(
            optimizer=keras.optimizers.AdamW(
                learning_rate=learning_rate, weight_decay=weight_decay
            ),
            loss=loss_fn,
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    return model


def _trainable_count(layer):
    return int(sum(np.prod(w.shape) for w in layer.trainable_weights))


def count_parameters(model):
    """Trainable parameter counts of a head, split as the paper reports.

    Args:
        model: a `keras.Model` (or layer); the layers named `"attention"`
            and `"classifier"` (as `build_head` names them) are counted
            separately. A missing one counts as 0.

    Returns:
        dict with `"attention"` (the attention module), `"classifier"` (the
        final Dense), `"head_without_classifier"` (everything but the final
        Dense, the figure the paper quotes) and `"total"`.

    Example:

    >>> import keras_daam
    >>> model = keras_daam.heads.build_head(24, 1024, 4, compile=False)
    >>> counts = keras_daam.heads.count_parameters(model)
    >>> counts["attention"], counts["head_without_classifier"]
    (16384, 238104)
    """

    def part(name):
        try:
            return _trainable_count(model.get_layer(name))
        except (ValueError, AttributeError):
            return 0

    total = _trainable_count(model)
    classifier = part("classifier")
    return {
        "attention": part("attention"),
        "head_without_classifier": total - classifier,
        "classifier": classifier,
        "total": total,
    }
