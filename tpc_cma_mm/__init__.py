"""tpc_cma_mm: controllable modality-gap closing (TPC-CMA) for mmpretrain.

Importing the package registers every module in the ``tpc_cma_mm`` scope and
changes nothing else: mmengine's checkpoint loaders stay as they are outside
:func:`tpc_cma_mm.utils.safe_loading`, which this plugin's tools, APIs and
checkpoint hook open around their loads (docs/reliability.md, "Checkpoints never run code").
"""
from . import datasets, engine, evaluation, models  # noqa: F401  (registration)

__version__ = '0.1.0'
__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models']
