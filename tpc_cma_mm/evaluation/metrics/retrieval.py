"""Registered cross-modal retrieval metric."""
from typing import Dict, Sequence

from tpc_cma_mm.registry import METRICS
from ..functional import retrieval_recall
from .embedding_metric import EmbeddingMetric

__all__ = ['CrossModalRetrieval']


@METRICS.register_module()
class CrossModalRetrieval(EmbeddingMetric):
    """Image-to-text and text-to-image Recall@K, in %.

    Captions of one image share its ``img_id``; an image query is right when
    any of its captions ranks within K. Ties count against the query
    (``functional/retrieval.py``). Neither mmpretrain's ``RetrievalRecall``
    nor sklearn's ``top_k_accuracy_score`` fits: both break ties by index
    order (optimistic with duplicate images or captions), and the former
    fails under numpy 2.

    Example config::

        val_evaluator = [
            dict(type='CrossModalRetrieval', topk=(1, 5, 10)),
            # the same after a post-hoc fix: keys mean_centering/retrieval/...
            dict(type='CrossModalRetrieval', posthoc=dict(type='MeanCentering')),
        ]
    """
    default_prefix = 'retrieval'

    def __init__(self, topk: Sequence[int] = (1, 5, 10), **kwargs):
        super().__init__(**kwargs)
        self.topk = tuple(topk)

    def compute_embedding_metrics(self, img, text, img_ids, labels) -> Dict[str, float]:
        return retrieval_recall(img, text, img_ids, self.topk)
