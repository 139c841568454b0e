from .checkpoint import (UnsafeCheckpointError, allow_mmengine_checkpoint_types,
                         safe_torch_load)
from .dist import gather_with_grad, world_size

__all__ = [
    'UnsafeCheckpointError', 'allow_mmengine_checkpoint_types',
    'gather_with_grad', 'safe_torch_load', 'world_size'
]
