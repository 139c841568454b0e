from .embedding_metric import EmbeddingMetric
from .retrieval import CrossModalRetrieval

__all__ = ['CrossModalRetrieval', 'EmbeddingMetric']
