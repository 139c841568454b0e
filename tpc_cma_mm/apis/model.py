"""Build a model from a config and load a checkpoint into it, checked and weights-only.

The one loader of every tool (gap report, captioning, reproduction) and of
the inferencer::

    from tpc_cma_mm.apis import init_model
    model = init_model('configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py',
                       'work_dirs/tpc/iter_300.pth', device='cpu')

A checkpoint is untrusted: it is read weights-only
(:func:`~tpc_cma_mm.utils.safe_torch_load`) and its state dict is compared with
the model (:func:`~tpc_cma_mm.utils.check_state_dict`, the check train/test
run on ``load_from``) before anything is copied, so an unconverted OpenAI
checkpoint is refused with the keys that do not fit instead of leaving a
tower random. Weights-only loading: docs/pitfalls.md, "Weights-only torch.load".
"""
import os.path as osp
from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import check_state_dict, safe_torch_load

__all__ = ['init_model', 'load_weights', 'load_config']


def load_config(config: Union[str, Config], cfg_options: Optional[dict] = None) -> Config:
    """A Config from a path or a Config (copied), with ``cfg_options`` merged in."""
    if isinstance(config, str):
        if not osp.isfile(config):
            raise FileNotFoundError(f'Config {config!r} not found: check the path.')
        config = Config.fromfile(config)
    elif isinstance(config, Config):
        config = config.copy()
    else:
        raise TypeError(f'config must be a path or an mmengine Config, got {type(config)}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    return config


def load_weights(model: nn.Module, checkpoint: str, allow_missing: Sequence[str] = ()) -> dict:
    """Copy ``checkpoint``'s state dict into ``model`` if, and only if, it fits.

    Raises ``CheckpointMismatchError`` naming the missing, unexpected and
    shape-mismatched keys (nothing is copied then), and the errors of
    ``safe_torch_load`` for unreadable or unsafe files. Returns the checkpoint's
    ``meta`` (empty for a bare state dict).
    """
    loaded = safe_torch_load(checkpoint)
    state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else loaded
    check_state_dict(model, state, source=f'Checkpoint {checkpoint!r}',
                     allow_missing=allow_missing, allow_unexpected=False)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    model.load_state_dict(state, strict=not allow_missing)
    return dict(loaded.get('meta') or {}) if isinstance(loaded, dict) else {}


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build ``config``'s model in its default scope, load ``checkpoint`` (checked,
    weights-only) and return it in eval mode on ``device``.

    Without a checkpoint the model keeps the initialisation of its config.
    """
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'tpc_cma_mm'))
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    model.cfg = cfg
    return model.to(device).eval()
