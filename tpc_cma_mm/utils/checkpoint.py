"""Weights-only checkpoint loading that still reads mmengine's checkpoints.

Checkpoints are untrusted files: unpickling one fully (weights-only off)
runs any code it names. torch >= 2.6 loads weights-only by default, which
refuses mmengine's ``HistoryBuffer`` and the numpy objects in a checkpoint's
``message_hub`` (STACK.md, trap 1). We allow-list exactly what mmengine 0.10.7
writes (measured on a tiny Runner; ``tests/utils/test_checkpoint.py`` re-measures
it) and refuse everything else:

* ``HistoryBuffer`` and its statistics methods, which pickle as
  ``getattr(HistoryBuffer, 'mean')``; ``builtins.getattr`` is therefore mapped
  to :func:`_history_buffer_getattr`, which resolves only those;
* numpy arrays / scalars of float64 and int64 (``np.ndarray``, ``np.dtype``,
  ``_reconstruct``, ``scalar``, the two dtype classes).

:func:`allow_mmengine_checkpoint_types` also makes every mmengine
``CheckpointLoader`` scheme weights-only (:mod:`.checkpoint_schemes`).
"""
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log
from numpy._core.multiarray import _reconstruct, scalar

__all__ = [
    'CheckpointReadError', 'UnsafeCheckpointError', 'allow_mmengine_checkpoint_types',
    'find_resumable_checkpoint', 'is_complete_checkpoint', 'refuse_unsafe_env',
    'safe_torch_load', 'unreadable_message', 'unsafe_error', 'SAFE_GLOBAL_NAMES',
    'UNSAFE_PATTERN'
]


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds objects outside the weights-only allow-list."""


class CheckpointReadError(RuntimeError):
    """A checkpoint file cannot be read: unreadable, truncated or not PyTorch's."""


def _history_buffer_getattr(owner: Any, name: str) -> Any:
    """``getattr`` limited to the public methods of ``HistoryBuffer``."""
    if (owner is HistoryBuffer and not name.startswith('_')
            and callable(HistoryBuffer.__dict__.get(name))):
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: getattr({owner!r}, {name!r}); only '
        'getattr(HistoryBuffer, <statistics method>) is allow-listed')


_SAFE_GLOBALS = [
    HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'),
    np.ndarray, np.dtype, _reconstruct, scalar,
    type(np.dtype('float64')), type(np.dtype('int64')),
]
#: Dotted names of the globals the allow-list admits (what mmengine writes).
SAFE_GLOBAL_NAMES = frozenset(
    g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
    for g in _SAFE_GLOBALS)


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list the types mmengine writes into checkpoints, and only those,
    and route mmengine's checkpoint loading through weights-only loaders."""
    torch.serialization.add_safe_globals(_SAFE_GLOBALS)
    from .checkpoint_schemes import install_safe_checkpoint_loaders
    install_safe_checkpoint_loaders()


# What torch's weights-only unpickler says when a file names a forbidden
# object (other unpickling errors mean a corrupt file).
UNSAFE_PATTERN = re.compile(
    r'Unsupported global|unrecognized function|Can only (build|create)|getattr\(|is blocked')


def unsafe_error(path: str, err: Exception) -> UnsafeCheckpointError:
    """The error for a refused file, naming it and the object it references."""
    found = re.search(r'GLOBAL (\S+)|getattr\([^)]*\)|unrecognized function \S+', str(err))
    what = found.group(0) if found else 'an object that is not a tensor'
    return UnsafeCheckpointError(
        f'Refused to load checkpoint {path!r}: it references {what}, which is not '
        'a tensor or an allow-listed mmengine/numpy type, and unpickling it could run '
        'code. Nothing from it was executed. If you trust the file, re-save its '
        'tensors as a plain state dict (torch.save(model.state_dict(), ...)) in an '
        'isolated environment.')


def refuse_unsafe_env(path: str) -> None:
    """Refuse to load while an environment variable makes torch unpickle fully."""
    if os.getenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '0').lower() in ('1', 'y', 'yes', 'true'):
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {path!r}: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is '
            'set, which makes torch.load execute code from files; unset it.')


def safe_torch_load(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointReadError: it cannot be read, is truncated or is not a
            PyTorch file.
        UnsafeCheckpointError: it holds objects that weights-only unpickling
            refuses (they could run code); nothing from it was executed.
    """
    path = osp.expanduser(str(path))
    if not osp.exists(path):
        raise FileNotFoundError(
            f'Checkpoint {path!r} not found: check the path (convert OpenAI / '
            'open_clip weights first with tools/convert_clip_weights.py).')
    if not osp.isfile(path):
        raise CheckpointReadError(f'Checkpoint {path!r} is not a file: give the .pth file.')
    torch.serialization.add_safe_globals(_SAFE_GLOBALS)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if UNSAFE_PATTERN.search(str(err)):
            raise unsafe_error(path, err) from err
        raise CheckpointReadError(unreadable_message(path, err)) from err
    except (OSError, EOFError, RuntimeError, ValueError) as err:
        raise CheckpointReadError(unreadable_message(path, err)) from err


def unreadable_message(path: str, err: Exception) -> str:
    """What to say about a checkpoint file that cannot be read."""
    if isinstance(err, PermissionError):
        return f'Checkpoint {path!r} cannot be read: permission denied; fix its permissions.'
    return (f'Checkpoint {path!r} cannot be read: it is truncated, corrupt or not a '
            'PyTorch checkpoint. Re-download or re-save it; for an interrupted run, '
            'resume from the previous checkpoint (tools/train.py --resume picks the '
            f'newest complete one). ({type(err).__name__}: {str(err)[:200]})')


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
