"""Output folders that never lose a user's files, and a writer's lock.

Every command that writes a folder (a feature cache, a training run)
writes only into a new or empty folder, or into one holding nothing but
its own files; it deletes only files it wrote; and it holds an exclusive
lock while it writes, so a second writer fails at once instead of mixing
its results with the first one's.
"""

import contextlib
import os

LOCK_FILE = ".lock"


class OutputFolderError(ValueError):
    """An output folder cannot be written as asked (it is a file, or holds
    files keras_daam did not write)."""


class FolderLockedError(OutputFolderError):
    """Another process holds the folder's lock."""


def prepare_output_folder(path, own_files, what="output", error=None):
    """Creates `path`, or checks that it holds only `own_files`.

    Args:
        path: str. The folder.
        own_files: names (files or sub-folders) the caller writes there.
        what: str. How to name the folder in messages.
        error: the `OutputFolderError` subclass to raise (a feature cache
            raises its `CacheError`); `OutputFolderError` by default.

    Returns:
        True if the folder already held some of `own_files`.

    Raises:
        OutputFolderError: `path` is a file, or holds other files (they are
            named; nothing is touched).
    """
    error = error or OutputFolderError
    if os.path.exists(path) and not os.path.isdir(path):
        raise error(f"The {what} {path} exists and is not a folder.")
    os.makedirs(path, exist_ok=True)
    present = [f for f in os.listdir(path) if not f.endswith(".tmp")]
    foreign = sorted(f for f in present if f not in own_files)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise error(
            f"The {what} folder {path} holds files keras_daam did not write "
            f"({shown}). Choose a new or empty folder: nothing you own is "
            "overwritten."
        )
    return any(f != LOCK_FILE for f in present)


@contextlib.contextmanager
def folder_lock(folder, what="folder"):
    """Holds `<folder>/.lock` exclusively (non-blocking, via `filelock`).

    The lock is released when the block ends or the process dies (Ctrl-C,
    a crash), so an interrupted writer never leaves the folder locked.

    Raises:
        FolderLockedError: another process holds the lock.
    """
    import filelock

    path = os.path.join(folder, LOCK_FILE)
    lock = filelock.FileLock(path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise FolderLockedError(
            f"Another process is writing the {what} at {folder} (it holds "
            f"{path}). Wait for it to finish, or write elsewhere."
        ) from None
    try:
        yield
    finally:
        lock.release()
