"""WiSE-FT baseline: weight-space interpolation between the original and a fine-tuned model."""
from typing import Dict

import torch

__all__ = ['interpolate_state_dicts']


def interpolate_state_dicts(original: Dict[str, torch.Tensor], finetuned: Dict[str, torch.Tensor],
                            coefficient: float) -> Dict[str, torch.Tensor]:
    """``(1 - c) * original + c * finetuned`` for every floating tensor (Wortsman et al.,
    2022); integer buffers must agree and are taken as they are.

    ``c = 0`` is the original model and ``c = 1`` the fine-tuned one.
    """
    if not 0.0 <= coefficient <= 1.0:
        raise ValueError(f'WiSE-FT coefficient must lie in [0, 1], got {coefficient}')
    if original.keys() != finetuned.keys():
        raise KeyError('WiSE-FT needs two state dicts of one architecture; keys differ: '
                       f'{sorted(set(original) ^ set(finetuned))[:5]}')
    mixed = {}
    for key, start in original.items():
        end = finetuned[key]
        if start.shape != end.shape:
            raise ValueError(f'WiSE-FT: {key} has shape {tuple(start.shape)} in the original '
                             f'and {tuple(end.shape)} in the fine-tuned model.')
        if start.is_floating_point():
            mixed[key] = torch.lerp(start, end.to(start.dtype), coefficient)
        elif torch.equal(start, end):
            mixed[key] = start.clone()
        else:
            raise ValueError(f'WiSE-FT: the integer buffer {key} differs between the models; '
                             'it cannot be interpolated.')
    return mixed
