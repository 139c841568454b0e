"""tpc_cma_mm: controllable modality-gap closing (TPC-CMA) for mmpretrain.

Importing the package registers every module in the ``tpc_cma_mm`` scope and
allow-lists the few mmengine / numpy types that mmengine checkpoints hold, so
resume and ``load_from`` work with weights-only loading.
"""
from .utils.checkpoint import allow_mmengine_checkpoint_types

from . import datasets, engine, evaluation, models  # noqa: F401,E402  (registration)

__version__ = '0.1.0'
__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models']

allow_mmengine_checkpoint_types()
