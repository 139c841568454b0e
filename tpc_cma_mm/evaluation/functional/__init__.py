from .clustering import joint_clustering
from .expressiveness import attribute_probes, linear_probe_accuracy
from .finite import NonFiniteEmbeddingError, require_finite
from .gaps import (GAP_KEYS, bures_distance, gap_metrics, gap_reduction,
                   gaps_from_moments, mmd_rbf)
from .moments import PairedMoments
from .posthoc import (GapShift, MeanCentering, PosthocTransform, build_posthoc,
                      mean_center, shift_along_gap)
from .retrieval import first_occurrence, retrieval_recall
from .subsample import BottomKSample, subsample_priorities
from .suite import embedding_suite
from .zero_shot import zero_shot_accuracy

__all__ = [
    'BottomKSample', 'GAP_KEYS', 'GapShift', 'MeanCentering', 'NonFiniteEmbeddingError',
    'PairedMoments', 'PosthocTransform',
    'attribute_probes', 'build_posthoc', 'bures_distance', 'embedding_suite', 'first_occurrence',
    'gap_metrics', 'gap_reduction', 'gaps_from_moments', 'joint_clustering',
    'linear_probe_accuracy', 'mean_center',
    'mmd_rbf', 'require_finite', 'retrieval_recall', 'shift_along_gap',
    'subsample_priorities', 'zero_shot_accuracy'
]
