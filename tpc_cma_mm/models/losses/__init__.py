from .cma import CMALoss, cma_terms
from .contrastive import ContrastiveLoss
from .distribution_terms import (DistributionTerm, MMDAlignment, PairCentroidUniformity,
                                 SharedPriorMoments)

__all__ = ['CMALoss', 'ContrastiveLoss', 'DistributionTerm', 'MMDAlignment',
           'PairCentroidUniformity', 'SharedPriorMoments', 'cma_terms']
