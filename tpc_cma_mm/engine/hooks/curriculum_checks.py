"""What ``TPCCurriculumHook`` refuses, at build time and before the first iteration.

Every refusal is a ``ValueError`` naming the hook's key, the rule and the fix:
a knob that cannot change anything in the model's configuration is refused
rather than silently ignored. A budget so short that rounding would skip a
phase gets the phase one iteration, with a logged warning; one shorter than
the number of phases is refused.
"""
import logging
import math
from numbers import Real

from mmengine.logging import print_log

__all__ = ['check_args', 'check_run']


def _check(ok: bool, key: str, rule: str, value) -> None:
    if not ok:
        raise ValueError(f'TPCCurriculumHook.{key} {rule}, got {value!r}')


def check_args(args: dict) -> None:
    """The hook's arguments, alone (``args``: its ``__init__``'s locals)."""
    for key, model_key in (('probe_params', 'params'), ('pcgrad', 'pcgrad')):
        _check(args[key] is None, key, 'is a model setting now: set '
               f'model.grad_probe=dict({model_key}=...) instead', args[key])
    alpha_target, phases = args['alpha_target'], args['phases']
    _check(alpha_target is None or isinstance(alpha_target, Real) and 0 <= alpha_target <= 1,
           'alpha_target', 'must lie in [0, 1]', alpha_target)
    _check(alpha_target is None or args['target'] is None, 'alpha_target',
           'and TPCCurriculumHook.target are two modes: give one of them', alpha_target)
    _check(isinstance(phases, (list, tuple)) and len(phases) == 3
           and all(isinstance(f, Real) and f >= 0 for f in phases)
           and abs(sum(phases) - 1) < 1e-6, 'phases',
           'must be 3 non-negative fractions (anchor, ramp, consolidate) summing to 1', phases)
    _check(args['ramp'] in ('cosine', 'linear'), 'ramp', "must be 'cosine' or 'linear'",
           args['ramp'])
    interval = args['probe_interval']
    _check(interval is None or isinstance(interval, int) and not isinstance(interval, bool)
           and interval >= 1, 'probe_interval', '(K) must be an integer >= 1', interval)
    gamma, momentum = args['gamma'], args['ema_momentum']
    _check(isinstance(gamma, Real) and 0 < gamma < math.inf, 'gamma',
           'must be a positive number', gamma)
    _check(momentum is None or isinstance(momentum, Real) and 0 <= momentum < 1,
           'ema_momentum', 'must lie in [0, 1)', momentum)
    _check(isinstance(args['grad_aware'], bool), 'grad_aware', 'must be a bool',
           args['grad_aware'])
    rise = args['loss_rise']
    _check(rise is None or isinstance(rise, Real) and 0 < rise < 1, 'loss_rise',
           'must lie in (0, 1) (the fraction of the way from the anchor-phase InfoNCE to '
           'chance, ln of the global batch)', rise)
    needs_anchor = args['target'] is not None or rise is not None
    _check(not needs_anchor or isinstance(phases, (list, tuple)) and phases[0] > 0,
           'phases', 'needs an anchor phase (phases[0] > 0) to measure the reference gap '
           'and loss of the starting model for target / loss_rise', phases)


def check_run(hook, model, max_iters: int):
    """The model and budget the hook meets at ``before_train``; returns the
    model's alignment objective."""
    objective = getattr(model, 'objective', None)
    if getattr(objective, 'cma_loss', None) is None:
        raise ValueError('TPCCurriculumHook needs a DualEncoder with a cma_loss '
                         "(model.cma_loss=dict(type='CMALoss')).")
    rounded = (round(hook.phases[0] * max_iters), round(hook.phases[1] * max_iters))
    lengths = hook.lengths(max_iters)  # raises if max_iters cannot hold every phase
    if list(rounded) != lengths[:2]:
        print_log(f'TPCCurriculumHook: train_cfg.max_iters={max_iters} is too short for '
                  f'phases={hook.phases} (rounded, a phase would get no iteration and be '
                  f'skipped); phase lengths set to {tuple(lengths)}.', logger='current',
                  level=logging.WARNING)
    if objective.probes_every_step:
        for key, value in hook.explicit.items():
            _check(value is None, key, "changes nothing with model.combine='grad_share' "
                   '(it probes every step and its cap is the constant gamma / (1 + gamma)): '
                   'remove it from the config', value)
    return objective
