"""Symmetric InfoNCE loss of CLIP."""
import torch
import torch.nn.functional as F
from torch import nn

from tpc_cma_mm.registry import MODELS

__all__ = ['ContrastiveLoss']


@MODELS.register_module()
class ContrastiveLoss(nn.Module):
    """CLIP's symmetric cross-entropy over image-text similarities.

    Takes L2-normalised features of the *global* batch (the dual encoder
    gathers them across ranks once, for this loss and the CMA loss alike);
    row i of both is a matched pair.

    Example config::

        contrastive_loss = dict(type='ContrastiveLoss')
    """

    def forward(self, img_embeds: torch.Tensor, text_embeds: torch.Tensor,
                logit_scale: torch.Tensor) -> torch.Tensor:
        logits = logit_scale * img_embeds @ text_embeds.t()
        targets = torch.arange(logits.shape[0], device=logits.device)
        return (F.cross_entropy(logits, targets) +
                F.cross_entropy(logits.t(), targets)) / 2
