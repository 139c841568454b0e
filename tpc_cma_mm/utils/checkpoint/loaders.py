"""A weights-only loader for each scheme of mmengine's ``CheckpointLoader``.

``CheckpointLoader`` is the one door of resume, ``load_from``,
``init_cfg=dict(type='Pretrained')`` and ``mmengine.runner.load_checkpoint``.
mmengine 0.10.7's loaders call ``torch.load`` without ``weights_only``
(weights-only by default since torch 2.6, undone by
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) or, for URLs and model-zoo names, go
through ``torch.hub.load_state_dict_from_url``, which unpickles *fully* by
default. The replacements, installed only inside
:func:`~tpc_cma_mm.utils.checkpoint.safe_loading`:

* local paths: :func:`safe_torch_load`;
* ``http://`` / ``https://``: download once per URL
  (:func:`~tpc_cma_mm.utils.checkpoint.download.cached_download`), then
  :func:`safe_torch_load`;
* model-zoo names (``torchvision://``, ``open-mmlab://``, ``mmcls://`` ...):
  resolved to a URL with mmengine's own tables, then as ``https://``;
* any other scheme (``s3://``, ``pavi://`` ...): mmengine's loader, which
  calls ``torch.load`` with its weights-only default, refused while the
  environment override is set, with the allow-list and errors that name the file.
"""
import difflib
import functools
import os.path as osp
from typing import Any, Callable

from mmengine.runner import checkpoint as mmengine_checkpoint

from .download import cached_download
from .weights_only import (CheckpointReadError, UnsafeCheckpointError, mmengine_safe_globals,
                           refuse_unsafe_env, safe_torch_load, translate_unpickling_error)

__all__ = ['ZOO_PREFIXES', 'safe_loader_for', 'zoo_url']

ZOO_PREFIXES = ('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://', 'mmcls://')


def load_from_safe_local(filename: str, map_location: Any = None) -> Any:
    return safe_torch_load(filename, map_location=map_location)


def _load_url(url: str, map_location: Any, requested: str) -> Any:
    path = cached_download(url)
    try:
        return safe_torch_load(path, map_location=map_location)
    except (UnsafeCheckpointError, CheckpointReadError) as err:
        via = '' if requested == url else f' for {requested}'
        raise type(err)(f'{err} (downloaded from {url}{via})') from err


def load_from_safe_http(filename: str, map_location: Any = None) -> Any:
    refuse_unsafe_env(filename)  # before downloading anything
    return _load_url(filename, map_location, filename)


def zoo_url(filename: str) -> str:
    """The URL (or, for some ``open-mmlab://`` names, the path under mmengine's
    home) that mmengine resolves a model-zoo name to."""
    prefix, name = filename.split('://', 1)
    if prefix in ('torchvision', 'modelzoo'):
        table = mmengine_checkpoint.get_torchvision_models()
    elif prefix in ('open-mmlab', 'openmmlab'):
        table = mmengine_checkpoint.get_external_models()
        name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    elif prefix == 'mmcls':
        table = mmengine_checkpoint.get_mmcls_models()
    else:
        raise ValueError(f'{filename!r} is not a model-zoo name ({", ".join(ZOO_PREFIXES)})')
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=3)
        raise ValueError(f'{filename!r}: mmengine knows no model {name!r} under {prefix}://'
                         + (f'; did you mean {", ".join(close)}?' if close else
                            '; give the checkpoint\'s URL or path instead.'))
    return table[name]


def load_from_safe_zoo(filename: str, map_location: Any = None) -> Any:
    refuse_unsafe_env(filename)
    url = zoo_url(filename)
    if '://' in url:
        checkpoint = _load_url(url, map_location, filename)
    else:  # an open-mmlab name that mmengine maps to a file of its home
        checkpoint = safe_torch_load(
            osp.join(mmengine_checkpoint._get_mmengine_home(), url), map_location=map_location)
    if filename.startswith('mmcls://'):
        checkpoint = mmengine_checkpoint._process_mmcls_checkpoint(checkpoint)
    return checkpoint


def _guarded(loader: Callable) -> Callable:

    @functools.wraps(loader)  # keeps mmengine's log line "Loads checkpoint by <name>"
    def load(filename: str, map_location: Any = None) -> Any:
        refuse_unsafe_env(filename)
        with mmengine_safe_globals():
            return translate_unpickling_error(filename, lambda: loader(filename, map_location))

    return load


def safe_loader_for(prefix: str, loader: Callable) -> Callable:
    """The weights-only loader that stands in for ``loader`` (registered for ``prefix``)."""
    if prefix == '':
        return load_from_safe_local
    if prefix in ('http://', 'https://'):
        return load_from_safe_http
    if prefix in ZOO_PREFIXES:
        return load_from_safe_zoo
    return _guarded(loader)
