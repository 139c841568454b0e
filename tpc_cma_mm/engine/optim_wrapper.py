"""bfloat16 autocast for the optimizer wrapper, on a GPU or a CPU.

mmengine's ``AmpOptimWrapper`` refuses to run without a GPU, and with bf16 it
still scales the loss (a gradient unscale pass and an inf check, which waits
for the GPU, every step) although bf16 has float32's exponent range and needs
no scaling. ``tools/train.py --amp`` uses this wrapper where bf16 is supported
and ``AmpOptimWrapper`` with dynamic loss scaling for float16.

Example config::

    optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16',
                         optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1))
"""
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from tpc_cma_mm.registry import OPTIM_WRAPPERS

__all__ = ['AutocastOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward runs under ``torch.autocast(dtype)``.

    Args:
        dtype (str | torch.dtype): The autocast dtype; ``'bfloat16'`` (float16
            needs loss scaling: use ``AmpOptimWrapper``).
        **kwargs: ``OptimWrapper``'s arguments (optimizer, clip_grad, ...).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', **kwargs):
        super().__init__(**kwargs)
        dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if dtype == torch.float16:
            raise ValueError('float16 needs loss scaling: use AmpOptimWrapper.')
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        param = next(model.parameters(), None)
        device = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(device, dtype=self.cast_dtype):
            yield
