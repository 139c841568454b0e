"""Shape checks of a DualEncoder's image tower, run once when the model is built.

A wrong ``projection.in_channels``, a feature-map backbone without a neck or a
projection width other than ``proj_dim`` would otherwise surface as a raw
matmul error at the first iteration. The image tower runs once on a small
dummy batch (no gradient, eval mode, on the parameters' device, so a model
built on the ``meta`` device is checked by shapes alone) and every mismatch is
raised as a ``ValueError`` naming the config key and the right value.
"""
import inspect
import warnings
from typing import Callable, Optional

import torch
from torch import nn

from tpc_cma_mm.registry import MODELS

__all__ = ['build_projection', 'check_embedding_width', 'image_feature_width']

# For a backbone that records no input size (a CNN): large enough for a
# 32x-downsampling network, small enough to be free.
_DUMMY_SIDE = 32


def _configured_side(backbone: nn.Module) -> Optional[int]:
    """The input side the backbone was built for: ``img_size`` (ViT, BEiT, TinyViT)
    or its patch embedding's ``init_input_size`` (Swin, SwinV2); None if neither.
    Windowed towers (SwinV2, TinyViT) run only at that size."""
    patch_embed = getattr(backbone, 'patch_embed', None)
    for size in (getattr(backbone, 'img_size', None),
                 getattr(patch_embed, 'init_input_size', None)):
        if isinstance(size, int):
            return size
        if isinstance(size, (tuple, list)) and size and isinstance(size[0], int):
            return max(size)
    return None


def _dummy_side(backbone: nn.Module) -> int:
    configured = _configured_side(backbone)
    if configured is not None:
        return configured
    patch = getattr(getattr(backbone, 'patch_embed', None), 'projection', None)
    kernel = getattr(patch, 'kernel_size', (1, ))[0]
    return max(_DUMMY_SIDE, 2 * kernel)


def _in_eval(modules, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``fn()`` without gradient, with ``modules`` in eval mode (BatchNorm
    statistics untouched), then their modes restored."""
    modes = [(m, m.training) for m in modules]
    for module, _ in modes:
        module.eval()
    try:
        with torch.no_grad():
            return fn()
    finally:
        for module, mode in modes:
            module.train(mode)


def _last(out):
    return out[-1] if isinstance(out, (tuple, list)) else out


def image_feature_width(backbone: nn.Module, neck: Optional[nn.Module],
                        features: Callable[[torch.Tensor], torch.Tensor]) -> int:
    """Width of the pooled image feature that ``features(images)`` returns, on a
    dummy batch at the backbone's configured input size (32 px if it records none)."""
    param = next(backbone.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    side = _dummy_side(backbone)
    images = torch.zeros(2, 3, side, side, device=device)
    feats = _last(_in_eval([m for m in (backbone, neck) if m is not None],
                           lambda: features(images)))
    name = type(backbone).__name__
    if feats.dim() == 4 and neck is None:
        raise ValueError(
            f'model.vision_backbone ({name}) outputs feature maps of shape '
            f'{tuple(feats.shape[1:])} (C, H, W), which the projection cannot take: '
            "add a pooling neck, vision_neck=dict(type='GlobalAveragePooling').")
    if feats.dim() != 2:
        raise ValueError(
            f'The image tower (model.vision_backbone {name}'
            f'{", model.vision_neck " + type(neck).__name__ if neck else ""}) outputs '
            f'features of shape {tuple(feats.shape[1:])} per image; the projection '
            'needs one vector per image: pool them (a neck, or the backbone\'s '
            "out_type='cls_token' / 'avg_featmap').")
    return feats.shape[-1]


def check_embedding_width(projection: nn.Module, width: int, proj_dim: int) -> None:
    """The projection maps ``width`` features to ``proj_dim`` (the text side's width)."""
    param = next(projection.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    try:
        out = _last(_in_eval([projection],
                             lambda: projection(torch.zeros(2, width, device=device))))
    except RuntimeError as error:
        raise ValueError(
            f'model.projection ({type(projection).__name__}) cannot take the '
            f'{width}-d image features ({error}); set projection.in_channels={width} '
            'or leave it out to infer it.') from error
    if out.shape[-1] != proj_dim:
        raise ValueError(
            f'model.projection outputs {out.shape[-1]}-d embeddings but '
            f'model.proj_dim={proj_dim} (the text projection\'s width): set '
            f'projection.out_channels={proj_dim}, or proj_dim={out.shape[-1]}.')


def build_projection(cfg: dict, proj_dim: int, backbone: nn.Module, neck: Optional[nn.Module],
                     features: Callable[[torch.Tensor], torch.Tensor],
                     build: Callable[[dict], nn.Module]) -> nn.Module:
    """Build the projection ``cfg`` with ``build``, its ``in_channels`` inferred
    from (or checked against) the image tower and its output against ``proj_dim``."""
    cfg = dict(cfg)
    projection_cls = MODELS.get(cfg['type'])
    takes_width = projection_cls is not None and \
        'in_channels' in inspect.signature(projection_cls).parameters
    try:
        width = image_feature_width(backbone, neck, features)
    except (RuntimeError, AssertionError, TypeError) as error:
        side = _dummy_side(backbone)
        failure = f'on a {side}x{side} dummy batch ({error})'
        if takes_width and cfg.get('in_channels') is None:
            raise ValueError(
                'model.projection.in_channels is left out and could not be inferred: '
                f'the image tower does not run {failure}; set in_channels, or give the '
                "backbone its input size (img_size) if it records one.") from error
        warnings.warn(f'The image tower does not run {failure}; '
                      'its output shapes are not checked at build time.')
        return build(cfg)
    if takes_width:
        given = cfg.get('in_channels')
        if given is None:
            cfg['in_channels'] = width
        elif given != width:
            raise ValueError(
                f'model.projection.in_channels={given} does not match the image '
                f"tower's feature width {width}: set in_channels={width} (or leave "
                'it out: it is inferred).')
    projection = build(cfg)
    check_embedding_width(projection, width, proj_dim)
    return projection
