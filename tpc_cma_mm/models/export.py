"""Export a ``DualEncoder`` to the OpenAI CLIP / open_clip layout.

The inverse of ``models/convert.py``: the image tower's mmpretrain names go
back to OpenAI's (one renaming table, read from ``weight_layouts.py``), the text keys
are already OpenAI's. The result loads strictly into ``clip.model.CLIP`` and
into ``open_clip.create_model(name, pretrained=None)`` of the same sizes.

The weights do not say which activation or LayerNorm epsilon a tower uses;
``describe_towers`` reads them from the built model, so that an export into a
library that cannot represent the model (open_clip has one activation for both
towers and eps 1e-5; OpenAI's ``build_model`` also fixes heads of width 64 and an
MLP four times the width) is refused instead of giving other embeddings.
"""
import io
from typing import Dict

import torch
from torch import nn

from tpc_cma_mm.utils.atomic_io import atomic_folder, write_outputs
from .hf_clip import hf_config, save_hf_folder, save_hf_tokenizer
from .hf_processor import save_hf_image_processor
from .text_encoder import TextTransformer
from .weight_layouts import BLOCK_RENAMES, VISUAL_RENAMES, UnknownLayoutError

__all__ = ['EXPORT_FORMATS', 'check_open_clip_compatible', 'check_openai_compatible',
           'describe_towers', 'export_model', 'mmpretrain_to_openai']

EXPORT_FORMATS = ('openai', 'open_clip', 'hf')

_VISUAL_BACK = {new: old for old, new in VISUAL_RENAMES.items()}
_ACTIVATIONS = {'QuickGELU': 'quick_gelu', 'GELU': 'gelu'}


def _block_back(rest: str) -> str:
    for old, new in BLOCK_RENAMES:
        if rest.startswith(new):
            return old + rest[len(new):]
    return ''


def mmpretrain_to_openai(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """This plugin's (mmpretrain's CLIP) layout -> OpenAI CLIP's keys and shapes.

    Raises ``UnknownLayoutError`` naming the keys that have no OpenAI name
    (e.g. a ResNet or ConvNeXt image tower, a neck).
    """
    out, unknown = {}, []
    for key, value in state_dict.items():
        if key in _VISUAL_BACK:
            new = _VISUAL_BACK[key]
        elif key.startswith('visual.layers.'):
            index, _, rest = key[len('visual.layers.'):].partition('.')
            rest = _block_back(rest)
            new = f'visual.transformer.resblocks.{index}.{rest}' if rest else ''
        elif key.startswith('visual'):  # another image tower, or a neck
            new = ''
        else:
            new = key  # text tower and logit_scale: OpenAI's names already
        if not new:
            unknown.append(key)
            continue
        if new == 'visual.class_embedding':
            value = value.reshape(-1)
        elif new == 'visual.positional_embedding':
            value = value.reshape(value.shape[-2:])
        out[new] = value
    if unknown:
        raise UnknownLayoutError(
            f'{len(unknown)} keys have no place in the OpenAI CLIP layout, e.g. '
            f'{sorted(unknown)[:6]}. Only a ViT image tower (mmpretrain '
            "VisionTransformer, out_type='cls_token', CLIPProjection, no neck) "
            'can be exported to OpenAI CLIP, open_clip or Hugging Face CLIPModel.')
    return out


def _activation(module: nn.Module, where: str) -> str:
    name = type(module).__name__
    if name not in _ACTIVATIONS or getattr(module, 'approximate', 'none') != 'none':
        raise ValueError(f'{where}: activation {module} has no CLIP equivalent; '
                         f'only {sorted(_ACTIVATIONS)} export.')
    return _ACTIVATIONS[name]


def describe_towers(model: nn.Module) -> dict:
    """Sizes, activation and LayerNorm eps of both towers of a ViT ``DualEncoder``."""
    visual, text = model.visual, model.transformer
    if (type(visual).__name__ != 'VisionTransformer' or model.visual_neck is not None
            or getattr(visual, 'out_type', None) != 'cls_token'
            or not isinstance(visual.pre_norm, nn.LayerNorm)
            or not isinstance(text, TextTransformer)):
        raise ValueError(
            'Export needs a CLIP ViT: vision_backbone VisionTransformer with '
            "pre_norm=True, out_type='cls_token', no vision_neck, and the "
            f'TextTransformer text tower; got {type(visual).__name__} / '
            f'{type(text).__name__}.')
    block = visual.layers[0]
    fc1, act = block.ffn.layers[0][0], block.ffn.layers[0][1]
    patch = visual.patch_embed.projection.kernel_size[0]
    grid = int(round((visual.pos_embed.shape[1] - 1) ** 0.5))
    text_block = text.resblocks[0]
    return dict(
        embed_dim=model.text_projection.shape[1],
        vision=dict(width=visual.embed_dims, layers=visual.num_layers,
                    heads=block.attn.num_heads, mlp_width=fc1.out_features,
                    patch_size=patch, image_size=grid * patch,
                    act=_activation(act, 'vision_backbone'), eps=visual.pre_norm.eps),
        text=dict(width=text.width, layers=len(text.resblocks),
                  heads=text_block.attn.heads, mlp_width=text_block.mlp.c_fc.out_features,
                  context_length=model.context_length,
                  vocab_size=model.token_embedding.num_embeddings,
                  act=_activation(text_block.mlp.gelu, 'text_backbone'),
                  eps=model.ln_final.eps))


def check_open_clip_compatible(towers: dict) -> bool:
    """The ``quick_gelu`` flag of the matching open_clip model; raises if none matches."""
    acts = {towers['vision']['act'], towers['text']['act']}
    eps = {towers['vision']['eps'], towers['text']['eps']}
    if len(acts) > 1 or eps != {1e-5}:
        raise ValueError(
            f'open_clip uses one activation for both towers and LayerNorm eps 1e-5; '
            f'this model has activations {sorted(acts)} and eps {sorted(eps)}, so in '
            'open_clip it would give other embeddings. Export it as hf (per-tower '
            'activation and eps) or use a model config with matching towers '
            '(configs/_base_/models/clip_vit-base-p16*.py).')
    return acts == {'quick_gelu'}


def check_openai_compatible(towers: dict) -> None:
    """Raise unless OpenAI CLIP rebuilds this model from its weights alone.

    clip-anytorch's ``build_model`` infers only sizes from a state dict; it fixes
    QuickGELU, LayerNorm eps 1e-5, ``width // 64`` heads and an MLP of 4 x width
    in both towers (``clip/model.py``, ``build_model`` and ``ResidualAttentionBlock``).
    """
    problems = []
    for name, tower in (('image', towers['vision']), ('text', towers['text'])):
        if tower['act'] != 'quick_gelu':
            problems.append(f"{name} activation {tower['act']} (OpenAI: quick_gelu)")
        if tower['eps'] != 1e-5:
            problems.append(f"{name} LayerNorm eps {tower['eps']:g} (OpenAI: 1e-05)")
        if tower['width'] != 64 * tower['heads']:
            problems.append(f"{name} {tower['heads']} heads of width "
                            f"{tower['width'] / tower['heads']:g} (OpenAI: heads of 64)")
        if tower['mlp_width'] != 4 * tower['width']:
            problems.append(f"{name} MLP width {tower['mlp_width']} (OpenAI: 4 x "
                            f"{tower['width']})")
    if problems:
        raise ValueError(
            "OpenAI CLIP's build_model infers only the sizes from the weights; this model "
            f"has {'; '.join(problems)}, so there it would give other embeddings. "
            'Export it as hf (per-tower activation, eps, heads and MLP width) or, if both '
            'towers share one activation and eps 1e-5, as open_clip.')


def export_model(model: nn.Module, fmt: str, out: str, overwrite: bool = False) -> dict:
    """Write ``model`` (a ViT ``DualEncoder``) in ``fmt``; returns what was written.

    ``openai`` / ``open_clip``: a bare state dict file (plain tensors, readable
    weights-only); ``hf``: a ``CLIPModel`` folder with its tokenizer and
    ``preprocessor_config.json`` (``models/hf_processor.py``), filled in a temporary
    sibling and renamed into place (a kill or a full disk leaves no partial folder).
    Both are written atomically; an existing ``out`` of other content (a non-empty
    folder) is refused unless ``overwrite``.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f'Unknown export format {fmt!r}; choose one of {EXPORT_FORMATS}.')
    towers = describe_towers(model)
    state = mmpretrain_to_openai({k: v.detach().cpu() for k, v in model.state_dict().items()})
    info = dict(format=fmt, out=out, tensors=len(state), towers=towers,
                logit_scale=float(state['logit_scale']))
    if fmt == 'hf':
        with atomic_folder(out, overwrite) as folder:
            save_hf_folder(state, hf_config(towers, info['logit_scale']), folder)
            save_hf_tokenizer(model.tokenizer, folder)
            save_hf_image_processor(model, towers['vision']['image_size'], folder)
        return info
    if fmt == 'open_clip':
        info['open_clip_quick_gelu'] = check_open_clip_compatible(towers)
    if fmt == 'openai':
        check_openai_compatible(towers)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_outputs({out: buffer.getvalue()}, overwrite)
    return info
