"""Build a module from the plugin registry, whatever the caller's scope."""
from mmengine.registry import DefaultScope
from torch import nn

from tpc_cma_mm.registry import MODELS

__all__ = ['build_in_plugin_scope']


def build_in_plugin_scope(cfg: dict) -> nn.Module:
    """Build ``cfg`` from the plugin registry, whatever the caller's scope.

    mmcv builds layers such as ``QuickGELU`` from mmengine's root registry,
    which finds mmpretrain's and this plugin's modules only in this scope; so a
    model built outside the Runner (notebooks, converters) needs it set.
    """
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
        return MODELS.build(cfg)
