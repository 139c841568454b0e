"""Joint image+text clustering: k-means on the pooled embeddings, scored by ARI / NMI."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from .finite import require_finite
from .retrieval import first_occurrence

__all__ = ['joint_clustering']


def joint_clustering(img: torch.Tensor, text: torch.Tensor, labels: torch.Tensor,
                     num_clusters: Optional[int] = None, seeds: Sequence[int] = (0, 1, 2),
                     n_init: int = 10, img_ids: Optional[torch.Tensor] = None
                     ) -> Dict[str, float]:
    """k-means on the pooled image and text embeddings, averaged over seeds.

    Each caption and its image carry the pair's class label. Rows whose label
    is negative (unlabelled) are left out. When ``img_ids`` is given, an image
    that appears with several captions enters the pool once, so it does not
    weigh k times in the k-means objective.

    Returns the mean over ``seeds`` of ``ari_class`` / ``nmi_class`` (agreement
    with the classes: high is good) and ``ari_modality`` / ``nmi_modality``
    (agreement with image-vs-text: high means the clusters split by modality,
    the failure a modality gap causes), plus ``ari_class_std``.

    Degenerate inputs are refused with a ``ValueError``, the same through the
    function and ``JointClusteringMetric``: labelled samples of one class only
    (sklearn's ARI / NMI of a one-class labelling are 1.0 against one cluster
    and 0.0 against more, whatever the embeddings), fewer than two clusters,
    fewer pooled embeddings than clusters, and NaN / Inf embeddings.
    """
    # heavy imports, only needed here
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    require_finite('joint_clustering', img=img, text=text)
    labels = torch.as_tensor(labels).long()
    keep = labels >= 0
    if not bool(keep.any()):
        raise ValueError('joint_clustering needs labelled samples (gt_label >= 0); none found.')
    img_rows = keep.clone()
    if img_ids is not None:
        first = torch.zeros_like(keep)
        first[first_occurrence(img_ids)[0]] = True
        img_rows &= first
    pooled = torch.cat([img[img_rows], text[keep]]).double().cpu().numpy()
    class_of = torch.cat([labels[img_rows], labels[keep]]).numpy()
    modality_of = np.r_[np.zeros(int(img_rows.sum())), np.ones(int(keep.sum()))]
    classes = np.unique(class_of)
    if len(classes) < 2:
        raise ValueError(
            f'joint_clustering: every labelled sample has class {int(classes[0])}; agreement '
            'of clusters with classes needs at least two classes. sklearn scores one class '
            'against one cluster as 1.0 and against several clusters as 0.0, so the score '
            'would depend on num_clusters, not on the embeddings. Evaluate on a split with '
            'several classes.')
    k = int(num_clusters) if num_clusters else len(classes)
    if k < 2:
        raise ValueError(f'joint_clustering: num_clusters={k} puts every embedding in one '
                         'cluster, which agrees with nothing; use num_clusters >= 2.')
    if len(pooled) < k:
        raise ValueError(f'joint_clustering: {len(pooled)} pooled embeddings cannot form '
                         f'{k} clusters; evaluate on more samples or lower num_clusters.')
    scores = {key: [] for key in ('ari_class', 'ari_modality', 'nmi_class', 'nmi_modality')}
    for seed in seeds:
        assigned = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(pooled)
        scores['ari_class'].append(adjusted_rand_score(class_of, assigned))
        scores['ari_modality'].append(adjusted_rand_score(modality_of, assigned))
        scores['nmi_class'].append(normalized_mutual_info_score(class_of, assigned))
        scores['nmi_modality'].append(normalized_mutual_info_score(modality_of, assigned))
    out = {key: float(np.mean(values)) for key, values in scores.items()}
    out['ari_class_std'] = float(np.std(scores['ari_class']))
    return out
