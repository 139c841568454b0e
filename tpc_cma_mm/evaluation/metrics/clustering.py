"""Registered joint image+text clustering metric."""
from typing import Dict, Optional, Sequence

from tpc_cma_mm.registry import METRICS
from ..functional.clustering import joint_clustering
from .embedding_metric import EmbeddingMetric

__all__ = ['JointClusteringMetric']


@METRICS.register_module()
class JointClusteringMetric(EmbeddingMetric):
    """k-means on pooled image and text embeddings, scored against class and modality.

    Keys: ``clustering/ari_class``, ``clustering/nmi_class`` (clusters follow
    the classes: high is good), ``clustering/ari_modality``,
    ``clustering/nmi_modality`` (clusters split images from texts: the
    failure a modality gap causes) and ``clustering/ari_class_std`` (over
    seeds). Each score is the mean over ``seeds`` of a k-means with
    ``n_init`` restarts. An image with several captions is pooled once.

    Example config::

        val_evaluator = [
            dict(type='JointClusteringMetric', seeds=(0, 1, 2), n_init=10),
            dict(type='JointClusteringMetric', posthoc=dict(type='MeanCentering')),
        ]

    Args:
        num_clusters (int, optional): k; by default the number of classes in
            the dataset's metainfo, else the number of distinct labels seen.
        seeds (sequence of int): k-means seeds to average over.
        n_init (int): k-means restarts per seed (the best inertia is kept).
        posthoc (dict, optional): A post-hoc fix applied first.
        **kwargs: ``collect_device``, ``prefix``, ``collect_dir``.

    Raises:
        ValueError: on no labels, labels of one class, fewer than two clusters,
            fewer pooled embeddings than clusters, or non-finite embeddings
            (``functional/clustering.py``).
    """
    default_prefix = 'clustering'

    def __init__(self, num_clusters: Optional[int] = None, seeds: Sequence[int] = (0, 1, 2),
                 n_init: int = 10, posthoc: Optional[dict] = None, **kwargs):
        super().__init__(posthoc=posthoc, **kwargs)
        if not seeds:
            raise ValueError('JointClusteringMetric.seeds must name at least one seed.')
        self.num_clusters, self.seeds, self.n_init = num_clusters, tuple(seeds), n_init

    def compute_embedding_metrics(self, img, text, img_ids, labels) -> Dict[str, float]:
        k = self.num_clusters
        if k is None and self.dataset_meta and self.dataset_meta.get('classes'):
            k = len(self.dataset_meta['classes'])
        return joint_clustering(img, text, labels, k, self.seeds, self.n_init, img_ids)
