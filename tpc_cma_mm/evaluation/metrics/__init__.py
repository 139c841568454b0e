from .caption import CaptionMetric, score_captions, simple_tokenize
from .clustering import JointClusteringMetric
from .embedding_metric import EmbeddingMetric
from .expressiveness import AttributeProbeMetric
from .gap import ModalityGapMetric
from .retrieval import CrossModalRetrieval

__all__ = ['AttributeProbeMetric', 'CaptionMetric', 'CrossModalRetrieval', 'EmbeddingMetric',
           'JointClusteringMetric', 'ModalityGapMetric', 'score_captions', 'simple_tokenize']
