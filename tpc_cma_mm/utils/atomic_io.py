"""Atomic file writes (standard library only, so any process can use it)."""
import os
import os.path as osp
import tempfile
from typing import Union

__all__ = ['atomic_write', 'PARTIAL_SUFFIX']

#: Suffix of the hidden temporary files; a kill mid-write can leave one behind.
PARTIAL_SUFFIX = '.partial'


def atomic_write(filepath: Union[str, os.PathLike], data: bytes) -> None:
    """Write ``data`` so that ``filepath`` is never seen half-written.

    The bytes go to a hidden temporary file in the same directory, which is
    flushed, fsynced and then ``os.replace`` d onto ``filepath`` (atomic on
    POSIX and Windows); the directory is fsynced so the rename survives a
    power cut. A kill at any moment leaves ``filepath`` either as it was or
    complete, plus at most a ``.<name>.*.partial`` file.
    """
    filepath = osp.abspath(filepath)
    folder = osp.dirname(filepath)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.',
                               suffix=PARTIAL_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    if hasattr(os, 'O_DIRECTORY'):
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
