"""Atomic file writes: write a temporary file beside the target, then rename it over the target."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path`` in one rename, so a process killed
    mid-write leaves the old file (or none), never a truncated one. On error the temporary file is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
