from .checkpoint import (CheckpointReadError, UnsafeCheckpointError, find_resumable_checkpoint,
                         safe_loading, safe_torch_load)
from .dist import gather_with_grad, world_size
from .state_dict_check import CheckpointMismatchError, check_state_dict, diff_state_dict

__all__ = [
    'CheckpointMismatchError', 'CheckpointReadError', 'UnsafeCheckpointError', 'check_state_dict',
    'diff_state_dict', 'find_resumable_checkpoint', 'gather_with_grad', 'safe_loading',
    'safe_torch_load', 'world_size'
]
