"""Stop training at the first NaN / Inf loss or gradient; never checkpoint such a state."""
import math
import os.path as osp
from numbers import Number
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook

from tpc_cma_mm.registry import HOOKS
from tpc_cma_mm.utils.dist import any_rank, unwrap_model

__all__ = ['NonFiniteGuardHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss, diagnostic, gradient or weight."""

GRAD_ACTIONS = ('raise', 'skip', None)


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
    """Raise :class:`NonFiniteLossError` when a loss, gradient or logged value is not finite.

    Gradients are checked in every optimizer step, after the backward pass
    (and after ``clip_grad``) and before the weights change, through an
    optimizer step pre-hook: a finite loss can still give an infinite or NaN
    gradient (a huge learning rate), and one such step poisons every weight.
    Such a step's gradients are dropped (no parameter, moment or weight-decay
    update); then ``on_nonfinite_grad='raise'`` stops the run after the step
    with the weights of the previous one, ``'skip'`` goes on, warning with the
    iteration and counting the skips in ``train/skipped_steps``; ``None``
    switches the check off.

    After every training iteration the scalars the model returned (``loss``,
    each ``loss_*`` term, ``alpha``, ``logit_scale`` ...) are checked. On a NaN
    or Inf the run stops *before* the ``LoggerHook`` and ``CheckpointHook`` of
    that iteration (this hook runs first), with the iteration, every term and
    alpha at that moment, and the last good checkpoint to resume from. Every
    checkpoint save is also checked: a state dict holding a non-finite tensor
    is refused, so no checkpoint ever holds one.

    Example config::

        default_hooks = dict(nonfinite_guard=dict(type='NonFiniteGuardHook',
                                                  on_nonfinite_grad='raise'))

    Args:
        check_weights (bool): Also check every parameter after each iteration
            (one pass over the weights); the save-time check always runs.
        on_nonfinite_grad (str | None): ``'raise'`` (default), ``'skip'`` or
            ``None``, see above.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_weights: bool = False, on_nonfinite_grad: Optional[str] = 'raise'):
        if not isinstance(check_weights, bool):
            raise ValueError(f'NonFiniteGuardHook.check_weights must be a bool, '
                             f'got {check_weights!r}')
        if on_nonfinite_grad not in GRAD_ACTIONS:
            raise ValueError(f'NonFiniteGuardHook.on_nonfinite_grad must be one of '
                             f'{GRAD_ACTIONS}, got {on_nonfinite_grad!r}')
        self.check_weights = check_weights
        self.on_nonfinite_grad = on_nonfinite_grad
        self.skipped_steps = 0
        self._handles: List = []
        self._dropped_grad_norm: Optional[float] = None

    def before_train(self, runner) -> None:
        if self.on_nonfinite_grad is None:
            return
        wrapper = runner.optim_wrapper
        wrappers = getattr(wrapper, 'optim_wrappers', {'': wrapper}).values()
        for optimizer in (w.optimizer for w in wrappers):
            if not isinstance(optimizer, torch.optim.Optimizer):
                runner.logger.warning(
                    f'NonFiniteGuardHook checks gradients through a torch optimizer; '
                    f'{type(optimizer).__name__} is not one, so its gradients are left to '
                    "the strategy's own overflow check (set on_nonfinite_grad=None to "
                    'silence this).')
                continue
            self._handles.append(optimizer.register_step_pre_hook(
                lambda opt, args, kwargs: self._check_grads(opt)))

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _check_grads(self, optimizer: torch.optim.Optimizer) -> None:
        params = [p for group in optimizer.param_groups for p in group['params']
                  if p.grad is not None]
        norm = (torch.nn.utils.get_total_norm([p.grad for p in params]) if params
                else torch.zeros(()))
        # Sharded gradients (FSDP) differ by rank: every rank drops the step if any must.
        if not any_rank(not bool(torch.isfinite(norm)), norm.device):
            return
        for p in params:
            p.grad = None  # torch optimizers leave parameters without grad alone
        # Raised (or counted) in after_train_iter, where the step's loss terms
        # are known: a NaN loss is then reported as such.
        self._dropped_grad_norm = float(norm)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        grad_norm, self._dropped_grad_norm = self._dropped_grad_norm, None
        values = {k: _as_float(v) for k, v in (outputs or {}).items()}
        values = {k: v for k, v in values.items() if v is not None}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if self.check_weights:
            bad += [f'weight {n}' for n, p in unwrap_model(runner.model).named_parameters()
                    if not torch.isfinite(p).all()]
        iteration = runner.iter + 1  # 1-based, as mmengine logs it
        step = ('' if grad_norm is None else 'The optimizer step was not taken '
                f'(gradient norm on this rank: {grad_norm}). ')
        if bad:
            alpha = values.get('alpha', getattr(unwrap_model(runner.model), 'alpha', None))
            raise NonFiniteLossError(
                f'Non-finite values at training iteration {iteration}: '
                f'{", ".join(bad)}. Loss terms and diagnostics then: {_fmt(values)}; '
                f'alpha={alpha}. {step}Training stopped before this iteration was logged '
                f'or checkpointed; the last good checkpoint is {_last_good(runner)}. '
                'Fix: lower the learning rate or alpha_target, keep optim_wrapper.clip_grad, '
                'check the data of this iteration, then resume with tools/train.py --resume.')
        if grad_norm is None:
            return
        if self.on_nonfinite_grad == 'skip':
            self.skipped_steps += 1
            runner.message_hub.update_scalar('train/skipped_steps', self.skipped_steps)
            runner.logger.warning(
                f'Non-finite gradient norm at training iteration {iteration} (on this '
                f'rank: {grad_norm}) with a finite loss: step skipped '
                f'({self.skipped_steps} skipped so far).')
            return
        raise NonFiniteLossError(
            f'Non-finite gradient norm at training iteration {iteration} (on this rank: '
            f'{grad_norm}); the loss was finite, the optimizer step was not taken, so the '
            'weights are those of the previous iteration. The last good checkpoint is '
            f'{_last_good(runner)}. Fix: lower the learning rate or alpha_target, keep '
            "optim_wrapper.clip_grad, or set NonFiniteGuardHook(on_nonfinite_grad='skip') "
            'to skip and count such steps.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', {})
        bad = [k for k, v in state.items()
               if isinstance(v, torch.Tensor) and v.is_floating_point()
               and not torch.isfinite(v).all()]
        if bad:
            # The iteration the checkpoint is named after (runner.iter is still
            # the 0-based index of the iteration that just ran).
            iteration = checkpoint.get('meta', {}).get('iter', runner.iter + 1)
            raise NonFiniteLossError(
                f'Refusing to save a checkpoint at iteration {iteration}: '
                f'{len(bad)} weights hold NaN or Inf ({", ".join(bad[:5])}). The '
                f'last good checkpoint, {_last_good(runner)}, '
                'is kept. Fix: lower the learning rate or alpha_target, then resume '
                'with tools/train.py --resume.')
