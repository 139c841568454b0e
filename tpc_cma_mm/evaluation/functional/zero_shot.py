"""Zero-shot classification accuracy from image embeddings and class prototypes."""
from typing import Dict, Sequence

import torch

from .finite import require_finite

__all__ = ['zero_shot_accuracy']


def zero_shot_accuracy(img: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                       topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Top-k accuracy (in %) of ``argmax_c img . prototype_c`` against ``labels``.

    An image is a top-k hit when fewer than k *other* classes score at least
    as high as its true class: ties count against the image, as in retrieval
    (docs/evaluation.md), so identical prototypes cannot both be right. (The
    predict-mode path scored by mmpretrain's ``Accuracy`` breaks ties by class
    index instead.) This form lets tools score post-hoc-transformed embeddings
    and prototypes. A k above the number of classes is clipped to it.
    """
    require_finite('zero_shot_accuracy', img=img, prototypes=prototypes)
    scores = img.double() @ prototypes.double().t()
    labels = torch.as_tensor(labels).long().to(scores.device)
    true = scores.gather(1, labels[:, None])
    ahead = (scores >= true).sum(1) - 1
    return {f'top{k}': 100.0 * float((ahead < min(k, scores.shape[1])).double().mean())
            for k in topk}
