"""Class-token pooling inside the last block of mmpretrain's VisionTransformer.

With ``out_type='cls_token'`` only the class token of the last block is used;
its other tokens are computed and thrown away. ``vit_cls_forward`` runs the
backbone as ``VisionTransformer.forward`` does, but lets the last block compute
the class token's query, attention, projection and MLP alone (keys and values
still come from every token), which gives the same features with one block's
worth less of work and activation memory (about 1/depth of the tower).

The backbone's modules and parameters are used as they are: state-dict keys,
mmpretrain checkpoints and ``frozen_stages`` are unaffected. Any backbone the
fast path does not recognise exactly (a subclass, other outputs, forward hooks,
an FSDP-wrapped block) runs its own ``forward``.

Example::

    feats = vit_cls_forward(vit, images) if cls_fast_path_ok(vit) else vit(images)
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import FFN
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.utils import MultiheadAttention, SwiGLUFFNFused, resize_pos_embed
from torch.utils.checkpoint import checkpoint

from .tower_config import CheckpointedModuleList

__all__ = ['cls_fast_path_ok', 'vit_cls_forward']


def _hooked(module: torch.nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks)


def cls_fast_path_ok(vit: torch.nn.Module) -> bool:
    """Whether ``vit`` is a plain mmpretrain ViT pooled by its class token."""
    if type(vit) is not VisionTransformer or _hooked(vit):
        return False
    if (vit.out_type != 'cls_token' or vit.cls_token is None or not vit.final_norm
            or list(vit.out_indices) != [vit.num_layers - 1] or len(vit.layers) == 0):
        return False
    last = vit.layers[-1]
    return (type(last) is TransformerEncoderLayer and not _hooked(last)
            and type(last.attn) is MultiheadAttention and not _hooked(last.attn)
            and not last.attn.v_shortcut
            and type(last.ffn) in (FFN, SwiGLUFFNFused))


def _last_block_cls(layer: TransformerEncoderLayer, x: torch.Tensor) -> torch.Tensor:
    """The class-token output ``(B, C)`` of ``layer`` applied to ``x`` (B, N, C)."""
    attn = layer.attn
    h = layer.ln1(x)
    batch, length, _ = h.shape
    dims, heads, head_dims = attn.embed_dims, attn.num_heads, attn.head_dims
    weight, bias = attn.qkv.weight, attn.qkv.bias
    q = F.linear(h[:, 0], weight[:dims], None if bias is None else bias[:dims])
    kv = F.linear(h, weight[dims:], None if bias is None else bias[dims:])
    k, v = kv.reshape(batch, length, 2, heads, head_dims).permute(2, 0, 3, 1, 4).unbind(0)
    out = attn.scaled_dot_product_attention(
        q.reshape(batch, heads, 1, head_dims), k, v,
        dropout_p=attn.attn_drop if attn.training else 0.)
    out = attn.proj(out.reshape(batch, dims))
    y = x[:, 0] + attn.out_drop(attn.gamma1(attn.proj_drop(out)))
    return layer.ffn(layer.ln2(y), identity=y)


def vit_cls_forward(vit: VisionTransformer, x: torch.Tensor) -> Tuple[torch.Tensor]:
    """``vit(x)`` for a backbone that ``cls_fast_path_ok`` accepts."""
    batch = x.shape[0]
    x, patch_resolution = vit.patch_embed(x)
    x = torch.cat((vit.cls_token.expand(batch, -1, -1), x), dim=1)
    x = x + resize_pos_embed(vit.pos_embed, vit.patch_resolution, patch_resolution,
                             mode=vit.interpolate_mode,
                             num_extra_tokens=vit.num_extra_tokens)
    x = vit.pre_norm(vit.drop_after_pos(x))
    blocks = list(vit.layers)  # checkpointed calls when gradient checkpointing is on
    for block in blocks[:-1]:
        x = block(x)
    last = vit.layers[-1]
    if (isinstance(vit.layers, CheckpointedModuleList) and last.training
            and torch.is_grad_enabled()):
        y = checkpoint(_last_block_cls, last, x, use_reentrant=False)
    else:
        y = _last_block_cls(last, x)
    return (vit.ln1(y),)
