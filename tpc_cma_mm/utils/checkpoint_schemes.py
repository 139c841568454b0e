"""Weights-only loaders for every mmengine ``CheckpointLoader`` scheme.

``CheckpointLoader`` is the one door of resume, ``load_from``,
``init_cfg=dict(type='Pretrained')`` and ``mmengine.runner.load_checkpoint``.
mmengine 0.10.7 fills it with loaders that call ``torch.load`` without
``weights_only`` (the default, weights-only since torch 2.6, is switched off
by ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) or, for URLs, through
``torch.hub.load_state_dict_from_url``, which unpickles *fully* by default.
Registered here (``register_scheme(..., force=True)``, no patching):

* local paths: :func:`~tpc_cma_mm.utils.checkpoint.safe_torch_load`;
* ``http://`` / ``https://``: download into torch's hub cache (rank 0 first),
  then the same weights-only load;
* model-zoo shortcuts (``torchvision://``, ``open-mmlab://``, ``mmcls://`` ...),
  which resolve to mmengine's unsafe URL loader internally: refused, with the
  fix (pass the file's path or URL);
* any other scheme (``s3://``, ``pavi://`` ...): mmengine's loader, which
  loads weights-only by default, guarded against the environment override
  and with errors that name the file.
"""
import functools
import os
import os.path as osp
import pickle
from typing import Any
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.runner.checkpoint import CheckpointLoader

from .checkpoint import (UNSAFE_PATTERN, CheckpointReadError, UnsafeCheckpointError,
                         refuse_unsafe_env, safe_torch_load, unreadable_message,
                         unsafe_error)

__all__ = ['install_safe_checkpoint_loaders', 'ZOO_PREFIXES']

ZOO_PREFIXES = ('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://',
                'mmcls://')


def _safe(loader):
    loader._tpc_safe = True
    return loader


@_safe
def load_from_safe_local(filename: str, map_location: Any = None) -> Any:
    refuse_unsafe_env(filename)
    return safe_torch_load(filename, map_location=map_location)


@_safe
def load_from_safe_http(filename: str, map_location: Any = None) -> Any:
    refuse_unsafe_env(filename)
    cache = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(cache, exist_ok=True)
    cached = osp.join(cache, osp.basename(urlparse(filename).path))
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.exists(cached):
        torch.hub.download_url_to_file(filename, cached)
    if world_size > 1:
        torch.distributed.barrier()
        if not osp.exists(cached):  # another node
            torch.hub.download_url_to_file(filename, cached)
    try:
        return safe_torch_load(cached, map_location=map_location)
    except (UnsafeCheckpointError, CheckpointReadError) as err:
        raise type(err)(f'{err} (downloaded from {filename})') from err


@_safe
def load_from_zoo_refused(filename: str, map_location: Any = None) -> Any:
    raise UnsafeCheckpointError(
        f'Refused to load {filename!r}: mmengine resolves this model-zoo scheme with '
        'torch.hub.load_state_dict_from_url, which unpickles fully (a file could run '
        'code). Fix: pass the weights\' https:// URL or a local path instead; both are '
        'loaded weights-only.')


def _guarded(loader):
    @functools.wraps(loader)
    def load(filename: str, map_location: Any = None) -> Any:
        refuse_unsafe_env(filename)
        try:
            return loader(filename, map_location)
        except pickle.UnpicklingError as err:
            if UNSAFE_PATTERN.search(str(err)):
                raise unsafe_error(filename, err) from err
            raise CheckpointReadError(unreadable_message(filename, err)) from err

    return _safe(load)


def install_safe_checkpoint_loaders() -> None:
    """Make every registered mmengine checkpoint scheme weights-only (idempotent)."""
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if getattr(loader, '_tpc_safe', False):
            continue
        if prefix == '':
            safe = load_from_safe_local
        elif prefix in ('http://', 'https://'):
            safe = load_from_safe_http
        elif prefix in ZOO_PREFIXES:
            safe = load_from_zoo_refused
        else:
            safe = _guarded(loader)
        CheckpointLoader.register_scheme(prefix, safe, force=True)
