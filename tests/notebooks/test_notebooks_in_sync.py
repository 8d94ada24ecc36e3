"""The stored notebooks are exactly what their jupytext sources generate."""

import importlib.util
import pathlib
import shutil

REPO = pathlib.Path(__file__).resolve().parents[2]


def _sync_module():
    path = REPO / "scripts" / "sync_notebooks.py"
    spec = importlib.util.spec_from_file_location("sync_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_matches_its_source():
    sync = _sync_module()
    problems = sync.out_of_sync()
    assert not problems, (
        "Notebooks out of sync (run `python scripts/sync_notebooks.py`): "
        + "; ".join(problems)
    )
    assert len(sync.sources()) >= 1


def test_stored_notebooks_have_no_outputs():
    import nbformat

    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name} stores outputs"
                assert cell.execution_count is None, path.name


def test_check_detects_an_edited_source_and_an_orphan(tmp_path):
    sync = _sync_module()
    sources = sync.sources()
    first = sources[0]
    shutil.copy(first, tmp_path / first.name)
    shutil.copy(first.with_suffix(".ipynb"), tmp_path / f"{first.stem}.ipynb")
    assert sync.out_of_sync(tmp_path) == []

    # An edit to the source makes the notebook stale; syncing fixes it.
    source = tmp_path / first.name
    source.write_text(source.read_text() + "\n# %%\nprint('one more cell')\n")
    assert any("out of date" in p for p in sync.out_of_sync(tmp_path))
    assert sync.sync(tmp_path) == [f"{first.stem}.ipynb"]
    assert sync.out_of_sync(tmp_path) == []
    assert sync.main(["--check", "--dir", str(tmp_path)]) == 0

    # A notebook without a source, and a source without a notebook.
    (tmp_path / "99_orphan.ipynb").write_text("{}")
    (tmp_path / "98_new.py").write_text("# %%\nx = 1\n")
    problems = sync.out_of_sync(tmp_path)
    assert any("99_orphan.ipynb has no source" in p for p in problems)
    assert any("98_new.ipynb is missing" in p for p in problems)
    assert sync.main(["--check", "--dir", str(tmp_path)]) == 1


def test_render_is_deterministic_and_cleared():
    sync = _sync_module()
    for source in sync.sources():
        assert sync.render(source) == sync.render(source)
