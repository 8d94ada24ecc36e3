import os

# Import torch before TensorFlow (as Keras's own conftest does): the other
# order can crash on some machines.
try:
    import torch  # noqa: F401
except ImportError:
    pass

import keras
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    keras.config.set_dtype_policy("float32")


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"
