"""``torch.load`` weights-only, with an allow-list of exactly what mmengine writes.

Checkpoints are untrusted files: unpickling one fully runs any code it names.
torch >= 2.6 loads weights-only by default, which refuses mmengine's
``HistoryBuffer`` and the numpy objects in a checkpoint's ``message_hub``
(docs/pitfalls.md, "Weights-only torch.load"). :func:`safe_torch_load` admits exactly what mmengine
0.10.7 writes (measured on a tiny Runner; ``tests/utils/test_checkpoint.py``
re-measures it), and only for the duration of its own load, and refuses
everything else:

* ``HistoryBuffer`` and its statistics methods, which pickle as
  ``getattr(HistoryBuffer, 'mean')``; ``builtins.getattr`` is therefore mapped
  to :func:`_history_buffer_getattr`, which resolves only those;
* numpy arrays / scalars of float64 and int64 (``np.ndarray``, ``np.dtype``,
  ``_reconstruct``, ``scalar``, the two dtype classes).
"""
import contextlib
import os
import os.path as osp
import pickle
import re
from typing import Any, Callable, Iterator

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from numpy._core.multiarray import _reconstruct, scalar

from .digest import digest_mismatch

__all__ = [
    'CheckpointReadError', 'UnsafeCheckpointError', 'SAFE_GLOBAL_NAMES', 'mmengine_safe_globals',
    'refuse_unsafe_env', 'safe_torch_load', 'translate_unpickling_error'
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

# What torch's weights-only unpickler says when a file names a forbidden
# object (other unpickling errors mean a corrupt file).
_UNSAFE_PATTERN = re.compile(
    r'Unsupported global|unrecognized function|Can only (build|create)|getattr\(|is blocked')


@contextlib.contextmanager
def mmengine_safe_globals() -> Iterator[None]:
    """Admit the allow-list for the loads inside the block, and only those.

    torch's own ``safe_globals`` context removes its entries on exit even if
    someone had added them before; this adds (and removes) only the missing ones.
    """
    present = torch.serialization.get_safe_globals()
    missing = [g for g in _SAFE_GLOBALS if g not in present]
    with torch.serialization.safe_globals(missing):
        yield


def refuse_unsafe_env(path: str) -> None:
    """Refuse to load while an environment variable makes torch unpickle fully.

    An explicit ``weights_only=True`` wins over the variable in torch, but
    mmengine's loaders pass no ``weights_only``: every load of this plugin
    refuses alike, so that setting it never half-works.
    """
    if os.getenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '0').lower() in ('1', 'y', 'yes', 'true'):
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {path!r}: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is '
            'set, which makes torch.load execute code from files; unset it.')


def _unsafe_message(path: str, err: Exception) -> str:
    found = re.search(r'GLOBAL (\S+)|getattr\([^)]*\)|unrecognized function \S+', str(err))
    what = found.group(0) if found else 'an object that is not a tensor'
    return (f'Refused to load checkpoint {path!r}: it references {what}, which is not '
            'a tensor or an allow-listed mmengine/numpy type, and unpickling it could run '
            'code. Nothing from it was executed. If you trust the file, re-save its '
            'tensors as a plain state dict (torch.save(model.state_dict(), ...)) in an '
            'isolated environment.')


def _unreadable_message(path: str, err: Exception) -> str:
    if isinstance(err, PermissionError):
        return f'Checkpoint {path!r} cannot be read: permission denied; fix its permissions.'
    return (f'Checkpoint {path!r} cannot be read: it is truncated, corrupt or not a '
            'PyTorch checkpoint. Re-download or re-save it; for an interrupted run, '
            'resume from the previous checkpoint (tools/train.py --resume picks the '
            f'newest complete one). ({type(err).__name__}: {str(err)[:200]})')


def translate_unpickling_error(path: str, load: Callable[[], Any]) -> Any:
    """``load()``, with an unpickling error turned into :class:`UnsafeCheckpointError`
    (a forbidden object) or :class:`CheckpointReadError` (a corrupt file) naming ``path``."""
    try:
        return load()
    except pickle.UnpicklingError as err:
        if _UNSAFE_PATTERN.search(str(err)):
            raise UnsafeCheckpointError(_unsafe_message(path, err)) from err
        raise CheckpointReadError(_unreadable_message(path, err)) from err


def safe_torch_load(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointReadError: it cannot be read, is truncated or is not a
            PyTorch file.
        UnsafeCheckpointError: it holds objects that weights-only unpickling
            refuses (they could run code), or ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
            is set; nothing from it was executed.
        CheckpointReadError: its tensors differ from the content digest it
            records (:mod:`.digest`).
    """
    path = osp.expanduser(str(path))
    refuse_unsafe_env(path)
    if not osp.exists(path):
        raise FileNotFoundError(
            f'Checkpoint {path!r} not found: check the path (convert OpenAI / '
            'open_clip weights first with tools/convert_clip_weights.py).')
    if not osp.isfile(path):
        raise CheckpointReadError(f'Checkpoint {path!r} is not a file: give the .pth file.')

    def load():
        with mmengine_safe_globals():
            return torch.load(path, map_location=map_location, weights_only=True)

    try:
        checkpoint = translate_unpickling_error(path, load)
    except (UnsafeCheckpointError, CheckpointReadError):
        raise
    except (OSError, EOFError, RuntimeError, ValueError) as err:
        raise CheckpointReadError(_unreadable_message(path, err)) from err
    problem = digest_mismatch(checkpoint, path)
    if problem:
        raise CheckpointReadError(problem)
    return checkpoint
