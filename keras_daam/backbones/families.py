"""Where each supported KerasHub family exposes its layer-wise outputs.

KerasHub backbones are functional models but offer no "all hidden states"
output. Each family below says how to find, in the backbone's graph, the
symbolic output of every transformer block (or CNN block) and of the
embeddings, and which backbone inputs the taps depend on. The taps are
then wired into a new `keras.Model` that shares the backbone's layers (no
weight is copied).
"""

import re

import keras

# Family name -> KerasHub backbone class name. A backbone matches a family
# when that class name appears in its MRO, so subclasses (Llama3 of Llama,
# XLM-RoBERTa of RoBERTa) are handled by their parent's rule.
_FAMILY_CLASSES = {
    "bert": "BertBackbone",
    "roberta": "RobertaBackbone",
    "distil_bert": "DistilBertBackbone",
    "deberta_v3": "DebertaV3Backbone",
    "llama": "LlamaBackbone",
    "gemma": "GemmaBackbone",
    "mistral": "MistralBackbone",
    "whisper": "WhisperBackbone",
    "vit": "ViTBackbone",
    "dinov2": "DINOV2Backbone",
    "efficientnet": "EfficientNetBackbone",
}

SUPPORTED_FAMILIES = tuple(_FAMILY_CLASSES)

# Token-sequence families whose blocks are top-level layers of the graph.
_BLOCK_PATTERNS = {
    "bert": r"transformer_layer_(\d+)",
    "roberta": r"transformer_layer_(\d+)",
    "distil_bert": r"transformer_layer_(\d+)",
    "deberta_v3": r"disentangled_attention_encoder_layer_(\d+)",
    "llama": r"transformer_layer_(\d+)",
    "gemma": r"decoder_block_(\d+)",
    "mistral": r"transformer_layer_(\d+)",
    "whisper": r"transformer_encoder_layer_(\d+)",
}

# The layer whose output feeds the first block (KerasHub 0.32 graphs):
# embeddings -> layer norm -> dropout for the encoders, the token embedding
# for Llama and Mistral. Gemma multiplies its token embedding by
# sqrt(hidden_dim) with a bare op, which no layer outputs (None: taken from
# the first block's inputs instead).
_EMBEDDING_LAYERS = {
    "bert": "embeddings_dropout",
    "roberta": "embeddings_dropout",
    "distil_bert": "embeddings_dropout",
    "deberta_v3": "embeddings_dropout",
    "llama": "token_embedding",
    "gemma": None,
    "mistral": "token_embedding",
    "whisper": "encoder_embeddings_dropout",
}

MODALITIES = {
    "bert": "text",
    "roberta": "text",
    "distil_bert": "text",
    "deberta_v3": "text",
    "llama": "text",
    "gemma": "text",
    "mistral": "text",
    "whisper": "audio",
    "vit": "image",
    "dinov2": "image",
    "efficientnet": "image",
}


def detect_family(backbone):
    """Returns the family name of a KerasHub backbone instance.

    Raises:
        ValueError: if the backbone is not one of `SUPPORTED_FAMILIES`.
    """
    mro = [cls.__name__ for cls in type(backbone).__mro__]
    for family, class_name in _FAMILY_CLASSES.items():
        if class_name in mro:
            return family
    supported = ", ".join(
        f"{name} ({cls})" for name, cls in _FAMILY_CLASSES.items()
    )
    raise ValueError(
        f"Unsupported backbone {type(backbone).__name__!r}: keras_daam "
        f"knows where the layer-wise outputs are only for these KerasHub "
        f"families: {supported}."
    )


class Taps:
    """The symbolic tensors an extractor reads from a backbone's graph.

    Attributes:
        inputs: dict name -> KerasTensor, the backbone inputs the taps need.
        embeddings: KerasTensor or None, the embedding output.
        blocks: list of KerasTensor, one per block, in order.
        block_names: list of str, a readable name per block.
        padding_mask_input: str or None, the input holding the token mask.
        spatial: bool, True when taps are 4-D feature maps (CNN).
    """

    def __init__(
        self,
        inputs,
        embeddings,
        blocks,
        block_names,
        padding_mask_input=None,
        spatial=False,
    ):
        self.inputs = inputs
        self.embeddings = embeddings
        self.blocks = blocks
        self.block_names = block_names
        self.padding_mask_input = padding_mask_input
        self.spatial = spatial


def _input_dict(backbone):
    structure = backbone.input
    if isinstance(structure, dict):
        return dict(structure)
    if isinstance(structure, (list, tuple)):
        return {t.name: t for t in structure}
    return {structure.name: structure}


def _embedding_output(backbone, family, first_block):
    """The embedding output: the hidden state that feeds the first block.

    Read from the public graph API: the output of the family's last
    embedding layer (`_EMBEDDING_LAYERS`), checked to be one of the tensors
    the first block was called on (`Layer.input`: its first call, in the
    backbone's own graph), so that a KerasHub change to the graph raises
    instead of tapping the wrong tensor.
    """
    block_inputs = keras.tree.flatten(first_block.input)
    name = _EMBEDDING_LAYERS[family]
    if name is None:
        # The scaled embedding comes from a bare op (no layer): among the
        # first block's inputs it is the only float [batch, seq, hidden]
        # tensor (the others are masks and the like).
        found = [
            t
            for t in block_inputs
            if len(t.shape) == 3 and "float" in str(t.dtype)
        ]
        if len(found) != 1:
            raise ValueError(
                f"Expected one hidden-state input to {first_block.name!r} in "
                f"the {family} backbone {backbone.name!r}; found "
                f"{[(t.name, t.shape, t.dtype) for t in block_inputs]}."
            )
        return found[0]
    embedding = backbone.get_layer(name).output
    if not any(t is embedding for t in block_inputs):
        raise ValueError(
            f"The output of {name!r} does not feed {first_block.name!r} in "
            f"the {family} backbone {backbone.name!r}: the graph differs "
            "from the KerasHub 0.32 layout keras_daam knows."
        )
    return embedding


def _sequence_taps(backbone, family):
    pattern = re.compile(_BLOCK_PATTERNS[family] + "$")
    found = []
    for layer in backbone.layers:
        match = pattern.match(layer.name)
        if match:
            found.append((int(match.group(1)), layer))
    if not found:
        raise ValueError(
            f"Found no layer matching {pattern.pattern!r} in the "
            f"{family} backbone {backbone.name!r}; its layers are "
            f"{[layer.name for layer in backbone.layers]}."
        )
    found.sort(key=lambda item: item[0])
    layers = [layer for _, layer in found]
    inputs = _input_dict(backbone)
    if family == "whisper":
        inputs = {"encoder_features": inputs["encoder_features"]}
        mask_name = None
    else:
        mask_name = "padding_mask" if "padding_mask" in inputs else None
    return Taps(
        inputs=inputs,
        embeddings=_embedding_output(backbone, family, layers[0]),
        blocks=[layer.output for layer in layers],
        block_names=[layer.name for layer in layers],
        padding_mask_input=mask_name,
    )


def _vit_taps(backbone):
    # ViT runs all its blocks inside one `ViTEncoder` layer. Call the
    # encoder's own block layers again on the embedding output: the new
    # graph shares their weights, nothing is copied.
    embedding = backbone.get_layer("vit_patching_and_embedding").output
    encoder = backbone.get_layer("vit_encoder")
    x = embedding
    blocks = []
    for block in encoder.encoder_layers:
        x = block(x)
        blocks.append(x)
    return Taps(
        inputs=_input_dict(backbone),
        embeddings=embedding,
        blocks=blocks,
        block_names=[block.name for block in encoder.encoder_layers],
    )


def _dinov2_taps(backbone):
    pyramid = backbone.pyramid_outputs
    stages = sorted(
        (key for key in pyramid if key.startswith("stage")),
        key=lambda key: int(key[len("stage") :]),
    )
    return Taps(
        inputs=_input_dict(backbone),
        embeddings=pyramid["stem"],
        blocks=[pyramid[key] for key in stages],
        block_names=stages,
    )


def _efficientnet_taps(backbone):
    # A block is every layer named `block<stage><letter>_...`; its output is
    # the output of its last layer in topological order (project_bn, drop
    # or add). The "embedding" is the stem activation; the 1x1 top
    # convolution is appended as a last block named "top".
    pattern = re.compile(r"block(\d+)([a-z]+)_")
    last = {}
    order = []
    for layer in backbone.layers:
        match = pattern.match(layer.name)
        if match:
            key = match.group(0)[:-1]
            if key not in last:
                order.append(key)
            last[key] = layer
    if not order:
        raise ValueError(
            f"Found no `block<N><letter>_` layers in the EfficientNet "
            f"backbone {backbone.name!r}."
        )
    blocks = [last[key].output for key in order]
    names = list(order)
    try:
        top = backbone.get_layer("top_activation")
        blocks.append(top.output)
        names.append("top")
    except ValueError:
        pass
    try:
        stem = backbone.get_layer("stem_activation").output
    except ValueError:
        stem = None
    return Taps(
        inputs=_input_dict(backbone),
        embeddings=stem,
        blocks=blocks,
        block_names=names,
        spatial=True,
    )


def find_taps(backbone, family=None):
    """Finds the layer-wise taps of a KerasHub backbone.

    Args:
        backbone: a KerasHub backbone instance of a supported family.
        family: str, optional. Skips detection when given.

    Returns:
        A `Taps` instance.
    """
    family = family or detect_family(backbone)
    if family in _BLOCK_PATTERNS:
        return _sequence_taps(backbone, family)
    if family == "vit":
        return _vit_taps(backbone)
    if family == "dinov2":
        return _dinov2_taps(backbone)
    if family == "efficientnet":
        return _efficientnet_taps(backbone)
    raise ValueError(f"Unsupported family {family!r}.")  # pragma: no cover
