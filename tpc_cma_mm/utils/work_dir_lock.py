"""One training per work dir: an advisory lock held for the training's life (POSIX ``flock``).

Two trainings in one work dir overwrite each other's checkpoints and
``last_checkpoint`` pointer, and both exit 0 (docs/reliability.md, "Files, full
disks and concurrent runs"). :func:`lock_work_dir` takes an exclusive lock on
``WORK_DIR/.training.lock`` and writes who holds it (pid, host, start time,
command) into the file; a second process is refused with that record. The
operating system releases the lock when its process ends, however it ends, so
a killed run never blocks the next one. Standard library only::

    from tpc_cma_mm.utils.work_dir_lock import lock_work_dir, unlock_work_dir
    lock_work_dir('work_dirs/run')      # raises WorkDirBusyError if another run holds it
    ...
    unlock_work_dir('work_dirs/run')
"""
import contextlib
import json
import os
import os.path as osp
import socket
import sys
import time

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None

__all__ = ['LOCK_NAME', 'TURN_NAME', 'WorkDirBusyError', 'lock_work_dir', 'take_turns',
           'unlock_work_dir']

LOCK_NAME = '.training.lock'
TURN_NAME = '.turn.lock'
# This process's locks (lock path -> file descriptor): flock locks belong to an
# open file, so the same process locking again (a run restarted after an error
# in one Python session) reuses its own instead of refusing itself.
_HELD = {}


class WorkDirBusyError(RuntimeError):
    """Another process trains in this work dir."""


def _lock_path(work_dir: str) -> str:
    return osp.join(osp.realpath(work_dir), LOCK_NAME)


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        record = json.loads(os.read(fd, 65536).decode('utf-8'))
        return (f'pid {record["pid"]} on host {record["host"]}, started {record["started"]} '
                f'({record["command"]})')
    except (ValueError, KeyError, TypeError):
        return 'a process that has not yet recorded itself'


def lock_work_dir(work_dir: str) -> bool:
    """Lock ``work_dir`` for this process; False where the platform has no ``flock``.

    Raises :class:`WorkDirBusyError` naming the other run and the fix if another
    process holds the lock.
    """
    if fcntl is None:
        return False
    path = _lock_path(work_dir)
    if path in _HELD:
        return True
    os.makedirs(osp.dirname(path), exist_ok=True)
    # O_NOFOLLOW: a symbolic link planted at the lock's name is refused, not followed.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise WorkDirBusyError(
            f'Work dir {work_dir} is in use by another training: {holder}. Two trainings '
            'in one work dir overwrite each other\'s checkpoints. Give this one another '
            f'--work-dir, or wait for that one to end (lock file {path}).') from None
    # The lock lives on this file, so the record is written in place, not renamed.
    record = dict(pid=os.getpid(), host=socket.gethostname(),
                  started=time.strftime('%Y-%m-%d %H:%M:%S %Z'), command=' '.join(sys.argv))
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(record).encode('utf-8'))
    _HELD[path] = fd
    return True


def unlock_work_dir(work_dir: str) -> None:
    """Release this process's lock on ``work_dir`` (the lock file stays; it is reused)."""
    fd = _HELD.pop(_lock_path(work_dir), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def take_turns(work_dir: str):
    """Wait until no other process is inside ``take_turns(work_dir)``, then hold it.

    For work that several processes may each need done in one folder, such as a
    caption decoder that parallel reproduction jobs share (the pretrained model
    scored for every seed): each trains and reads it in turn instead of being
    refused by the training lock. Blocks on ``WORK_DIR/.turn.lock``; where the
    platform has no ``flock`` it does not wait.
    """
    if fcntl is None:
        yield
        return
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(osp.realpath(work_dir), TURN_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
