from .caption import CaptionMetric, score_captions, simple_tokenize
from .clustering import JointClusteringMetric
from .dump import DumpEmbeddings
from .embedding_metric import EmbeddingMetric
from .expressiveness import AttributeProbeMetric
from .gap import ModalityGapMetric
from .retrieval import CrossModalRetrieval
from .zero_shot import ZeroShotAccuracy

__all__ = ['AttributeProbeMetric', 'CaptionMetric', 'CrossModalRetrieval', 'DumpEmbeddings',
           'EmbeddingMetric',
           'JointClusteringMetric', 'ModalityGapMetric', 'score_captions', 'simple_tokenize',
           'ZeroShotAccuracy']
