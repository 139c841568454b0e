from .caption import CaptionMetric, score_captions, simple_tokenize
from .clustering import JointClusteringMetric
from .embedding_metric import EmbeddingMetric
from .gap import ModalityGapMetric
from .retrieval import CrossModalRetrieval

__all__ = ['CaptionMetric', 'CrossModalRetrieval', 'EmbeddingMetric', 'JointClusteringMetric',
           'ModalityGapMetric', 'score_captions', 'simple_tokenize']
