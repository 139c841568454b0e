from .alignment import AlignmentObjective
from .combination import (COMBINE_MODES, alpha_cap, check_combine, constant_alpha_cap,
                          loss_weights)
from .gap_estimate import GAP_ESTIMATE_KEYS, batch_gap_squares, gap_from_squares
from .grad_probe import GradProbe, ProbeMeasurement, select_params

__all__ = ['AlignmentObjective', 'COMBINE_MODES', 'GAP_ESTIMATE_KEYS', 'GradProbe',
           'ProbeMeasurement', 'alpha_cap', 'batch_gap_squares', 'check_combine',
           'constant_alpha_cap', 'gap_from_squares', 'loss_weights', 'select_params']
