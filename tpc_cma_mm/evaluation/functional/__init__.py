from .retrieval import retrieval_recall

__all__ = ['retrieval_recall']
