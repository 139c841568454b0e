"""Zero-shot classification scores: top-k accuracy and mean per-class recall, one tie rule."""
from typing import Dict, Sequence

import torch

from .finite import require_finite

__all__ = ['zero_shot_accuracy', 'zero_shot_scores']


def zero_shot_scores(scores: torch.Tensor, labels: torch.Tensor,
                     topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Top-k accuracy and mean per-class recall (in %) of ``(N, C)`` class scores.

    The project's one tie rule (docs/evaluation.md, "Zero-shot"): an image is a
    top-k hit when fewer than k *other* classes score at least as high as its
    true class, so ties count against the image, as in retrieval, and two
    identical prototypes are never both right. A k above the number of classes
    is clipped to it. ``mean_per_class_recall`` is the top-1 recall of each
    class that has images, averaged over those classes (a balanced accuracy).
    """
    scores = torch.as_tensor(scores)
    labels = torch.as_tensor(labels).long().to(scores.device)
    if scores.dim() != 2 or len(scores) != len(labels) or not len(labels):
        raise ValueError(f'zero_shot_scores needs (N, C) scores and N labels, N > 0; got '
                         f'{tuple(scores.shape)} and {tuple(labels.shape)}.')
    if int(labels.min()) < 0 or int(labels.max()) >= scores.shape[1]:
        raise ValueError(f'Labels must lie in [0, {scores.shape[1]}) (one score per class); '
                         f'got {int(labels.min())}..{int(labels.max())}.')
    true = scores.gather(1, labels[:, None])
    ahead = (scores >= true).sum(1) - 1
    out = {f'top{k}': 100.0 * float((ahead < min(k, scores.shape[1])).double().mean())
           for k in topk}
    hit = (ahead == 0).double()
    classes = torch.unique(labels)
    recalls = torch.stack([hit[labels == c].mean() for c in classes])
    out['mean_per_class_recall'] = 100.0 * float(recalls.mean())
    return out


def zero_shot_accuracy(img: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                       topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """:func:`zero_shot_scores` of ``img . prototype_c`` in float64.

    This form lets tools score post-hoc-transformed embeddings and prototypes;
    ``ZeroShotAccuracy`` scores the predict-mode ``pred_score`` with the same rule.
    """
    require_finite('zero_shot_accuracy', img=img, prototypes=prototypes)
    return zero_shot_scores(img.double() @ prototypes.double().t(), labels, topk)
