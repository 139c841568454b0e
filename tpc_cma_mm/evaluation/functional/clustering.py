"""Joint image+text clustering: k-means on the pooled embeddings, scored by ARI / NMI."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch

__all__ = ['adjusted_rand_index', 'joint_clustering', 'normalized_mutual_info']


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, a_codes = np.unique(a, return_inverse=True)
    _, b_codes = np.unique(b, return_inverse=True)
    table = np.zeros((a_codes.max() + 1, b_codes.max() + 1), dtype=np.int64)
    np.add.at(table, (a_codes, b_codes), 1)
    return table


def _pairs(counts: np.ndarray) -> float:
    counts = counts.astype(np.float64)
    return float((counts * (counts - 1) / 2).sum())


def adjusted_rand_index(labels_a, labels_b) -> float:
    """Hubert & Arabie's adjusted Rand index of two labelings of the same points.

    1 for identical partitions (also when both are a single cluster), about 0
    for independent ones.
    """
    table = _contingency(np.asarray(labels_a), np.asarray(labels_b))
    n_pairs = _pairs(np.array([table.sum()]))
    index = _pairs(table)
    rows, cols = _pairs(table.sum(1)), _pairs(table.sum(0))
    expected = rows * cols / n_pairs if n_pairs else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info(labels_a, labels_b) -> float:
    """Mutual information divided by the arithmetic mean of the two entropies."""
    table = _contingency(np.asarray(labels_a), np.asarray(labels_b)).astype(np.float64)
    if table.shape[0] == 1 and table.shape[1] == 1:
        return 1.0  # both labelings put everything in one cluster
    joint = table / table.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    mutual = float((joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])).sum())
    normaliser = (_entropy(table.sum(1)) + _entropy(table.sum(0))) / 2
    return mutual / max(normaliser, np.finfo(np.float64).eps)


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
    """
    from sklearn.cluster import KMeans  # heavy import, only needed here

    labels = torch.as_tensor(labels).long()
    keep = labels >= 0
    if not bool(keep.any()):
        raise ValueError('joint_clustering needs labelled samples (gt_label >= 0); none found.')
    img_rows = keep.clone()
    if img_ids is not None:
        first = torch.zeros_like(keep)
        seen = set()
        for row, img_id in enumerate(torch.as_tensor(img_ids).tolist()):
            if img_id not in seen:
                seen.add(img_id)
                first[row] = True
        img_rows &= first
    pooled = torch.cat([img[img_rows], text[keep]]).double().cpu().numpy()
    class_of = torch.cat([labels[img_rows], labels[keep]]).numpy()
    modality_of = np.r_[np.zeros(int(img_rows.sum())), np.ones(int(keep.sum()))]
    k = int(num_clusters) if num_clusters else len(np.unique(class_of))
    if len(pooled) < k or k < 1:
        raise ValueError(f'joint_clustering: {len(pooled)} pooled embeddings cannot form '
                         f'{k} clusters; evaluate on more samples or lower num_clusters.')
    scores = {key: [] for key in ('ari_class', 'ari_modality', 'nmi_class', 'nmi_modality')}
    for seed in seeds:
        assigned = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(pooled)
        scores['ari_class'].append(adjusted_rand_index(class_of, assigned))
        scores['ari_modality'].append(adjusted_rand_index(modality_of, assigned))
        scores['nmi_class'].append(normalized_mutual_info(class_of, assigned))
        scores['nmi_modality'].append(normalized_mutual_info(modality_of, assigned))
    out = {key: float(np.mean(values)) for key, values in scores.items()}
    out['ari_class_std'] = float(np.std(scores['ari_class']))
    return out
