"""Every embedding metric of one model (optionally + a post-hoc fix), from one embedding pass."""
from typing import Dict, Optional, Sequence

import torch

from .clustering import joint_clustering
from .gaps import gap_metrics
from .posthoc import build_posthoc
from .retrieval import retrieval_recall
from .zero_shot import zero_shot_accuracy

__all__ = ['embedding_suite']


def embedding_suite(img: torch.Tensor, text: torch.Tensor, labels: torch.Tensor,
                    img_ids: torch.Tensor, prototypes: Optional[torch.Tensor] = None,
                    posthoc=None, num_clusters: Optional[int] = None,
                    clustering_seeds: Sequence[int] = (0, 1, 2), n_init: int = 10,
                    max_mmd_samples: int = 5000) -> Dict[str, float]:
    """Gap keys, joint clustering, retrieval and zero-shot accuracy, flat.

    Keys match the registered metrics' (``gap/...``, ``clustering/...``,
    ``retrieval/...``, ``zero_shot/top1`` / ``top5``). With ``posthoc``, the
    transform is fitted on these pairs and its text side is applied to the
    zero-shot ``prototypes`` as well, so "model + fix" is scored the same way
    on every task. Clustering is skipped when no row has a label (>= 0), and
    zero-shot when ``prototypes`` is None.
    """
    transform = build_posthoc(posthoc)
    if transform is not None:
        img, text = transform(img, text)
        if prototypes is not None:
            prototypes = transform.text(prototypes)
    out = {f'gap/{k}': v for k, v in gap_metrics(img, text, max_mmd_samples).items()}
    labels = torch.as_tensor(labels).long()
    if bool((labels >= 0).any()):
        clustering = joint_clustering(img, text, labels, num_clusters, clustering_seeds,
                                      n_init, img_ids)
        out.update({f'clustering/{k}': v for k, v in clustering.items()})
    out.update({f'retrieval/{k}': v for k, v in retrieval_recall(img, text, img_ids).items()})
    if prototypes is not None:
        labelled = labels >= 0
        topk = (1, 5) if len(prototypes) >= 5 else (1, )
        scores = zero_shot_accuracy(img[labelled], prototypes, labels[labelled], topk)
        out.update({f'zero_shot/{k}': v for k, v in scores.items()})
    return out
