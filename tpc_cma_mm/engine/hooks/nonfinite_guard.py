"""Stop training at the first NaN / Inf loss and never checkpoint such a state."""
import math
import os.path as osp
from numbers import Number
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from tpc_cma_mm.registry import HOOKS

__all__ = ['NonFiniteGuardHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss, diagnostic or weight."""


def _as_float(value) -> Optional[float]:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach().float())
    if isinstance(value, Number) and not isinstance(value, bool):
        return float(value)
    return None


def _fmt(values: Dict[str, float]) -> str:
    return ', '.join(f'{k}={v:.6g}' for k, v in values.items())


def _last_good(runner) -> str:
    """What ``last_checkpoint`` names: CheckpointHook writes it after a save."""
    pointer = osp.join(runner.work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            return f.read().strip() or 'none'
    return 'none (no checkpoint was saved yet)'


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Raise :class:`NonFiniteLossError` when a loss or logged value is not finite.

    After every training iteration the scalars the model returned (``loss``,
    each ``loss_*`` term, ``alpha``, ``logit_scale`` ...) are checked. On a NaN
    or Inf the run stops *before* the ``LoggerHook`` and ``CheckpointHook`` of
    that iteration (this hook runs first), with the iteration, every term and
    alpha at that moment, and the last good checkpoint to resume from. Every
    checkpoint save is also checked: a state dict holding a non-finite tensor
    is refused, so no checkpoint ever holds one.

    Example config::

        default_hooks = dict(nonfinite_guard=dict(type='NonFiniteGuardHook'))

    Args:
        check_weights (bool): Also check every parameter after each iteration
            (one pass over the weights); the save-time check always runs.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_weights: bool = False):
        if not isinstance(check_weights, bool):
            raise ValueError(f'NonFiniteGuardHook.check_weights must be a bool, '
                             f'got {check_weights!r}')
        self.check_weights = check_weights

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        values = {k: _as_float(v) for k, v in (outputs or {}).items()}
        values = {k: v for k, v in values.items() if v is not None}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if self.check_weights:
            bad += [f'weight {n}' for n, p in self._model(runner).named_parameters()
                    if not torch.isfinite(p).all()]
        if not bad:
            return
        alpha = values.get('alpha', getattr(self._model(runner), 'alpha', None))
        raise NonFiniteLossError(
            f'Non-finite values at training iteration {runner.iter + 1}: '
            f'{", ".join(bad)}. Loss terms and diagnostics then: {_fmt(values)}; '
            f'alpha={alpha}. Training stopped before this iteration was logged or '
            f'checkpointed; the last good checkpoint is {_last_good(runner)}. '
            'Fix: lower the learning rate or alpha_target, keep optim_wrapper.clip_grad, '
            'check the data of this iteration, then resume with tools/train.py --resume.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', {})
        bad = [k for k, v in state.items()
               if isinstance(v, torch.Tensor) and v.is_floating_point()
               and not torch.isfinite(v).all()]
        if bad:
            raise NonFiniteLossError(
                f'Refusing to save a checkpoint at iteration {runner.iter}: '
                f'{len(bad)} weights hold NaN or Inf ({", ".join(bad[:5])}). The '
                f'last good checkpoint, {_last_good(runner)}, '
                'is kept. Fix: lower the learning rate or alpha_target, then resume '
                'with tools/train.py --resume.')
