"""Tower configuration of a DualEncoder: locking (freezing) and gradient checkpointing.

Locking follows open_clip's ``lock_image_tower`` / ``lock_text_tower``: a tower
is cut into groups, counted from the output end, and all but the last
``unlocked_groups`` groups are frozen:

* group 1: the projection head (and the image neck, if any);
* group 2: the last block together with the final norm;
* groups 3 ... L+1: the earlier blocks, last first;
* the final group: the stem (patch / token embedding, class token, positions,
  pre-norm).

``unlocked_groups=0`` freezes the whole tower, ``1`` trains only its
projection, ``1 + N`` also trains the last N blocks. Frozen parameters get
``requires_grad=False`` (the optimizer never updates them, DDP ignores them)
and frozen BatchNorm layers keep their running statistics (they are put in
eval mode before every forward), so a locked tower is bit-for-bit unchanged.

Example config (LiT-style: image tower frozen but its last two blocks, text
tower trained, both towers checkpointed)::

    model = dict(
        type='DualEncoder',
        ...,
        tower_cfg=dict(lock_image=True, lock_image_unlocked_groups=3,
                       grad_checkpointing=True))
"""
from typing import List

import torch
from mmengine.model import ModuleList
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ['CheckpointedModuleList', 'configure_towers', 'image_groups',
           'lock_groups', 'set_grad_checkpointing', 'text_groups']


class CheckpointedModuleList(ModuleList):
    """A ModuleList whose iteration yields checkpointed calls of its blocks.

    Backbones that run ``for layer in self.layers: x = layer(x)`` (mmpretrain's
    VisionTransformer and its relatives) then recompute every block in the
    backward pass instead of storing its activations. Indexing, ``len``,
    ``state_dict`` keys and ``init_weights`` are those of the plain list.
    """

    def __iter__(self):
        for block in super().__iter__():
            yield _Checkpointed(block)


class _Checkpointed:

    def __init__(self, block: nn.Module):
        self.block = block

    def __getattr__(self, name):
        return getattr(self.block, name)

    def __call__(self, *args, **kwargs):
        if self.block.training and torch.is_grad_enabled():
            return checkpoint(self.block, *args, use_reentrant=False, **kwargs)
        return self.block(*args, **kwargs)


def _blocks(backbone: nn.Module) -> nn.ModuleList:
    layers = getattr(backbone, 'layers', None)
    if isinstance(layers, nn.ModuleList):
        return layers
    if hasattr(backbone, 'res_layers'):  # mmpretrain's ResNet family: stages
        return nn.ModuleList(getattr(backbone, name) for name in backbone.res_layers)
    raise NotImplementedError(
        f'{type(backbone).__name__} has no `layers` ModuleList: lock it whole '
        '(unlocked_groups 0 or 1) or set its own `frozen_stages`.')


def set_grad_checkpointing(model: nn.Module, enable: bool = True) -> None:
    """Checkpoint every block of both towers (open_clip's ``set_grad_checkpointing``)."""
    model.transformer.grad_checkpointing = enable
    layers = getattr(model.visual, 'layers', None)
    if not isinstance(layers, ModuleList):
        if enable:
            raise NotImplementedError(
                f'Gradient checkpointing of a {type(model.visual).__name__} image '
                'tower is not supported (needs a `layers` ModuleList).')
        return
    layers.__class__ = CheckpointedModuleList if enable else ModuleList


def image_groups(model: nn.Module) -> List[List[nn.Module]]:
    """The image tower's groups, from the input end (stem first)."""
    backbone = model.visual
    try:
        blocks = list(_blocks(backbone))
    except NotImplementedError:
        blocks = []  # only whole-tower groups: stem + final norm, head
    final = [m for name in ('ln1', 'ln2', 'norm', 'final_norm')
             if isinstance(m := getattr(backbone, name, None), nn.Module)]
    later = {id(m) for m in blocks + final} | {id(getattr(backbone, 'layers', None))}
    # The stem: every other child module and the backbone's own parameters.
    stem = [m for m in backbone.children() if id(m) not in later]
    stem.append(_ParamList(list(backbone.parameters(recurse=False))))
    head = [m for m in (model.visual_neck, model.visual_proj) if m is not None]
    if not blocks:
        return [stem + final, head]
    return [stem, *[[b] for b in blocks[:-1]], [blocks[-1], *final], head]


def text_groups(model: nn.Module) -> List[List[nn.Module]]:
    """The text tower's groups, from the input end (embeddings first)."""
    blocks = list(model.transformer.resblocks)
    stem = [model.token_embedding, _ParamList([model.positional_embedding])]
    return [stem, *[[b] for b in blocks[:-1]], [blocks[-1], model.ln_final],
            [_ParamList([model.text_projection])]]


class _ParamList:
    """Loose parameters posing as a module with no submodules."""

    def __init__(self, params):
        self.params = params

    def parameters(self):
        return iter(self.params)

    def modules(self):
        return iter(())


def _keep_eval(module: nn.Module, args) -> None:
    module.eval()


def lock_groups(groups: List[List[nn.Module]], unlocked_groups: int = 0,
                freeze_bn_stats: bool = True) -> None:
    """Freeze all groups but the last ``unlocked_groups``."""
    if not 0 <= unlocked_groups <= len(groups):
        raise ValueError(f'unlocked_groups must lie in [0, {len(groups)}], '
                         f'got {unlocked_groups}')
    for group in groups[:len(groups) - unlocked_groups]:
        for module in group:
            for param in module.parameters():
                param.requires_grad_(False)
            if not freeze_bn_stats:
                continue
            for sub in module.modules():
                if isinstance(sub, nn.modules.batchnorm._BatchNorm):
                    sub.register_forward_pre_hook(_keep_eval)


def configure_towers(model: nn.Module, lock_image: bool = False,
                     lock_image_unlocked_groups: int = 0,
                     lock_text: bool = False, lock_text_unlocked_groups: int = 0,
                     freeze_bn_stats: bool = True,
                     grad_checkpointing: bool = False) -> None:
    """Apply a DualEncoder's ``tower_cfg`` (see the module docstring)."""
    if lock_image:
        lock_groups(image_groups(model), lock_image_unlocked_groups, freeze_bn_stats)
    if lock_text:
        lock_groups(text_groups(model), lock_text_unlocked_groups, freeze_bn_stats)
    if grad_checkpointing:
        set_grad_checkpointing(model, True)
