"""Joint clustering: scores against sklearn's k-means and ARI / NMI, k-means behaviour, the metric."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from tpc_cma_mm.evaluation import JointClusteringMetric
from tpc_cma_mm.evaluation.functional import joint_clustering


def _class_blobs(num=60, gap=0.0, seed=0):
    """Three well-separated classes; images and texts are pushed ``gap`` along two spare axes."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(num) % 3
    centres = torch.eye(8)[:3] * 3
    img = centres[labels] + 0.1 * torch.randn(num, 8, generator=gen) + gap * torch.eye(8)[6]
    text = centres[labels] + 0.1 * torch.randn(num, 8, generator=gen) + gap * torch.eye(8)[7]
    return F.normalize(img, dim=1), F.normalize(text, dim=1), labels


def test_without_a_gap_clusters_follow_classes():
    img, text, labels = _class_blobs()
    scores = joint_clustering(img, text, labels, seeds=(0, 1))
    assert scores['ari_class'] == pytest.approx(1.0)
    assert abs(scores['ari_modality']) < 0.05


def test_a_large_gap_makes_clusters_split_by_modality():
    img, text, labels = _class_blobs(gap=10.0)
    scores = joint_clustering(img, text, labels, num_clusters=2, seeds=(0, ))
    assert scores['ari_modality'] == pytest.approx(1.0)
    assert scores['nmi_modality'] == pytest.approx(1.0)


def test_scores_equal_sklearn_kmeans_with_the_same_seed(pairs):
    img, text, labels = pairs
    scores = joint_clustering(img, text, labels, seeds=(7, ), n_init=3)
    pooled = torch.cat([img, text]).double().numpy()
    assigned = KMeans(n_clusters=4, n_init=3, random_state=7).fit_predict(pooled)
    truth = torch.cat([labels, labels]).numpy()
    assert scores['ari_class'] == pytest.approx(adjusted_rand_score(truth, assigned))
    modality = np.r_[np.zeros(len(img)), np.ones(len(text))]
    assert scores['ari_modality'] == pytest.approx(adjusted_rand_score(modality, assigned))
    assert scores['nmi_class'] == pytest.approx(normalized_mutual_info_score(truth, assigned))


def test_repeated_images_are_pooled_once():
    img, text, labels = _class_blobs(num=12)  # labels[r] = r % 3
    img_ids = torch.arange(12) % 6  # rows r and r + 6: one image (same class), two captions
    img = img[img_ids]
    scores = joint_clustering(img, text, labels, seeds=(0, ), n_init=2, img_ids=img_ids)
    pooled = torch.cat([img[:6], text]).double().numpy()  # each image once
    assigned = KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(pooled)
    truth = torch.cat([labels[:6], labels]).numpy()
    assert scores['ari_class'] == pytest.approx(adjusted_rand_score(truth, assigned))


def test_fewer_samples_than_clusters_is_a_clear_error():
    img, text, labels = _class_blobs(num=3)
    with pytest.raises(ValueError, match='cannot form 8 clusters'):
        joint_clustering(img, text, labels, num_clusters=8)
    with pytest.raises(ValueError, match='labelled'):
        joint_clustering(img, text, -torch.ones(3, dtype=torch.long))


def test_metric_uses_the_dataset_classes_as_k():
    img, text, labels = _class_blobs(num=30)
    metric = JointClusteringMetric(seeds=(0, ), n_init=2)
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process(None, [dict(img_embeds=i, text_embeds=t, gt_label=torch.tensor([int(c)]),
                               img_id=n) for n, (i, t, c) in enumerate(zip(img, text, labels))])
    scores = metric.evaluate(30)
    assert scores['clustering/ari_class'] == pytest.approx(1.0)
    assert set(scores) >= {'clustering/ari_modality', 'clustering/nmi_class'}
