"""CLIP's causal text transformer, written for training.

mmpretrain's ``CLIPTransformer`` returns the attention map of its last block
and the output of every block; both cost memory and time in a training step.
This one keeps the parameter names of OpenAI's / mmpretrain's checkpoints
(``resblocks.N.attn.in_proj_weight``, ``.mlp.c_fc`` ...) so their weights load
unchanged, and runs attention through ``scaled_dot_product_attention``.
"""
from collections import OrderedDict
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from tpc_cma_mm.registry import MODELS

__all__ = ['CausalSelfAttention', 'TextResidualBlock', 'TextTransformer']


class QuickGELU(nn.Module):
    """The GELU approximation OpenAI's CLIP was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with ``nn.MultiheadAttention``'s names."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ValueError(f'width {width} is not divisible by heads {heads}')
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor,
                index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``(B, L, W)`` -> ``(B, L, W)``; or, given ``index`` (B,), only the
        output at position ``index[b]`` of each sequence, ``(B, W)``."""
        batch, length, width = x.shape
        if index is not None:
            return self._forward_at(x, index)
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(batch, length, 3, self.heads, width // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, width))

    def _forward_at(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        # One query per sequence; keys and values for every position up to it.
        batch, length, width = x.shape
        head_dim = width // self.heads
        q = F.linear(x[torch.arange(batch, device=x.device), index],
                     self.in_proj_weight[:width], self.in_proj_bias[:width])
        kv = F.linear(x, self.in_proj_weight[width:], self.in_proj_bias[width:])
        k, v = kv.view(batch, length, 2, self.heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        visible = torch.arange(length, device=x.device) <= index[:, None]
        out = F.scaled_dot_product_attention(
            q.view(batch, self.heads, 1, head_dim), k, v,
            attn_mask=visible[:, None, None, :])
        return self.out_proj(out.reshape(batch, width))


ACTIVATIONS = {'quick_gelu': QuickGELU, 'gelu': nn.GELU}


class TextResidualBlock(nn.Module):

    def __init__(self, width: int, heads: int, act: str = 'quick_gelu'):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f'act must be one of {sorted(ACTIVATIONS)}, got {act!r}')
        self.ln_1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict([('c_fc', nn.Linear(width, 4 * width)),
                         ('gelu', ACTIVATIONS[act]()),
                         ('c_proj', nn.Linear(4 * width, width))]))

    def forward(self, x: torch.Tensor,
                index: Optional[torch.Tensor] = None) -> torch.Tensor:
        if index is None:
            x = x + self.attn(self.ln_1(x))
        else:  # only the pooled position leaves this block
            x = x[torch.arange(x.shape[0], device=x.device), index] + self.attn(
                self.ln_1(x), index)
        return x + self.mlp(self.ln_2(x))


@MODELS.register_module()
class TextTransformer(nn.Module):
    """Stack of causal residual blocks on ``(batch, length, width)`` inputs.

    Example config (CLIP ViT-B/16's text tower)::

        text_backbone = dict(type='TextTransformer', width=512, layers=12, heads=8)

    Args:
        width (int): Token feature size.
        layers (int): Number of residual blocks.
        heads (int): Attention heads per block.
        grad_checkpointing (bool): Recompute each block in the backward pass
            instead of storing its activations.
        act (str): ``'quick_gelu'`` (OpenAI's CLIP, open_clip ``*-quickgelu``)
            or ``'gelu'`` (open_clip's other models).
    """

    def __init__(self, width: int, layers: int, heads: int,
                 grad_checkpointing: bool = False, act: str = 'quick_gelu'):
        super().__init__()
        self.width = width
        self.layers = layers
        self.grad_checkpointing = grad_checkpointing
        self.resblocks = nn.ModuleList(
            TextResidualBlock(width, heads, act) for _ in range(layers))
        self._init_weights()

    def _init_weights(self) -> None:
        # CLIP's initialisation: residual projections scaled with depth.
        proj_std = self.width**-0.5 * (2 * self.layers)**-0.5
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=self.width**-0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * self.width)**-0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)

    def forward(self, x: torch.Tensor,
                pool_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``(B, L, W)`` -> ``(B, L, W)``, or ``(B, W)``: the features at
        ``pool_index`` (B,) only. Pooling inside the last block skips that
        block's queries, attention and MLP at every other position, which no
        causal-pooled output depends on; the result is the same."""
        last = len(self.resblocks) - 1
        for i, block in enumerate(self.resblocks):
            args = (x, pool_index) if i == last and pool_index is not None else (x,)
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(block, *args, use_reentrant=False)
            else:
                x = block(*args)
        return x
