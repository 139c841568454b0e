"""Convert OpenAI CLIP, open_clip and Hugging Face ``CLIPModel`` ViT state
dicts into this plugin's layout (``models/export.py`` goes the other way).

The output equals what mmpretrain's own OpenAI-CLIP converter writes (image
tower renamed to mmpretrain's ``VisionTransformer``, text keys unchanged), so
``DualEncoder`` and mmpretrain's ``CLIP`` load it with no renaming.

OpenAI's and open_clip's ViT CLIP models have the same keys; only the
activation differs (QuickGELU for OpenAI's weights and open_clip's
``*-quickgelu`` models, ``nn.GELU`` for open_clip's others), which the weights
do not reveal: pick the config to match (``configs/_base_/models/``).
"""
from typing import Dict, List, Tuple

import torch

from tpc_cma_mm.utils.state_dict_check import diff_state_dict
from .hf_clip import hf_to_openai
from .weight_layouts import (BLOCK_PARAMS, BLOCK_RENAMES, FORMATS, KNOWN_OTHERS, NON_WEIGHTS,
                             TEXT_BLOCK, TEXT_KEYS, VISUAL_BLOCK, VISUAL_RENAMES,
                             UnknownLayoutError)

__all__ = [
    'FORMATS', 'UnknownLayoutError', 'check_conversion', 'convert_state_dict',
    'detect_format', 'openai_to_mmpretrain', 'unwrap_checkpoint'
]


def _layout_error(keys: List[str], what: str) -> UnknownLayoutError:
    hints = sorted({v for k in keys for p, v in KNOWN_OTHERS.items() if k.startswith(p)})
    hint = f' It looks like: {"; ".join(hints)}, which is not supported.' if hints else ''
    return UnknownLayoutError(
        f'{what} ({len(keys)} keys), e.g. {keys[:6]}. Expected a ViT CLIP state '
        f'dict in one of the formats {FORMATS}: OpenAI CLIP (clip.load(..., '
        "jit=False)[0].state_dict()), open_clip (model.state_dict() or a training "
        "checkpoint's 'state_dict'), a Hugging Face CLIPModel folder, or "
        "mmpretrain's converted CLIP layout." + hint)


def unwrap_checkpoint(obj) -> Dict[str, torch.Tensor]:
    """The tensors of a loaded file: a bare state dict, or the ``state_dict``
    / ``model`` entry of a training checkpoint; DDP's ``module.`` is removed."""
    if isinstance(obj, dict):
        for key in ('state_dict', 'model'):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise UnknownLayoutError(
            f'Expected a state dict (a dict of tensors), got {type(obj).__name__}.')
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise UnknownLayoutError(f'No tensors found; keys: {list(obj)[:6]}')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def detect_format(state_dict: Dict[str, torch.Tensor]) -> str:
    """``'mmpretrain'`` (already converted), ``'hf'``, ``'openai'`` or ``'open_clip'``.

    The OpenAI and open_clip layouts coincide; the leftovers of OpenAI's JIT
    (``input_resolution`` ...) say ``'openai'``, a leftover ``attn_mask``
    buffer says ``'open_clip'``; otherwise ``'openai'`` is returned (it converts
    the same way).
    """
    keys = set(state_dict)
    if 'visual.patch_embed.projection.weight' in keys or 'visual_proj.proj' in keys:
        return 'mmpretrain'
    if 'vision_model.embeddings.patch_embedding.weight' in keys:
        return 'hf'
    if 'visual.conv1.weight' in keys and 'visual.class_embedding' in keys:
        if keys & set(NON_WEIGHTS):
            return 'openai'
        if any(k.endswith('attn_mask') for k in keys):
            return 'open_clip'
        return 'openai'
    raise _layout_error(sorted(keys), 'Unrecognised checkpoint layout')


def _rename(key: str) -> str:
    if key in VISUAL_RENAMES:
        return VISUAL_RENAMES[key]
    if key in TEXT_KEYS:
        return key
    match = VISUAL_BLOCK.fullmatch(key)
    if match and match.group(2) in BLOCK_PARAMS:
        rest = match.group(2)
        for old, new in BLOCK_RENAMES:
            if rest.startswith(old):
                rest = new + rest[len(old):]
                break
        return f'visual.layers.{match.group(1)}.{rest}'
    match = TEXT_BLOCK.fullmatch(key)
    if match and match.group(1) in BLOCK_PARAMS:
        return key
    return ''


def openai_to_mmpretrain(state_dict: Dict[str, torch.Tensor]
                         ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename an OpenAI-layout ViT CLIP state dict; returns it and the dropped
    non-weight keys. Raises ``UnknownLayoutError`` on keys it cannot place."""
    out, dropped, unknown = {}, [], []
    for key, value in state_dict.items():
        if key in NON_WEIGHTS or key.endswith('attn_mask'):
            dropped.append(key)
            continue
        new = _rename(key)
        if not new:
            unknown.append(key)
            continue
        if new == 'visual.cls_token':
            value = value.reshape(1, 1, -1)
        elif new == 'visual.pos_embed':
            value = value.unsqueeze(0)
        elif new == 'logit_scale':
            value = value.reshape(())  # open_clip's nonscalar_logit_scale
        out[new] = value
    if unknown:
        raise _layout_error(sorted(unknown), 'Keys that have no place in the layout')
    return out, dropped


def convert_state_dict(state_dict: Dict[str, torch.Tensor], fmt: str = 'auto'
                       ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Convert to the plugin layout; returns it and plain-typed metadata."""
    state_dict = unwrap_checkpoint(state_dict)
    if fmt == 'auto':
        fmt = detect_format(state_dict)
    if fmt == 'mmpretrain':
        out, dropped = dict(state_dict), []
    elif fmt in ('openai', 'open_clip'):
        out, dropped = openai_to_mmpretrain(state_dict)
    elif fmt == 'hf':
        out, dropped = openai_to_mmpretrain(hf_to_openai(state_dict))
    else:
        raise ValueError(f'Unknown format {fmt!r}; choose auto or one of {FORMATS}')
    act = {'openai': 'quick_gelu', 'open_clip': 'gelu unless a *-quickgelu model',
           'hf': "config.json's hidden_act"}
    meta = dict(source_format=fmt, dropped_keys=sorted(dropped),
                activation=act.get(fmt, 'as in the source config'),
                notes=['Weights do not record the activation: OpenAI weights and '
                       "open_clip '*-quickgelu' models need QuickGELU "
                       '(configs/_base_/models/clip_vit-base-p16.py); other open_clip '
                       'ViTs need GELU (configs/_base_/models/clip_vit-base-p16_gelu.py).'])
    if dropped:
        meta['notes'].append(f'Dropped non-weight entries: {sorted(dropped)}')
    return out, meta


def check_conversion(state_dict: Dict[str, torch.Tensor],
                     model: torch.nn.Module) -> Dict[str, list]:
    """Missing, unexpected and shape-mismatched keys against ``model``, as text.

    A ``pos_embed`` with another number of tokens (another image size) is
    listed under ``resized``: mmpretrain's ViT interpolates it on load.
    """
    report = diff_state_dict(model.state_dict(), state_dict)
    out = dict(missing=report['missing'], unexpected=report['unexpected'],
               mismatched=[], resized=[])
    for key, got, want in report['mismatched']:
        resizable = key.endswith('pos_embed') and got[-1:] == want[-1:]
        out['resized' if resizable else 'mismatched'].append(
            f'{key}: checkpoint {got} vs model {want}')
    return out
