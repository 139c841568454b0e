"""CLIP's causal text transformer, written for training.

mmpretrain's ``CLIPTransformer`` returns the attention map of its last block
and the output of every block; both cost memory and time in a training step.
This one keeps the parameter names of OpenAI's / mmpretrain's checkpoints
(``resblocks.N.attn.in_proj_weight``, ``.mlp.c_fc`` ...) so their weights load
unchanged, and runs attention through ``scaled_dot_product_attention``.
"""
from collections import OrderedDict

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(batch, length, 3, self.heads, width // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, width))


class TextResidualBlock(nn.Module):

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict([('c_fc', nn.Linear(width, 4 * width)),
                         ('gelu', QuickGELU()),
                         ('c_proj', nn.Linear(4 * width, width))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
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
    """

    def __init__(self, width: int, layers: int, heads: int,
                 grad_checkpointing: bool = False):
        super().__init__()
        self.width = width
        self.layers = layers
        self.grad_checkpointing = grad_checkpointing
        self.resblocks = nn.ModuleList(
            TextResidualBlock(width, heads) for _ in range(layers))
        self._init_weights()

    def _init_weights(self) -> None:
        # CLIP's initialisation: residual projections scaled with depth.
        proj_std = self.width**-0.5 * (2 * self.layers)**-0.5
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=self.width**-0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * self.width)**-0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            if self.grad_checkpointing and self.training:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x
