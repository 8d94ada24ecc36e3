"""Named heads: the one place where a head name is defined.

A head name says what it builds: the attention module, its heads (`h2`),
densities (`k4`), axis (`features`, `tokens`) and formulation (`mixture`,
`product`, `jepa`; none is the paper's), then the decoder (`flatten`,
`conv`, `pool`, `conv_pool`, `sum`). The paper's own layouts keep their
names (`daamv1`, `daamv2`, `gqdaam`). The demo, the CLI's `--heads`, the
experiments, the notebooks, the benchmarks and the docs all resolve names
here, so a row labelled `daam_h2_flatten` in any table is exactly
`build_head("daam_h2_flatten", ...)`.

Names with a number in them are families: `daam_h3_flatten` is the same
head as `daam_h2_flatten` with 3 DAAM heads. `head_names()` lists the
canonical members; `get_head_spec` accepts any member.

Example:

>>> from keras_daam.heads import get_head_spec
>>> spec = get_head_spec("daam_h2_flatten")
>>> spec.attention, spec.decoder, dict(spec.options)
('daam', 'flatten', {'num_heads': 2, 'axis': 1, 'formulation': 'paper'})
"""

import dataclasses
import re
import types

DECODER_PATTERN = "flatten|conv_pool|conv|pool|sum"


@dataclasses.dataclass(frozen=True)
class HeadSpec:
    """What a head name builds.

    Attributes:
        name: str. The registered name.
        label: str. A short human description (table rows, `--help`).
        attention: str. The attention module (`heads.ATTENTION_NAMES`).
        decoder: str. The decoder (`heads.DECODER_NAMES`).
        options: mapping. Keyword arguments of the attention module.
        inputs: `"layers"` (pooled `[L, d]` features: `L` = layers) or
            `"tokens"` (one layer's `[T, d]` token states with a padding
            mask).
    """

    name: str
    label: str
    attention: str
    decoder: str
    options: types.MappingProxyType = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    inputs: str = "layers"

    @property
    def use_mask(self):
        """Token heads take a `padding_mask` input besides the features."""
        return self.inputs == "tokens"

    def build_kwargs(self):
        """The `build_head` keyword arguments this name stands for."""
        return {
            "attention": self.attention,
            "decoder": self.decoder,
            "use_mask": self.use_mask,
            **self.options,
        }

    def build(self, num_layers, feature_dim, num_classes, **training):
        """`build_head(self.name, ...)`: see `keras_daam.heads.build_head`."""
        from keras_daam.heads.build import build_head

        return build_head(
            self.name,
            num_layers=num_layers,
            feature_dim=feature_dim,
            num_classes=num_classes,
            **training,
        )

    def check(self, num_layers, feature_dim):
        """Raises a ValueError naming the head if it cannot take `[L, d]`.

        The check builds the (uncompiled) model once, so it applies the
        layers' own rules (heads must divide their axis, ...).
        """
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.build(num_layers, feature_dim, 2, compile=False, seed=0)
        except ValueError as error:
            raise ValueError(
                f"Head {self.name!r} ({self.label}) cannot take features "
                f"of {num_layers} x {feature_dim}: {error}"
            ) from None


def _spec(name, label, attention, decoder, inputs="layers", **options):
    return HeadSpec(
        name=name,
        label=label,
        attention=attention,
        decoder=decoder,
        options=types.MappingProxyType(options),
        inputs=inputs,
    )


_DECODER_LABELS = {
    "flatten": "flatten decoder",
    "conv": "conv decoder (the paper's DAT)",
    "conv_pool": "conv decoder + average pooling",
    "pool": "mean over tokens",
    "sum": "sum over tokens",
}

# Fixed names: (label, attention, decoder, inputs, options).
_FIXED = {
    "linear_last_layer": (
        "Linear probe, last layer",
        "last_layer",
        "flatten",
        "layers",
        {},
    ),
    "weighted_sum_linear": (
        "Weighted layer sum (SUPERB) + linear",
        "weighted_sum",
        "flatten",
        "layers",
        {},
    ),
    # The paper's layouts (SPEC sections 2.1, 5, 6).
    "daamv1": (
        "DAAMv1 (paper): 8 DAAM heads + conv decoder",
        "daam",
        "conv",
        "layers",
        {"num_heads": 8, "axis": 1, "formulation": "paper"},
    ),
    "daamv2": (
        "DAAMv2 (paper): 1 DAAM head + conv decoder",
        "daam",
        "conv",
        "layers",
        {"num_heads": 1, "axis": 1, "formulation": "paper"},
    ),
    "gqdaam": (
        "GQDAAM (paper): GQA-DAAM, 8 DAAM heads + conv decoder",
        "gqdaam",
        "conv",
        "layers",
        {"density_heads": 8},
    ),
    # One layer's token states [T, d] with a padding mask.
    "tokens_mean_linear": (
        "Last layer tokens: masked mean pooling + linear",
        "none",
        "pool",
        "tokens",
        {},
    ),
    "tokens_daam_h1_pool": (
        "Last layer tokens: DAAM gate (paper, 1 head) + masked mean",
        "daam",
        "pool",
        "tokens",
        {"num_heads": 1, "axis": 1, "formulation": "paper"},
    ),
    "tokens_daam_mixture_h1_k4_sum": (
        "Last layer tokens: DAAM mixture attention pooling (K=4, weights "
        "sum to one over real tokens)",
        "daam",
        "sum",
        "tokens",
        {
            "num_heads": 1,
            "num_densities": 4,
            "axis": 1,
            "formulation": "mixture",
            "feature_axis": -1,
        },
    ),
    # The authors' 2025 formulation (Density-Adaptive JEPA) along tokens,
    # where the statistics have room (SPEC section 4).
    "tokens_daam_jepa_h1_k4_pool": (
        "Last layer tokens: DAAM gate (jepa: mean of K=4 densities, 1 head) "
        "+ masked mean",
        "daam",
        "pool",
        "tokens",
        {
            "num_heads": 1,
            "num_densities": 4,
            "axis": 1,
            "formulation": "jepa",
        },
    ),
    "tokens_daam_gate_k4_pool": (
        "Last layer tokens: DAAM gated residual block (jepa gate of a 1x1 "
        "projection along tokens, K=4: x * (1 + alpha G)) + masked mean",
        "daam_gate",
        "pool",
        "tokens",
        {"num_densities": 4},
    ),
}

# Families: regex over the name -> (label, attention, options) builders.
_FAMILIES = (
    (
        rf"none_(?P<decoder>{DECODER_PATTERN})",
        lambda m: ("No attention", "none", {}),
    ),
    (
        rf"mha_(?P<decoder>{DECODER_PATTERN})",
        lambda m: ("MHA (8 heads) among layer tokens", "mha", {}),
    ),
    (
        rf"mha_bn_(?P<decoder>{DECODER_PATTERN})",
        lambda m: ("MHA + BN", "mha_bn", {}),
    ),
    (
        rf"daam_h(?P<h>\d+)_(?P<decoder>{DECODER_PATTERN})",
        lambda m: (
            f"DAAM {_heads(m)} over layers",
            "daam",
            {"num_heads": int(m["h"]), "axis": 1, "formulation": "paper"},
        ),
    ),
    (
        rf"daam_features_h(?P<h>\d+)_(?P<decoder>{DECODER_PATTERN})",
        lambda m: (
            f"DAAM along the feature axis ({_heads(m)})",
            "daam",
            {
                "num_heads": int(m["h"]),
                "axis": 2,
                "feature_axis": 1,
                "formulation": "paper",
            },
        ),
    ),
    (
        rf"daam_mixture_h(?P<h>\d+)_k(?P<k>\d+)_(?P<decoder>{DECODER_PATTERN})",
        lambda m: (
            f"DAAM mixture formulation ({_heads(m)}, K={m['k']})",
            "daam",
            {
                "num_heads": int(m["h"]),
                "num_densities": int(m["k"]),
                "axis": 1,
                "formulation": "mixture",
            },
        ),
    ),
    (
        rf"daam_product_h(?P<h>\d+)_k(?P<k>\d+)_(?P<decoder>{DECODER_PATTERN})",
        lambda m: (
            f"Mixture of DAAM as the authors' package computes it: "
            f"normalised product of K={m['k']} densities ({_heads(m)})",
            "daam",
            {
                "num_heads": int(m["h"]),
                "num_densities": int(m["k"]),
                "axis": 1,
                "formulation": "package",
            },
        ),
    ),
    (
        rf"daam_jepa_h(?P<h>\d+)_k(?P<k>\d+)_(?P<decoder>{DECODER_PATTERN})",
        lambda m: (
            f"DAAM jepa formulation (the authors' 2025 stabilised gate: "
            f"mean of K={m['k']} densities, {_heads(m)}) over layers",
            "daam",
            {
                "num_heads": int(m["h"]),
                "num_densities": int(m["k"]),
                "axis": 1,
                "formulation": "jepa",
            },
        ),
    ),
    (
        rf"gqdaam_h(?P<h>\d+)_(?P<decoder>{DECODER_PATTERN})",
        lambda m: (
            f"GQA-DAAM ({m['h']} DAAM heads)",
            "gqdaam",
            {"density_heads": int(m["h"])},
        ),
    ),
)
_FAMILIES = tuple((re.compile(p + "$"), f) for p, f in _FAMILIES)

# The names `head_names()` lists: every fixed name and the family members
# the demo and the docs use.
_LISTED_FAMILY_MEMBERS = (
    "none_flatten",
    "mha_flatten",
    "mha_bn_flatten",
    "daam_h1_flatten",
    "daam_h2_flatten",
    "daam_mixture_h1_k4_flatten",
    "daam_features_h8_flatten",
    "gqdaam_h2_flatten",
    "mha_conv",
    "mha_bn_conv",
    "daam_product_h8_k4_conv",
    "daam_jepa_h1_k4_flatten",
    "daam_jepa_h1_k4_conv",
)


def _heads(match):
    n = int(match["h"])
    return f"{n} head" + ("" if n == 1 else "s")


def get_head_spec(name):
    """The `HeadSpec` of a head name.

    Raises:
        ValueError: for a name the registry does not define (the message
            lists the known names and families).
    """
    if isinstance(name, HeadSpec):
        return name
    if not isinstance(name, str):
        raise ValueError(
            f"A head name must be a string. Received: {name!r} "
            f"({type(name).__name__})."
        )
    if name in _FIXED:
        label, attention, decoder, inputs, options = _FIXED[name]
        return _spec(name, label, attention, decoder, inputs, **options)
    for pattern, make in _FAMILIES:
        match = pattern.match(name)
        if match is None:
            continue
        if any(
            int(match[g]) < 1 for g in ("h", "k") if g in pattern.groupindex
        ):
            break
        label, attention, options = make(match)
        decoder = match["decoder"]
        label = f"{label} + {_DECODER_LABELS[decoder]}"
        return _spec(name, label, attention, decoder, **options)
    raise ValueError(
        f"Unknown head {name!r}. Known heads: {', '.join(head_names())}; "
        "families (N heads, K densities, any positive integers): "
        + ", ".join(family_patterns())
        + "."
    )


def is_head_name(name):
    """Whether `name` is a registered head name (fixed or family member)."""
    try:
        get_head_spec(name)
    except ValueError:
        return False
    return True


def head_names():
    """The canonical head names (fixed names and the listed family members),
    in a stable order."""
    return tuple(_FIXED) + _LISTED_FAMILY_MEMBERS


def family_patterns():
    """Readable patterns of the parameterised names."""
    decoders = "{" + DECODER_PATTERN.replace("|", ",") + "}"
    return (
        f"none_{decoders}",
        f"mha_{decoders}",
        f"mha_bn_{decoders}",
        f"daam_hN_{decoders}",
        f"daam_features_hN_{decoders}",
        f"daam_mixture_hN_kK_{decoders}",
        f"daam_product_hN_kK_{decoders}",
        f"daam_jepa_hN_kK_{decoders}",
        f"gqdaam_hN_{decoders}",
    )


def describe_heads():
    """`name: label` lines of every listed head, for help texts."""
    return "\n".join(
        f"{name}: {get_head_spec(name).label}" for name in head_names()
    )
