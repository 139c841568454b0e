from .cma import CMALoss, cma_terms
from .contrastive import ContrastiveLoss

__all__ = ['CMALoss', 'ContrastiveLoss', 'cma_terms']
