"""Walking a data folder: class sub-folders, or every file below a root."""

import os

# Folders that archive tools leave behind and that are never classes.
_IGNORED_FOLDERS = ("__MACOSX",)


def _hidden(name):
    return name.startswith(".") or name in _IGNORED_FOLDERS


def _walk(root, counts):
    """Every non-hidden file below `root`, sorted by relative path."""
    found = []
    for folder, dirs, files in os.walk(root):
        kept = [d for d in dirs if not _hidden(d)]
        counts["hidden"] += len(dirs) - len(kept)
        dirs[:] = sorted(kept)
        for file in files:
            if _hidden(file):
                counts["hidden"] += 1
            else:
                found.append(os.path.join(folder, file))
    return sorted(found, key=lambda p: os.path.relpath(p, root).split(os.sep))


def list_folder(path, labelled=True, what="files"):
    """Lists the files of a data folder, with their class folder names.

    Labelled: `path/<class>/<file>`, the class being the name of the
    sub-folder directly under `path`; files deeper inside a class folder
    belong to that class. Files directly in `path` have no class and are
    returned in `skipped`. Unlabelled: every file below `path`, at any
    depth. Hidden files and folders (names starting with `.`) and
    `__MACOSX` folders are ignored (counted in `notes`). Order: classes
    by name, files by their path relative to `path`.

    Args:
        path: str or path. The data folder.
        labelled: bool. Whether sub-folders are classes. Defaults to
            `True`.
        what: str. What the files are, for messages. Defaults to
            `"files"`.

    Returns:
        `(path, files, labels, classes, skipped, notes)`: the absolute
        folder, the absolute file paths, their class names (or `None` when
        unlabelled), every class folder name (also empty ones, in order),
        `(where, why)` pairs of files left out, and notes.

    Example:

    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "cat").mkdir()
    >>> _ = (root / "cat" / "a.png").write_bytes(b"")
    >>> list_folder(root)[2]
    ['cat']
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No such folder: {path}")
    counts = {"hidden": 0}
    files, labels, skipped, notes = [], [], [], []
    classes = []
    if labelled:
        entries = sorted(os.listdir(path))
        for entry in entries:
            full = os.path.join(path, entry)
            if _hidden(entry):
                counts["hidden"] += 1
            elif os.path.isdir(full):
                classes.append(entry)
            else:
                skipped.append(
                    (full, "at the top level, not in a class folder")
                )
        if not classes:
            raise ValueError(
                f"{path} has no class sub-folders. Put the {what} of each "
                "class in a sub-folder named after it (data/cat/1.png, "
                "data/dog/2.png, ...), or read it unlabelled."
            )
        for name in classes:
            found = _walk(os.path.join(path, name), counts)
            files.extend(found)
            labels.extend([name] * len(found))
    else:
        files = _walk(path, counts)
        labels = None
    if counts["hidden"]:
        n = counts["hidden"]
        entries = "entry" if n == 1 else "entries"
        notes.append(
            f"{n} hidden {entries} ignored (names starting with '.', "
            "__MACOSX folders)"
        )
    return path, files, labels, classes, skipped, notes


def drop_empty_classes(classes, labels, root, what):
    """The classes left without files, each as a `(where, why)` pair.

    Args:
        classes: list of str. Every class folder name.
        labels: list of str. The class of each kept file.
        root: str. The data folder.
        what: str. What the files are, for the message.

    Returns:
        `(dropped, skipped)`: the dropped class names, and one
        `(folder, why)` pair for each.

    Example:

    >>> drop_empty_classes(["cat", "dog"], ["cat"], "/data", "images")
    (['dog'], [('/data/dog', "class 'dog' dropped: no readable images")])
    """
    kept = set(labels)
    dropped = [c for c in classes if c not in kept]
    skipped = [
        (
            os.path.join(root, c),
            f"class {c!r} dropped: no readable {what}",
        )
        for c in dropped
    ]
    return dropped, skipped
