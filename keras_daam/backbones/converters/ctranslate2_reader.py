"""A minimal reader for CTranslate2 `model.bin` files (binary spec v6)."""

import struct

import numpy as np

# CTranslate2's DataType enum.
_DTYPES = {
    0: np.float32,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.float16,
}


def read_ctranslate2_model(path):
    """Reads every variable of a CTranslate2 model file.

    The layout (version 6): uint32 version, spec name, uint32 revision,
    uint32 variable count, then per variable its name, rank, dims, dtype id,
    byte count and raw bytes; finally a list of (alias, target) names.
    Strings are a uint16 length (including a trailing NUL) and UTF-8 bytes.

    Args:
        path: str or path. The `model.bin` file.

    Returns:
        `(variables, spec_name)` where `variables` maps names to numpy arrays
        (aliases resolved to the arrays they name).
    """
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def unpack(fmt):
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value

    def string():
        nonlocal pos
        length = unpack("H")
        text = data[pos : pos + length - 1].decode("utf-8")
        pos += length
        return text

    version = unpack("I")
    if version != 6:
        raise ValueError(
            f"Only CTranslate2 binary version 6 is supported; {path} has "
            f"version {version}."
        )
    spec_name = string()
    unpack("I")  # Spec revision.
    variables = {}
    for _ in range(unpack("I")):
        name = string()
        shape = [unpack("I") for _ in range(unpack("B"))]
        dtype_id = unpack("B")
        num_bytes = unpack("I")
        if dtype_id not in _DTYPES:
            raise ValueError(f"Unsupported dtype id {dtype_id} for {name!r}.")
        array = np.frombuffer(
            data,
            dtype=_DTYPES[dtype_id],
            count=num_bytes // np.dtype(_DTYPES[dtype_id]).itemsize,
            offset=pos,
        )
        variables[name] = array.reshape(shape)
        pos += num_bytes
    for _ in range(unpack("I")):
        alias = string()
        variables[alias] = variables[string()]
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} trailing bytes in {path}.")
    return variables, spec_name
