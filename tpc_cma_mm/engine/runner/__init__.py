from .extra_sets import ExtraSets
from .multi_val_loop import MultiTestLoop, MultiValLoop

__all__ = ['ExtraSets', 'MultiTestLoop', 'MultiValLoop']
