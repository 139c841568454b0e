"""Functions the FSDP configs name: which modules FSDP wraps and checkpoints.

mmengine's ``FSDPStrategy`` looks ``auto_wrap_policy`` and
``activation_checkpointing.check_fn`` up by name in its ``FUNCTIONS``
registry. These wrap every transformer block of both towers (mmpretrain's
``TransformerEncoderLayer`` and our ``TextResidualBlock``) in its own FSDP
unit, and leave the embeddings, final norms, projection heads and logit scale
in the root unit: the heads stay unsharded for the whole step, which the
gradient-norm probe needs (docs/scaling.md).

Example config::

    strategy = dict(
        type='FSDPStrategy',
        model_wrapper=dict(auto_wrap_policy='tpc_transformer_block_policy',
                           use_orig_params=True),
        activation_checkpointing=dict(check_fn='tpc_is_transformer_block'))
"""
from mmengine.registry import FUNCTIONS
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from torch import nn

from tpc_cma_mm.models.text_encoder import TextResidualBlock

__all__ = ['BLOCK_TYPES', 'is_transformer_block', 'transformer_block_policy']

BLOCK_TYPES = (TransformerEncoderLayer, TextResidualBlock)


@FUNCTIONS.register_module(name='tpc_is_transformer_block')
def is_transformer_block(module: nn.Module) -> bool:
    """True for a residual block of either tower."""
    return isinstance(module, BLOCK_TYPES)


@FUNCTIONS.register_module(name='tpc_transformer_block_policy')
def transformer_block_policy(module: nn.Module, recurse: bool,
                             nonwrapped_numel: int = 0) -> bool:
    """FSDP auto-wrap policy: one unit per transformer block."""
    return True if recurse else is_transformer_block(module)
