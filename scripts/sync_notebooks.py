"""Regenerate the tutorial notebooks from their jupytext sources.

The percent-format `notebooks/NN_name.py` files are the source of truth
(they diff and review like code); each `notebooks/NN_name.ipynb` is
generated from its source with every output and execution count cleared,
so the stored notebooks never carry stale or backend-specific results.

Usage:

    python scripts/sync_notebooks.py            # rewrite every .ipynb
    python scripts/sync_notebooks.py --check    # exit 1 if any is stale

`--check` also fails on a notebook that has no source (an orphan) and on a
source without its notebook. `tests/notebooks/test_notebooks_in_sync.py`
runs the same check.
"""

import argparse
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"
SOURCE_GLOB = "[0-9][0-9]_*.py"

# Stored in every generated notebook so Colab and Jupyter open it with a
# Python 3 kernel.
NOTEBOOK_METADATA = {
    "kernelspec": {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    },
    "language_info": {"name": "python"},
    "colab": {"provenance": []},
}


def sources(notebook_dir=NOTEBOOK_DIR):
    """The jupytext sources, sorted by name."""
    return sorted(pathlib.Path(notebook_dir).glob(SOURCE_GLOB))


def render(source):
    """Returns the `.ipynb` text generated from one percent-format source.

    Outputs and execution counts are cleared; the text is deterministic
    (same source, same bytes), which is what `--check` compares.
    """
    import jupytext
    import nbformat

    notebook = jupytext.read(source, fmt="py:percent")
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        # Cell ids are random by default; derive them from the position so
        # regenerating an unchanged source gives the same file.
    for i, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{i:03d}"
    notebook.metadata = dict(NOTEBOOK_METADATA)
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    nbformat.validate(notebook)
    return nbformat.writes(notebook, version=4) + "\n"


def out_of_sync(notebook_dir=NOTEBOOK_DIR):
    """Lists problems: stale or missing notebooks and orphan notebooks.

    Returns:
        A list of human-readable strings, empty when all is in sync.
    """
    notebook_dir = pathlib.Path(notebook_dir)
    problems = []
    srcs = sources(notebook_dir)
    if not srcs:
        problems.append(
            f"no notebook sources ({SOURCE_GLOB}) in {notebook_dir}"
        )
    for source in srcs:
        target = source.with_suffix(".ipynb")
        if not target.exists():
            problems.append(f"{target.name} is missing")
        elif target.read_text(encoding="utf-8") != render(source):
            problems.append(f"{target.name} is out of date with {source.name}")
    stems = {s.stem for s in srcs}
    for notebook in sorted(notebook_dir.glob("*.ipynb")):
        if notebook.stem not in stems:
            problems.append(f"{notebook.name} has no source {notebook.stem}.py")
    return problems


def sync(notebook_dir=NOTEBOOK_DIR):
    """Writes every notebook from its source; returns the rewritten names."""
    written = []
    for source in sources(notebook_dir):
        target = source.with_suffix(".ipynb")
        text = render(source)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target.name)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if any notebook is out of sync",
    )
    parser.add_argument(
        "--dir", default=str(NOTEBOOK_DIR), help="the notebooks folder"
    )
    args = parser.parse_args(argv)
    if args.check:
        problems = out_of_sync(args.dir)
        for problem in problems:
            print(f"out of sync: {problem}", file=sys.stderr)
        if problems:
            print(
                "Run `python scripts/sync_notebooks.py` to regenerate.",
                file=sys.stderr,
            )
            return 1
        print(f"{len(sources(args.dir))} notebooks in sync.")
        return 0
    written = sync(args.dir)
    for name in written:
        print(f"wrote notebooks/{name}")
    if not written:
        print("all notebooks already in sync.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
