from .hooks import *  # noqa: F401,F403
from .hooks import __all__  # noqa: F401
from .hooks.zero_shot_classes import ZeroShotClassesHook  # noqa: F401
from .optim_wrapper import AutocastOptimWrapper  # noqa: F401
from .runner import MultiTestLoop, MultiValLoop  # noqa: F401
from .sharding import is_transformer_block, transformer_block_policy  # noqa: F401

__all__ = [*__all__, 'AutocastOptimWrapper', 'MultiTestLoop', 'MultiValLoop',
           'ZeroShotClassesHook', 'is_transformer_block', 'transformer_block_policy']
