"""What ``TPCCurriculumHook`` refuses, at build time and before the first iteration.

Every refusal is a ``ValueError`` naming the hook's key, the rule and the fix:
a knob that cannot change anything in the model's configuration is refused
rather than silently ignored. Under ``combine='grad_share'``, whose cap is a
constant, an ``alpha_target`` above it and a ``gamma`` / ``grad_aware`` that
target mode does not use are logged warnings naming the fix (warnings, not
refusals: the reproduction's alpha_target 1.0 runs on the shipped
``grad_share`` configs, docs/results.md, are defined by that cap). A budget
so short that rounding would skip a phase gets the phase one iteration, with a
logged warning; one shorter than the number of phases is refused.
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
    _check(gamma is None or isinstance(gamma, Real) and 0 < gamma < math.inf, 'gamma',
           'must be a positive number', gamma)
    _check(momentum is None or isinstance(momentum, Real) and 0 <= momentum < 1,
           'ema_momentum', 'must lie in [0, 1)', momentum)
    _check(args['grad_aware'] is None or isinstance(args['grad_aware'], bool), 'grad_aware',
           'must be a bool', args['grad_aware'])
    rise = args['loss_rise']
    _check(rise is None or isinstance(rise, Real) and 0 < rise < 1, 'loss_rise',
           'must lie in (0, 1) (the fraction of the way from the anchor-phase InfoNCE to '
           'chance, ln of the global batch)', rise)
    needs_anchor = args['target'] is not None or rise is not None
    _check(not needs_anchor or isinstance(phases, (list, tuple)) and phases[0] > 0,
           'phases', 'needs an anchor phase (phases[0] > 0) to measure the reference gap '
           'and loss of the starting model for target / loss_rise', phases)


def check_run(hook, model, max_iters: int):
    """The model and budget the hook meets at ``before_run``; returns the
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
        for key in ('probe_interval', 'ema_momentum'):
            _check(hook.explicit[key] is None, key, "changes nothing with model.combine="
                   "'grad_share' (it probes every step and its cap is the constant "
                   'gamma / (1 + gamma)): remove it from the config', hook.explicit[key])
    constant_cap = objective.constant_alpha_cap(hook.gamma)
    if constant_cap is not None:
        _check_constant_cap(hook, constant_cap)
    return objective


def _check_constant_cap(hook, cap: float) -> None:
    """A cap that ignores the gradients (``'grad_share'``): in alpha_target mode
    it must not silently lower alpha_target; target mode does not use it."""
    if hook.controller is not None:
        given = {k: hook.explicit[k] for k in ('gamma', 'grad_aware')
                 if hook.explicit[k] is not None}
        if given:
            print_log(f'TPCCurriculumHook: {given} change nothing in target mode with '
                      "model.combine='grad_share': its cap gamma / (1 + gamma) ignores the "
                      "gradients, so the controller's bound is target.alpha_max (now "
                      f'{hook.controller.alpha_max:g}) and loss_rise the stability check. '
                      'Remove them; set target.alpha_max to bound alpha.',
                      logger='current', level=logging.WARNING)
    elif hook.grad_aware and hook.alpha_target > cap + 1e-12:
        a = hook.alpha_target
        fix = (f'raise gamma to at least alpha_target / (1 - alpha_target) = {a / (1 - a):.4g}'
               if a < 1 else 'set grad_aware=False (no finite gamma allows alpha 1)')
        print_log(f'TPCCurriculumHook: alpha_target={a:g} is above the cap gamma / (1 + gamma)'
                  f" = {cap:.4g} that model.combine='grad_share' puts on alpha whatever the "
                  f'gradients: alpha stops at {cap:.4g} once the ramp passes it, so '
                  f'alpha_target only steepens the ramp. For alpha {a:g}, {fix}; or lower '
                  f'alpha_target to {cap:.4g}; or ask for a gap (target=dict(...)).',
                  logger='current', level=logging.WARNING)
