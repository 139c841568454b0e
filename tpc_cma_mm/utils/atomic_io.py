"""Writing files and folders safely (standard library only, so any process can use it).

Every file this project writes goes through here (docs/reliability.md, "Files,
full disks and concurrent runs"):

- atomic: the bytes (or a folder's files) go to a hidden temporary sibling
  ``.NAME.<host>-<pid>.<random>.partial``, are fsynced, then renamed onto
  NAME; a kill leaves NAME as it was or complete;
- a leftover of a killed writer (on this host, its pid gone) is removed the
  next time NAME is written, so no ``.partial`` litter piles up;
- never through a symbolic link: a link at NAME is refused (this project
  creates none), so a write cannot land in the file the link points to;
- :func:`write_outputs` / :func:`atomic_folder` refuse to replace other
  content unless asked (``overwrite``, the tools' ``--overwrite``);
- a full disk raises :class:`DiskFullError`, one line naming the path, the
  bytes needed and the bytes free.
"""
import contextlib
import errno
import os
import os.path as osp
import shutil
import socket
import tempfile
from typing import Dict, Iterator, Optional, Union

__all__ = ['DiskFullError', 'OutputExistsError', 'PARTIAL_SUFFIX', 'SymlinkOutputError',
           'atomic_folder', 'atomic_write', 'disk_full_error', 'refuse_existing',
           'remove_leftovers', 'write_outputs']

#: Suffix of the hidden temporary files; a kill mid-write can leave one behind.
PARTIAL_SUFFIX = '.partial'
_FULL = (errno.ENOSPC, errno.EDQUOT)


class OutputExistsError(FileExistsError):
    """An output exists with other content and overwriting was not asked for."""


class SymlinkOutputError(OSError):
    """An output path is a symbolic link (a write would land where the link points)."""


class DiskFullError(OSError):
    """The file system is full (or over quota); the message names path, need and free."""

    def __str__(self) -> str:
        return self.strerror


def disk_full_error(path: str, needed: Optional[int] = None, at_least: bool = False,
                    atomic: bool = True) -> DiskFullError:
    """A :class:`DiskFullError` for ``path``: how much it needs, how much is free, and
    (``atomic``: written here, through a temporary file) that nothing is half-written."""
    folder = osp.dirname(osp.abspath(path))
    while not osp.isdir(folder) and folder != osp.dirname(folder):
        folder = osp.dirname(folder)
    free = shutil.disk_usage(folder).free
    need = 'more space' if needed is None else \
        f'{"more than " if at_least else ""}{needed:,} bytes'
    return DiskFullError(
        errno.ENOSPC, f'Disk full: writing {path} needs {need}; {free:,} bytes are free on '
        'its file system.' + (' Nothing was left half-written there.' if atomic else '')
        + ' Free space, or write elsewhere.', path)


def _refuse_symlink(path: str) -> None:
    if osp.islink(path):
        raise SymlinkOutputError(
            errno.EEXIST, f'{path} is a symbolic link (to {os.readlink(path)}); refusing to '
            'write through it. Remove the link or give another path.', path)


def _temp_prefix(path: str) -> str:
    return f'.{osp.basename(path)}.{socket.gethostname()}-{os.getpid()}.'


def _writer_is_dead(name: str, prefix: str) -> bool:
    """Whether the temporary ``name`` (under ``prefix`` = ``.NAME.``) belongs to a
    process of this host that no longer runs."""
    token = name[len(prefix):-len(PARTIAL_SUFFIX)].rpartition('.')[0]
    host, _, pid = token.rpartition('-')
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def remove_leftovers(path: Union[str, os.PathLike]) -> None:
    """Remove the temporary files and folders of ``path`` that a killed writer left."""
    path = osp.abspath(path)
    folder, prefix = osp.dirname(path), f'.{osp.basename(path)}.'
    for name in (os.listdir(folder) if osp.isdir(folder) else []):
        if name.startswith(prefix) and name.endswith(PARTIAL_SUFFIX) \
                and _writer_is_dead(name, prefix):
            leftover = osp.join(folder, name)
            if osp.isdir(leftover) and not osp.islink(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(leftover)


def _fsync_folder(folder: str) -> None:
    if hasattr(os, 'O_DIRECTORY'):
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write(filepath: Union[str, os.PathLike], data: bytes) -> None:
    """Write ``data`` so that ``filepath`` is never seen half-written.

    The bytes go to a hidden temporary file in the same directory, which is
    flushed, fsynced and then ``os.replace`` d onto ``filepath`` (atomic on
    POSIX and Windows); the directory is fsynced so the rename survives a
    power cut. A kill at any moment leaves ``filepath`` either as it was or
    complete, plus at most a ``.partial`` file that the next write removes.
    A symbolic link at ``filepath`` is refused; a full disk raises
    :class:`DiskFullError`.
    """
    filepath = osp.abspath(filepath)
    _refuse_symlink(filepath)
    folder = osp.dirname(filepath)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise (disk_full_error(filepath, len(data)) if err.errno in _FULL else err) from err
    remove_leftovers(filepath)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(filepath), suffix=PARTIAL_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, filepath)
    except BaseException as err:
        if osp.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) and err.errno in _FULL:
            raise disk_full_error(filepath, len(data)) from err
        raise
    _fsync_folder(folder)


def refuse_existing(paths, overwrite: bool = False) -> None:
    """Before long work whose outputs are ``paths``: refuse if any exists (or is a link).

    For a command that writes caches or logs on its way, so that a refusal at
    its end would come after it wrote them.
    """
    for path in paths:
        _refuse_symlink(path)
    existing = [path for path in paths if osp.exists(path)]
    if existing and not overwrite:
        raise OutputExistsError(
            f'{len(existing)} output file(s) exist: {", ".join(existing)}. Nothing was '
            'written. Give another output folder, or --overwrite to replace them.')


def write_outputs(files: Dict[str, bytes], overwrite: bool = False) -> None:
    """Write ``path -> bytes`` atomically; refuse first if any path holds other bytes.

    All files are checked before any is written, so a refusal leaves every
    file as it was. An existing file with the same bytes is not a conflict (a
    resumed or repeated run); a different one is refused unless ``overwrite``.
    """
    different = []
    for path, data in files.items():
        _refuse_symlink(path)
        if osp.isdir(path):
            raise OutputExistsError(f'{path} is a folder; give a file name. Nothing was written.')
        if osp.isfile(path):
            with open(path, 'rb') as f:
                if f.read() != data:
                    different.append(path)
    if different and not overwrite:
        raise OutputExistsError(
            f'{len(different)} output file(s) exist with other content: '
            f'{", ".join(different)}. Nothing was written. Give another output folder, '
            'or --overwrite to replace them.')
    for path, data in files.items():
        atomic_write(path, data)


def _tree_bytes(folder: str) -> int:
    return sum(osp.getsize(osp.join(root, name))
               for root, _, names in os.walk(folder) for name in names)


@contextlib.contextmanager
def atomic_folder(folder: Union[str, os.PathLike], overwrite: bool = False) -> Iterator[str]:
    """Fill a folder all at once: yields a temporary sibling, renamed onto ``folder`` on success.

    Example::

        with atomic_folder('exports/clip_hf') as tmp:
            model.save_pretrained(tmp)

    A non-empty ``folder`` is refused before anything is written unless
    ``overwrite`` (then it is replaced whole, never merged). On any error, or a
    kill, ``folder`` is as it was; the temporary sibling is removed (after a
    kill: by the next write of ``folder``). A full disk raises
    :class:`DiskFullError`.
    """
    folder = osp.abspath(folder)
    _refuse_symlink(folder)
    if osp.exists(folder) and not osp.isdir(folder):
        raise OutputExistsError(f'{folder} is a file, not a folder. Nothing was written.')
    if osp.isdir(folder) and os.listdir(folder) and not overwrite:
        raise OutputExistsError(
            f'{folder} exists and is not empty. Nothing was written. Give another folder, '
            'or --overwrite to replace it.')
    parent = osp.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    remove_leftovers(folder)
    tmp = tempfile.mkdtemp(prefix=_temp_prefix(folder), suffix=PARTIAL_SUFFIX, dir=parent)
    try:
        yield tmp
        for root, _, names in os.walk(tmp):
            for name in names:
                with open(osp.join(root, name), 'rb') as f:
                    os.fsync(f.fileno())
        os.chmod(tmp, 0o755)
        if osp.isdir(folder):  # empty, or overwrite: move it aside, then swap
            old = tempfile.mkdtemp(prefix=_temp_prefix(folder), suffix=PARTIAL_SUFFIX,
                                   dir=parent)
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old)
        else:
            os.rename(tmp, folder)
    except BaseException as err:
        written = _tree_bytes(tmp) if osp.isdir(tmp) else 0
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError) and err.errno in _FULL:
            raise disk_full_error(folder, written, at_least=True) from err
        raise
    _fsync_folder(parent)
