"""Keeping the native libraries' start-up chatter off a user's terminal.

Importing TensorFlow (which KerasHub's tokenizers load under every Keras
backend) prints absl/oneDNN/CUDA lines from C++ straight to file
descriptor 2, before any Python logging setting applies. The CLI silences
them by pointing descriptor 2 elsewhere while those libraries import and
initialise their devices; anything printed then is replayed if the import
fails, so a real error is never hidden.
"""

import contextlib
import importlib.util
import os
import sys
import tempfile


@contextlib.contextmanager
def _fd2_redirected():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))


def import_quietly():
    """Imports Keras (and TensorFlow / KerasHub when installed) silently.

    Also initialises TensorFlow's devices (the CUDA probe prints at that
    point) and lowers TensorFlow's Python and absl loggers to errors.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _fd2_redirected():
        if importlib.util.find_spec("torch") is not None:
            # torch before TensorFlow: the other order can crash.
            import torch  # noqa: F401
        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow as tf

            tf.config.list_physical_devices()
            tf.get_logger().setLevel("ERROR")
        if importlib.util.find_spec("absl") is not None:
            from absl import logging as absl_logging

            absl_logging.set_verbosity("error")
        import keras  # noqa: F401

        if importlib.util.find_spec("keras_hub") is not None:
            import keras_hub  # noqa: F401
