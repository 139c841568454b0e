"""Which checkpoint of a work dir to resume from: the newest *complete* one.

A kill during a save can leave a truncated newest file, and mmengine writes
``last_checkpoint`` non-atomically (docs/reliability.md, "A kill never corrupts").
"""
import os
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.logging import print_log

__all__ = ['find_resumable_checkpoint', 'is_complete_checkpoint']


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a finished torch zip archive.

    torch writes the zip central directory last, so a file cut short by a kill
    lacks it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith('/data.pkl') or n == 'data.pkl' for n in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The newest complete checkpoint of ``work_dir``, or ``None``.

    ``last_checkpoint`` is trusted when it names a complete file; otherwise the
    ``iter_*.pth`` / ``epoch_*.pth`` files are tried newest first, with a warning.
    """
    pointer, named = osp.join(work_dir, 'last_checkpoint'), None
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            named = f.read().strip() or None
    found = []
    for name in (os.listdir(work_dir) if osp.isdir(work_dir) else []):
        match = re.fullmatch(r'(?:iter|epoch)_(\d+)\.pth', name)
        if match:
            found.append((int(match.group(1)), osp.join(work_dir, name)))
    candidates = ([named] if named else []) + [p for _, p in sorted(found, reverse=True)]
    for path in candidates:
        if is_complete_checkpoint(path):
            if path != named:
                print_log(f'{pointer} names {named!r}, which is missing or incomplete; '
                          f'resuming from {path} instead.', logger='current', level=30)
            return path
    return None
