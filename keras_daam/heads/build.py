"""`build_head`: attention module + decoder + classifier, and its counts."""

import contextlib
import random

import keras
import numpy as np

from keras_daam.heads.decoders import ConvDecoder
from keras_daam.heads.decoders import TokenMeanPooling
from keras_daam.heads.decoders import TokenSumPooling
from keras_daam.heads.focal_loss import FocalLoss
from keras_daam.heads.layer_attention import IdentityAttention
from keras_daam.heads.layer_attention import LastLayer
from keras_daam.heads.layer_attention import LayerSelfAttention
from keras_daam.heads.layer_attention import WeightedLayerSum
from keras_daam.heads.registry import get_head_spec
from keras_daam.layers import DensityAdaptiveAttention
from keras_daam.layers import DensityAdaptiveGate
from keras_daam.layers import GroupedQueryDensityAttention
from keras_daam.utils import check_positive_int

ATTENTION_NAMES = (
    "daam",
    "daam_gate",
    "gqdaam",
    "mha",
    "mha_bn",
    "weighted_sum",
    "none",
    "last_layer",
)
DECODER_NAMES = ("conv", "conv_pool", "pool", "sum", "flatten")
LOSS_NAMES = ("crossentropy", "focal")


def make_attention(attention, **options):
    """The attention module `attention` (one of `ATTENTION_NAMES`).

    `options` override the defaults below and go to the module's
    constructor (`name`, `dtype` included):

    - `"daam"`: `DensityAdaptiveAttention(num_heads=8, axis=1,
      formulation="paper")`, the paper's DAAMv1; `num_heads=1` is DAAMv2.
      `formulation="package"` with `num_densities=4` is the paper
      appendix's "Mixture of DAAM" as the authors' package computes it (a
      normalised *product* of 4 Gaussians per head); `formulation=
      "mixture"` a true mixture (sum) of densities; `formulation="jepa"`
      the authors' 2025 stabilised gate (the mean of K densities).
    - `"daam_gate"`: `DensityAdaptiveGate()`, the authors' 2025 gated
      residual block `x * (1 + alpha * G)` with the `"jepa"` gate of a 1x1
      projection along the token (time) axis, 4 densities.
    - `"gqdaam"`: `GroupedQueryDensityAttention()` (8 DAAM heads, width
      512, 8 query / 2 key-value heads of 64).
    - `"mha"`: `LayerSelfAttention(num_heads=8)`; `"mha_bn"`: the same with
      `use_batch_norm=True`.
    - `"weighted_sum"`: `WeightedLayerSum()`.
    - `"none"`: `IdentityAttention()`; `"last_layer"`: `LastLayer()`.
    """
    if attention == "daam_mixture":
        raise ValueError(
            "`attention='daam_mixture'` is no longer a module name: it meant "
            "the authors' *product* of densities, not a mixture. Use "
            "`attention='daam', formulation='package', num_densities=4` "
            "(the product) or `formulation='mixture'` (a true mixture), or "
            "a named head such as 'daam_product_h8_k4_conv' or "
            "'daam_mixture_h1_k4_flatten'."
        )
    if attention not in ATTENTION_NAMES:
        raise ValueError(
            f"Unknown `attention`: {attention!r}. Expected one of "
            f"{ATTENTION_NAMES}."
        )
    if attention == "daam":
        defaults = dict(num_heads=8, axis=1, formulation="paper")
        return DensityAdaptiveAttention(**{**defaults, **options})
    if attention == "daam_gate":
        return DensityAdaptiveGate(**options)
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


def compile_head(
    model,
    learning_rate=1e-4,
    weight_decay=0.01,
    loss="crossentropy",
    steps_per_execution=1,
):
    """Compiles a logits head (or any logits model): AdamW, loss, accuracy.

    The one compile path of the package: `build_head(compile=True)`, the
    evaluation protocol and `DensityAdaptiveClassifier` all use it.

    Args:
        model: a `keras.Model` whose outputs are logits.
        learning_rate: float. AdamW learning rate. Defaults to `1e-4`.
        weight_decay: float. AdamW weight decay. Defaults to `0.01`.
        loss: `"crossentropy"` (sparse, from logits), `"focal"`
            (`FocalLoss()`) or a `keras.losses.Loss`. Defaults to
            `"crossentropy"`.
        steps_per_execution: int. Training steps run per compiled call
            (fewer Python round trips for small heads). Defaults to `1`.

    Returns:
        The model, compiled.
    """
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=learning_rate, weight_decay=weight_decay
        ),
        loss=_make_loss(loss),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        steps_per_execution=check_positive_int(
            "steps_per_execution", steps_per_execution
        ),
    )
    return model


def build_head(
    head=None,
    num_layers=None,
    feature_dim=None,
    num_classes=None,
    *,
    attention=None,
    decoder=None,
    use_mask=None,
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

    Two ways to call it:

    - **By name** (`keras_daam.heads.head_names()`), the way the CLI, the
      demo, the experiments and the docs do: `build_head("daam_h2_flatten",
      num_layers=6, feature_dim=384, num_classes=26)`. The name fixes the
      attention module, its options and the decoder (see
      `keras_daam.heads.registry`); only the training options below
      (`compile`, `learning_rate`, `loss`, `seed`, ...) may be added.
    - **Custom**: `build_head(num_layers=..., feature_dim=...,
      num_classes=..., attention=..., decoder=..., **attention_options)`
      (or positionally `build_head(24, 1024, 4, attention="daam")`). The
      defaults (`attention="daam"`, `decoder="conv"`) are the paper's
      DAAMv1 head with its "DAT" decoder (the registered name `daamv1`):
      on 24 x 1024 features it has 16,384 attention and 238,104
      parameters before the classifier.

    `features [batch, L, d]` -> attention module (layer `"attention"`) ->
    decoder -> `Dense(num_classes)` (layer `"classifier"`, logits).

    Attention modules (`ATTENTION_NAMES`, see `make_attention` for their
    defaults): `"daam"` (8 heads, DAAMv1; `num_heads=1` is DAAMv2;
    `formulation=` picks the paper gate, the authors' product, a true
    mixture or the authors' 2025 `"jepa"` gate), `"daam_gate"` (the
    gated residual block along the token axis), `"gqdaam"`, `"mha"`,
    `"mha_bn"`, `"weighted_sum"`, `"none"` and `"last_layer"`.
    `"weighted_sum"` and `"last_layer"` leave one token `[batch, 1, d]` for
    the decoder.

    Decoders (`DECODER_NAMES`):
    - `"conv"`: the paper's `ConvDecoder` (each token's features as a 2-D
      map, tokens as channels, `Conv2D(C -> conv_filters)` + ReLU,
      `Conv2D(conv_filters -> C)` + ReLU, flatten).
    - `"conv_pool"`: the same convolutions, then global average pooling
      instead of flattening (a classifier of `C * classes` weights).
    - `"pool"`: no convolution, the (masked) mean over tokens.
    - `"sum"`: no convolution, the (masked) sum over tokens (attention
      pooling when the module's weights sum to one over the tokens).
    - `"flatten"`: no convolution, all tokens' features flattened; with
      `attention="last_layer"` this is the linear probe on the last layer.

    Weights are Xavier-uniform (`glorot_uniform`), biases zero.

    Args:
        head: str, optional. A registered head name. Leave `None` for a
            custom head.
        num_layers: int. `L`, the number of stacked layers (or tokens).
        feature_dim: int. `d`, the features per layer.
        num_classes: int. Number of classes (logit outputs).
        attention: str. The attention module of a custom head. Defaults to
            `"daam"`.
        decoder: str. The decoder of a custom head. Defaults to `"conv"`.
        use_mask: bool. Add a second input `"padding_mask"` `[batch, L]`
            (bool, `True` = real layer). Padded layers never influence the
            logits. Defaults to `False` (`True` for the `tokens_*` names).
        compile: bool. Compile with `compile_head` (AdamW, the loss,
            accuracy). Defaults to `True`.
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
        name: str, optional. Keras model name. Defaults to the head name
            (`"head_<attention>"` for a custom head).
        **attention_options: passed to the attention module's constructor
            of a custom head (e.g. `num_heads=1`, `formulation="mixture"`,
            `hidden_dim=256`).

    Returns:
        A functional `keras.Model`. Input `"features"` `(L, d)` (and
        `"padding_mask"` `(L,)` if `use_mask`, the inputs then form a dict);
        output logits `(num_classes,)`.

    Example:

    >>> import numpy as np
    >>> import keras_daam
    >>> model = keras_daam.heads.build_head(
    ...     "daam_h2_flatten", num_layers=6, feature_dim=16, num_classes=3
    ... )
    >>> model.predict(np.zeros((2, 6, 16)), verbose=0).shape
    (2, 3)
    """
    if head is not None and not isinstance(head, str):
        # The positional custom form: build_head(num_layers, feature_dim,
        # num_classes, attention=...).
        if num_classes is not None:
            raise TypeError(
                "build_head takes a head name first, or (num_layers, "
                "feature_dim, num_classes) positionally. Received: "
                f"{head!r}, {num_layers!r}, {feature_dim!r}, {num_classes!r}."
            )
        head, num_layers, feature_dim, num_classes = (
            None,
            head,
            num_layers,
            feature_dim,
        )
    if head is not None:
        spec = get_head_spec(head)
        custom = {"attention": attention, "decoder": decoder}
        given = [k for k, v in custom.items() if v is not None]
        given += sorted(attention_options)
        if given:
            raise ValueError(
                f"The head {head!r} fixes its attention module, options and "
                f"decoder; received {given} as well. Build a custom head "
                "instead: build_head(attention=..., decoder=..., ...)."
            )
        if use_mask is not None and bool(use_mask) != spec.use_mask:
            raise ValueError(
                f"The head {head!r} takes "
                + ("a padding mask" if spec.use_mask else "no padding mask")
                + f"; received use_mask={use_mask!r}."
            )
        attention = spec.attention
        decoder = spec.decoder
        use_mask = spec.use_mask
        attention_options = dict(spec.options)
        name = name or head
    attention = "daam" if attention is None else attention
    decoder = "conv" if decoder is None else decoder
    use_mask = bool(use_mask)
    for arg, value in (
        ("num_layers", num_layers),
        ("feature_dim", feature_dim),
        ("num_classes", num_classes),
    ):
        check_positive_int(arg, value)
    if decoder not in DECODER_NAMES:
        raise ValueError(
            f"Unknown `decoder`: {decoder!r}. Expected one of {DECODER_NAMES}."
        )
    if compile:
        _make_loss(loss)  # fail before building
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
        elif decoder in ("pool", "sum"):
            cls = TokenMeanPooling if decoder == "pool" else TokenSumPooling
            pool = cls(name="decoder")
            x = pool(x) if mask is None else pool(x, padding_mask=mask)
        else:
            x = keras.layers.Flatten(name="decoder")(x)
        logits = keras.layers.Dense(
            num_classes, kernel_initializer="glorot_uniform", name="classifier"
        )(x)
        model = keras.Model(inputs, logits, name=name or f"head_{attention}")
    if compile:
        compile_head(
            model,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            loss=loss,
        )
    return model


def trainable_parameter_count(layer):
    """The number of trainable parameters of a layer or model."""
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
            return trainable_parameter_count(model.get_layer(name))
        except (ValueError, AttributeError):
            return 0

    total = trainable_parameter_count(model)
    classifier = part("classifier")
    return {
        "attention": part("attention"),
        "head_without_classifier": total - classifier,
        "classifier": classifier,
        "total": total,
    }
