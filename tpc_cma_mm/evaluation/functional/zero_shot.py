"""Zero-shot classification accuracy from image embeddings and class prototypes."""
from typing import Dict, Sequence

import torch

__all__ = ['zero_shot_accuracy']


def zero_shot_accuracy(img: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                       topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Top-k accuracy (in %) of ``argmax_c img . prototype_c`` against ``labels``.

    The same scoring as the model's predict mode followed by mmpretrain's
    ``Accuracy``; this form lets tools score post-hoc-transformed embeddings
    and prototypes. A k above the number of classes is clipped to it.
    """
    scores = img.double() @ prototypes.double().t()
    labels = torch.as_tensor(labels).long().to(scores.device)
    ranked = scores.topk(min(max(topk), scores.shape[1]), dim=1).indices
    hits = ranked == labels.unsqueeze(1)
    return {f'top{k}': 100.0 * float(hits[:, :k].any(1).double().mean()) for k in topk}
