"""Atomic file writes: a reader sees the old file or the new one, never a partial one."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _current_umask() -> int:
    """Return the process umask (reading it requires setting it, so it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_temporary(path: Path, data: bytes) -> str:
    """Write ``data`` to a new temporary file next to ``path`` and return its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file as 0600, so give it the mode open() would under the umask.
        os.fchmod(handle, 0o666 & ~_current_umask())
        with os.fdopen(handle, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return tmp_name


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``.

    The rename (``os.replace``) is atomic on POSIX and Windows file systems, so a crash or an
    interrupt leaves either the previous file or the complete new one.
    """
    tmp_name = _write_temporary(path, data)
    try:
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_new_text(path: Path, text: str, numbered: bool = True) -> Path:
    """Write UTF-8 text to a file that does not exist yet, never replacing one.

    The complete file appears under its name at once (a hard link to a temporary file), and
    a link fails when the name exists, so two processes writing at the same time never
    take the same name.

    Args:
        path: The file to create.
        text: Its content.
        numbered: When ``path`` exists, write the first free ``stem-2.suffix``, ``-3``...
            instead of raising.

    Returns:
        The path written.

    Raises:
        FileExistsError: If ``path`` exists and ``numbered`` is False.
    """
    tmp_name = _write_temporary(path, text.encode("utf-8"))
    try:
        for candidate in _numbered_paths(path):
            try:
                os.link(tmp_name, candidate)
                return candidate
            except FileExistsError:
                if not numbered:
                    raise
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    raise AssertionError("unreachable: _numbered_paths never ends")


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see ``atomic_write_bytes``)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _numbered_paths(path: Path) -> Iterator[Path]:
    """Yield ``path``, then ``stem-2.suffix``, ``stem-3.suffix``... without end."""
    yield path
    for counter in itertools.count(2):
        yield path.with_name(f"{path.stem}-{counter}{path.suffix}")


def unique_path(path: Path) -> Path:
    """Return ``path`` if it does not exist, else the first free ``stem-2.suffix``, ``-3``..."""
    return next(candidate for candidate in _numbered_paths(path) if not candidate.exists())
