from .cma import CMALoss, cma_terms
from .combination import COMBINE_MODES, alpha_cap, check_combine, loss_weights
from .contrastive import ContrastiveLoss

__all__ = ['COMBINE_MODES', 'CMALoss', 'ContrastiveLoss', 'alpha_cap', 'check_combine',
           'cma_terms', 'loss_weights']
