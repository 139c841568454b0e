"""Pipeline building in the plugin scope."""
from typing import Sequence

from tpc_cma_mm.registry import TRANSFORMS

__all__ = ['build_pipeline']


def build_pipeline(pipeline: Sequence) -> list:
    """Build transform configs with the plugin's registry.

    mmengine's ``BaseDataset`` would build them from its root registry, which
    knows neither this plugin's transforms nor mmpretrain's outside a Runner.
    """
    return [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
