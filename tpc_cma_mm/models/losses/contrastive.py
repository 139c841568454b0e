"""Symmetric InfoNCE loss of CLIP, on the global batch or on each rank's rows."""
import torch
import torch.nn.functional as F
from torch import nn

from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils.dist import rank, world_size

__all__ = ['ContrastiveLoss']


@MODELS.register_module()
class ContrastiveLoss(nn.Module):
    """CLIP's symmetric cross-entropy over image-text similarities.

    Takes L2-normalised features of the *global* batch (the dual encoder
    gathers them across ranks once, for this loss and the CMA loss alike);
    row i of both is a matched pair.

    With ``local_loss=True`` each rank scores only its own rows (rank r holds
    rows ``r B ... (r + 1) B - 1`` of the gathered batch) against every row:
    two ``B x W B`` logit matrices instead of one ``W B x W B``, as open_clip's
    ``ClipLoss(local_loss=True, gather_with_grad=True)``. The loss value is
    then the rank's share (their mean over ranks is the global loss); the
    gradients after DDP's averaging equal the global loss's, because the
    gather's backward sums every rank's contribution (docs/pitfalls.md, "Gathers with gradients").
    In one process both options are the same loss.

    Example config::

        model = dict(type='DualEncoder', ...,
                     contrastive_loss=dict(type='ContrastiveLoss', local_loss=True))

    Args:
        local_loss (bool): Score each rank's rows only (logits memory
            ``2 B x W B`` per rank instead of ``(W B)^2``).
    """

    def __init__(self, local_loss: bool = False):
        super().__init__()
        if not isinstance(local_loss, bool):
            raise ValueError(f'ContrastiveLoss.local_loss must be a bool, got {local_loss!r}')
        self.local_loss = local_loss

    def forward(self, img_embeds: torch.Tensor, text_embeds: torch.Tensor,
                logit_scale: torch.Tensor) -> torch.Tensor:
        if not self.local_loss or world_size() == 1:
            logits = logit_scale * img_embeds @ text_embeds.t()
            targets = torch.arange(logits.shape[0], device=logits.device)
            return (F.cross_entropy(logits, targets) +
                    F.cross_entropy(logits.t(), targets)) / 2
        total = img_embeds.shape[0]
        if total % world_size():
            raise ValueError(f'ContrastiveLoss(local_loss=True) needs the same batch on '
                             f'every rank; the gathered batch of {total} rows does not '
                             f'split over {world_size()} ranks.')
        num = total // world_size()
        rows = slice(rank() * num, (rank() + 1) * num)
        targets = torch.arange(rows.start, rows.stop, device=img_embeds.device)
        logits_img = logit_scale * img_embeds[rows] @ text_embeds.t()
        logits_text = logit_scale * text_embeds[rows] @ img_embeds.t()
        return (F.cross_entropy(logits_img, targets) +
                F.cross_entropy(logits_text, targets)) / 2
