"""Weights-only checkpoint loading that still reads mmengine's checkpoints.

Checkpoints are untrusted files. torch >= 2.6 unpickles with
``weights_only=True``, which refuses mmengine's ``HistoryBuffer`` and the numpy
objects in a checkpoint's ``message_hub``, so resume and ``load_from`` fail
(STACK.md, trap 1). Rather than falling back to full unpickling, which runs
arbitrary code, we allow-list exactly those types.
"""
import os.path as osp
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['allow_mmengine_checkpoint_types', 'safe_torch_load', 'UnsafeCheckpointError']


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds objects outside the weights-only allow-list."""


def _numpy_types() -> list:
    types = [np.ndarray, np.dtype, np.core.multiarray._reconstruct,
             np.core.multiarray.scalar]
    types += [type(np.dtype(name)) for name in
              ('float16', 'float32', 'float64', 'int32', 'int64', 'bool', 'uint8')]
    return types


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list the types mmengine writes into checkpoints, and only those."""
    torch.serialization.add_safe_globals([HistoryBuffer] + _numpy_types())


def safe_torch_load(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load`` with weights only, with an error that names the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the file holds objects that weights-only
            unpickling refuses (it may run code); nothing from it was executed.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Checkpoint {path!r} not found: check the path (convert OpenAI / '
            'open_clip weights first with tools/convert_clip_weights.py).')
    allow_mmengine_checkpoint_types()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError or RuntimeError
        if 'weights_only' in str(err) or 'Unsupported global' in str(err):
            raise UnsafeCheckpointError(
                f'Refused to load {path!r}: it contains objects that are not plain '
                f'tensors or allow-listed mmengine/numpy types, and unpickling them '
                f'could run code. Re-save it as a plain state dict. ({err})') from err
        raise
