"""Checkpoints of this plugin: the one home of weights-only loading.

* :func:`safe_torch_load`: read one local file weights-only, with the
  allow-list of what mmengine writes (:mod:`.weights_only`);
* :func:`safe_loading`: a scope inside which every mmengine checkpoint load
  (resume, ``load_from``, ``init_cfg`` Pretrained, ``load_checkpoint``, every
  URL and model-zoo scheme) is weights-only (:mod:`.scope`, :mod:`.loaders`,
  :mod:`.download`); outside it mmengine's loaders are untouched;
* :func:`find_resumable_checkpoint`: the newest complete checkpoint of a work
  dir (:mod:`.resume`);
* :func:`content_digest`: the digest of a checkpoint's tensors that the
  plugin's checkpoints record and :func:`safe_torch_load` verifies (:mod:`.digest`).

Every load path and the test that shows it is weights-only:
docs/reliability.md, "Checkpoints never run code".
"""
from .digest import DIGEST_KEY, content_digest, digest_mismatch, update_with_tensor
from .download import cached_download, url_cache_path
from .resume import find_resumable_checkpoint, is_complete_checkpoint
from .scope import close_run_scopes, close_safe_loading, open_safe_loading, safe_loading
from .weights_only import (SAFE_GLOBAL_NAMES, CheckpointReadError, UnsafeCheckpointError,
                           mmengine_safe_globals, refuse_unsafe_env, safe_torch_load)

__all__ = [
    'CheckpointReadError', 'DIGEST_KEY', 'SAFE_GLOBAL_NAMES', 'UnsafeCheckpointError',
    'cached_download', 'content_digest', 'digest_mismatch',
    'close_run_scopes', 'close_safe_loading', 'find_resumable_checkpoint', 'is_complete_checkpoint',
    'mmengine_safe_globals', 'open_safe_loading', 'refuse_unsafe_env', 'safe_loading',
    'safe_torch_load', 'update_with_tensor', 'url_cache_path'
]
