"""Execute every tutorial notebook top to bottom on the current backend.

The backend comes from the pytest process's `KERAS_BACKEND` (the kernel
inherits it; the notebooks only `setdefault` it), so the per-backend test
matrix runs every notebook on TensorFlow, JAX and PyTorch.
`KERAS_DAAM_QUICK=1` makes each notebook a smoke run (tiny data, 2 epochs,
fewer heads and seeds; every cell still runs). A cell that raises fails the
test; outputs are not compared (models differ slightly across backends),
but the notebooks assert their own invariants (e.g. cross-backend
predictions agree).

Under JAX most of a quick run is XLA compilation: loading a backbone
compiles about a hundred small initializer programs (KerasHub builds the
model with random weights before loading the real ones), and every head
compiles its train and test steps. The kernels therefore share JAX's
persistent compilation cache, which holds compiled programs keyed by their
whole computation (it never changes a result, only skips compiling the
same program twice): `$KERAS_DAAM_TEST_JAX_CACHE`, by default the test
session's own (see `_share_jax_compilation_cache` in `tests/conftest.py`;
no size limit). Set `KERAS_DAAM_TEST_JAX_CACHE=` (empty) to compile
everything afresh, or to a folder to keep the programs between runs. A
`JAX_COMPILATION_CACHE_DIR` set outside wins.
"""

import json
import os
import pathlib
import sys

import keras
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TIMEOUT_S = 600
KERNEL_NAME = "keras-daam-test"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernelspec whose argv runs this very interpreter."""
    from ipykernel import kernelspec

    prefix = tmp_path_factory.mktemp("kernel")
    kernelspec.install(
        kernel_name=KERNEL_NAME, prefix=str(prefix), display_name="test"
    )
    spec = (
        prefix / "share" / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"
    )
    assert json.loads(spec.read_text())["argv"][0] == sys.executable
    return prefix / "share" / "jupyter"


def _jax_cache_dir():
    """The JAX compilation cache folder of the kernels, or None (off)."""
    configured = os.environ.get("KERAS_DAAM_TEST_JAX_CACHE")
    if configured is not None:
        return configured or None
    # The session's own (tests/conftest.py), when it has one.
    return os.environ.get("JAX_COMPILATION_CACHE_DIR")


def _kernel_env():
    env = dict(os.environ)
    cache = _jax_cache_dir()
    if cache:
        # Also reaches subprocesses the notebooks start (01_quickstart
        # reloads its model under another backend).
        env.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
        # Keep every program: the initializers take ~0.1 s each to compile,
        # under JAX's default threshold of 1 s.
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        # No size limit: eviction rereads the whole folder on every write.
        env.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", "-1")
    env["KERAS_BACKEND"] = keras.backend.backend()
    env["KERAS_DAAM_QUICK"] = "1"
    # Tests never rely on a hub download: 06_kerashub_presets then skips its
    # online cells. A CI job with network may set KERAS_DAAM_OFFLINE=0.
    env.setdefault("KERAS_DAAM_OFFLINE", "1")
    # Let the kernel pick its inline matplotlib backend, as in Jupyter.
    env.pop("MPLBACKEND", None)
    # Run the notebook's `import keras_daam` against this checkout.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), env.get("PYTHONPATH")) if p
    )
    return env


@pytest.mark.large
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, kernel_dir, tmp_path, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv(
        "JUPYTER_PATH",
        os.pathsep.join(
            p for p in (str(kernel_dir), os.environ.get("JUPYTER_PATH")) if p
        ),
    )
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        # Files a notebook writes land in a fresh folder.
        resources={"metadata": {"path": str(tmp_path)}},
        allow_errors=False,
    )
    client.execute(env=_kernel_env())
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert code_cells, f"{path.name} has no code cell"
    assert all(c.execution_count is not None for c in code_cells)
    errors = [
        out
        for c in code_cells
        for out in c.outputs
        if out.get("output_type") == "error"
    ]
    assert not errors


def test_notebooks_are_found():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


def test_kernel_env_shares_a_jax_compilation_cache(monkeypatch, tmp_path):
    for name in (
        "JAX_COMPILATION_CACHE_DIR",
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
        "JAX_COMPILATION_CACHE_MAX_SIZE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KERAS_DAAM_TEST_JAX_CACHE", str(tmp_path))
    env = _kernel_env()
    assert env["KERAS_DAAM_QUICK"] == "1"
    assert env["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path)
    assert env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    # Empty: no cache; a cache folder set outside wins.
    monkeypatch.setenv("KERAS_DAAM_TEST_JAX_CACHE", "")
    assert "JAX_COMPILATION_CACHE_DIR" not in _kernel_env()
    monkeypatch.setenv("KERAS_DAAM_TEST_JAX_CACHE", str(tmp_path))
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "/elsewhere")
    assert _kernel_env()["JAX_COMPILATION_CACHE_DIR"] == "/elsewhere"
