"""FSDP for this plugin: which modules FSDP wraps and checkpoints, and a strategy
that shards the logit scale and runs on the CPU.

mmengine's ``FSDPStrategy`` looks ``auto_wrap_policy`` and
``activation_checkpointing.check_fn`` up by name in its ``FUNCTIONS``
registry. These wrap every transformer block of both towers (mmpretrain's
``TransformerEncoderLayer`` and our ``TextResidualBlock``) in its own FSDP
unit, and leave the embeddings, final norms, projection heads and logit scale
in the root unit: the heads stay unsharded for the whole step, which the
gradient-norm probe needs (docs/scaling.md).

Example config::

    runner_type = 'FlexibleRunner'
    strategy = dict(
        type='ScalarSafeFSDPStrategy',
        model_wrapper=dict(auto_wrap_policy='tpc_transformer_block_policy',
                           use_orig_params=True),
        activation_checkpointing=dict(check_fn='tpc_is_transformer_block'))
"""
import torch
from mmengine._strategy import FSDPStrategy
from torch.distributed.fsdp import FullyShardedDataParallel
from mmengine.registry import FUNCTIONS, STRATEGIES
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from torch import nn

from tpc_cma_mm.models.text_encoder import TextResidualBlock

__all__ = ['BLOCK_TYPES', 'ScalarSafeFSDPStrategy', 'is_transformer_block',
           'make_scalar_parameters_shardable', 'transformer_block_policy']

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


def make_scalar_parameters_shardable(model: nn.Module) -> list:
    """View every 0-d parameter as a 1-element vector; checkpoints keep the 0-d shape.

    FSDP refuses 0-d parameters (the logit scale; docs/scaling.md, FSDP). A
    ``(1,)`` parameter broadcasts wherever the scalar did. State-dict hooks
    save it as a 0-d tensor and accept a 0-d tensor when loading, so
    checkpoints keep the layout of an unsharded model. Returns the names of
    the converted parameters.
    """
    converted = []
    for module_name, module in model.named_modules():
        names = [n for n, p in module.named_parameters(recurse=False) if p.dim() == 0]
        for name in names:
            old = getattr(module, name)
            setattr(module, name, nn.Parameter(old.detach().reshape(1),
                                               requires_grad=old.requires_grad))
            converted.append(f'{module_name}.{name}' if module_name else name)
        if names:
            module._register_state_dict_hook(_ScalarStateDict(names).save)
            module._register_load_state_dict_pre_hook(_ScalarStateDict(names).load)
    return converted


class _ScalarStateDict:
    """State-dict hooks that store the named 1-element parameters as 0-d tensors."""

    def __init__(self, names):
        self.names = names

    def save(self, module, state_dict, prefix, local_metadata):
        for name in self.names:
            value = state_dict.get(prefix + name)
            # FSDP's rank-0-only full state dict leaves empty tensors on other ranks.
            if value is not None and value.numel() == 1:
                state_dict[prefix + name] = value.reshape(())

    def load(self, state_dict, prefix, *args):
        for name in self.names:
            value = state_dict.get(prefix + name)
            if value is not None and value.dim() == 0:
                state_dict[prefix + name] = value.reshape(1)


@STRATEGIES.register_module()
class ScalarSafeFSDPStrategy(FSDPStrategy):
    """mmengine's ``FSDPStrategy`` for a ``DualEncoder``: scalar parameters
    sharded, and the CPU used when there is no GPU.

    Before wrapping, 0-d parameters become 1-element vectors
    (:func:`make_scalar_parameters_shardable`: FSDP refuses 0-d parameters,
    and CLIP's logit scale is one). Without CUDA, FSDP's ``device_id`` defaults
    to the CPU (with gloo, e.g. ``env_cfg.dist_cfg.backend='gloo'``): the same
    sharded training on a CPU, which tests/engine/test_fsdp_cpu.py checks
    against DDP and one process. Resuming loads the optimizer state with the
    argument order of today's ``FSDP.optim_state_dict_to_load`` (mmengine
    0.10.7 passes torch 2.0's and fails with ``unhashable type: 'dict'``).
    Every other argument is ``FSDPStrategy``'s.

    Example config::

        runner_type = 'FlexibleRunner'
        strategy = dict(type='ScalarSafeFSDPStrategy',
                        model_wrapper=dict(auto_wrap_policy='tpc_transformer_block_policy',
                                           use_orig_params=True),
                        state_dict_cfg='full')
    """

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        make_scalar_parameters_shardable(model)
        if not torch.cuda.is_available():
            self.model_wrapper = dict(self.model_wrapper or dict(type='MMFullyShardedDataParallel'))
            self.model_wrapper.setdefault('device_id', 'cpu')
        return super()._wrap_model(model)

    def load_optim_state_dict(self, state_dict: dict) -> None:
        optim_state_dict = FullyShardedDataParallel.optim_state_dict_to_load(
            model=self.model, optim=self.optim_wrapper.optimizer, optim_state_dict=state_dict)
        self.optim_wrapper.load_state_dict(optim_state_dict)
