"""Run a saved model under the next backend (see `tests.backend_utils`)."""

import os
import subprocess
import sys

import keras
import numpy as np

from tests.backend_utils import OTHER_BACKEND
from tests.backend_utils import input_and_weight_grads
from tests.backend_utils import to_numpy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def outputs_and_grads(model, x, cotangent):
    """`input_and_weight_grads`, compiled once on JAX (op-by-op JAX
    compiles every primitive of the backward pass separately: slow)."""
    if keras.backend.backend() != "jax":
        return input_and_weight_grads(model, x, cotangent)
    import jax

    def loss(x, values):
        out, _ = model.stateless_call(values, [], x)
        return keras.ops.sum(out * cotangent), out

    values = [w.value for w in model.trainable_weights]
    fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    (_, out), (dx, dw) = fn(keras.ops.convert_to_tensor(x), values)
    return to_numpy(out), to_numpy(dx), [to_numpy(g) for g in dw]


_SCRIPT = (
    "import os, numpy as np, keras, keras_daam\n"
    "from tests.layers.other_backend import outputs_and_grads\n"
    "tmp = {tmp!r}\n"
    "m = keras.saving.load_model(os.path.join(tmp, 'model.keras'))\n"
    "x = np.load(os.path.join(tmp, 'x.npy'))\n"
    "cot = np.load(os.path.join(tmp, 'cot.npy'))\n"
    "out, dx, dw = outputs_and_grads(m, x, cot)\n"
    "np.savez(os.path.join(tmp, 'other.npz'), out=out, dx=dx,"
    " paths=np.array([w.path for w in m.trainable_weights]),"
    " **{{f'w{{i}}': g for i, g in enumerate(dw)}})\n"
)


def outputs_and_grads_on_other_backend(model, x, cotangent, tmp):
    """Saves `model` to `tmp`, loads it under the next backend in a
    subprocess and returns `(backend, out, dx, {weight path: grad})` of
    `sum(model(x) * cotangent)` there."""
    other = OTHER_BACKEND[keras.backend.backend()]
    model.save(os.path.join(tmp, "model.keras"))
    np.save(os.path.join(tmp, "x.npy"), x)
    np.save(os.path.join(tmp, "cot.npy"), cotangent)
    env = dict(os.environ, KERAS_BACKEND=other, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(tmp=tmp)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"The {other} subprocess failed:\n{proc.stderr[-3000:]}"
        )
    theirs = np.load(os.path.join(tmp, "other.npz"))
    paths = [str(p) for p in theirs["paths"]]
    grads = {p: theirs[f"w{i}"] for i, p in enumerate(paths)}
    return other, theirs["out"], theirs["dx"], grads
