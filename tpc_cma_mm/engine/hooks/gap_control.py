"""Closed-loop alpha for a requested modality gap (the curriculum's ``target`` mode).

The gap is estimated while training from the unbiased squared estimates every
step reports (``gap_sq_<key>``, ``models/objectives/gap_estimate.py``): an
exponential moving average of them, whose square root is the running gap. Its
reference is the mean over the anchor phase (alpha = 0, the starting model);
the setpoint follows the curriculum's ramp from that reference to the target
and stays at the target while consolidating. A PI controller on the relative
error ``(predicted gap - setpoint) / reference`` sets alpha, clipped to
``[0, alpha_max]``; the integral does not wind up while alpha sits at a bound
that the error pushes against. The predicted gap is the running estimate
extrapolated ``lead`` iterations along its running slope: the gap keeps moving
after alpha changes (the optimizer's momentum carries the update on, and the
running estimate trails the gap by its own average), and a controller on the
estimate alone drives past the target (docs/method.md, "Gap targets").
Everything is plain floats in ``state`` so that a checkpoint restores it
exactly.
"""
from numbers import Real
from typing import Dict, Optional

__all__ = ['GapController', 'LIMITS']

# Why alpha could not go higher (``state['limit']``): the codes the hook logs.
LIMITS = {0: 'none', 1: 'alpha_max', 2: 'the gradient-aware cap',
          3: 'the contrastive loss rising loss_rise of the way from its anchor level to chance'}
TARGET_KEYS = ('centroid', 'distribution', 'raw')


def _fail(key: str, rule: str, value) -> None:
    raise ValueError(f'TPCCurriculumHook.target.{key} {rule}, got {value!r}')


def _number(cfg: dict, key: str, default: float, low: float, high: float,
            open_low: bool = False) -> float:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, Real) \
            or not (low < value if open_low else low <= value) or not value <= high:
        _fail(key, f'must lie in {"(" if open_low else "["}{low}, {high}]', value)
    return float(value)


class GapController:
    """PI control of alpha towards a gap target.

    Args (the keys of the hook's ``target`` dict):
        key (str): ``'centroid'``, ``'distribution'`` or ``'raw'``.
        reduction (float): The fraction of the reference gap to close, in
            (0, 1); or
        value (float): the absolute gap to reach (> 0). Exactly one of the two.
        alpha_max (float): The stability limit on alpha (default 1).
        gain (float): Proportional gain on the relative error (default 3).
        integral_gain (float): Integral gain per iteration (default 0.02).
        momentum (float): Momentum of the running gap estimate and of its
            slope (default 0.9).
        lead (float): Iterations ahead the error is predicted (default 20:
            the running estimate's mean delay m / (1 - m) = 9 at momentum
            0.9, plus as much again for an optimizer momentum of 0.9).
        tolerance (float): Reached when the final running estimate lies
            within ``tolerance x reference`` of the target (default 0.05).
    """

    def __init__(self, target: dict):
        if not isinstance(target, dict):
            _fail('', 'must be a dict such as dict(key=\'centroid\', reduction=0.5)', target)
        unknown = set(target) - {'key', 'reduction', 'value', 'alpha_max', 'gain',
                                 'integral_gain', 'momentum', 'lead', 'tolerance'}
        if unknown:
            _fail(str(sorted(unknown)), 'are not target settings', target)
        self.key = target.get('key', 'centroid')
        if self.key not in TARGET_KEYS:
            _fail('key', f'must be one of {TARGET_KEYS}', self.key)
        if ('reduction' in target) == ('value' in target):
            _fail('reduction', 'or target.value must be given (one of the two)', target)
        self.reduction = (_number(target, 'reduction', 0.0, 0.0, 0.999, open_low=True)
                          if 'reduction' in target else None)
        self.value = (_number(target, 'value', 0.0, 0.0, 10.0, open_low=True)
                      if 'value' in target else None)
        self.alpha_max = _number(target, 'alpha_max', 1.0, 0.0, 1.0, open_low=True)
        self.gain = _number(target, 'gain', 3.0, 0.0, 100.0)
        self.integral_gain = _number(target, 'integral_gain', 0.02, 0.0, 10.0)
        self.momentum = _number(target, 'momentum', 0.9, 0.0, 0.999)
        self.lead = _number(target, 'lead', 20.0, 0.0, 1000.0)
        self.tolerance = _number(target, 'tolerance', 0.05, 0.0, 1.0, open_low=True)
        self.state: Dict[str, float] = dict(
            observed=0, ref_sum=0.0, ref_count=0, gap_ref=0.0, gap_goal=0.0, gap_sq_ema=0.0,
            gap_est=0.0, slope=0.0, setpoint=0.0, integral=0.0, limit=0, reached=-1, warned=0)

    # ---------------------------------------------------------- measurement
    def observe(self, gap_sq: float, anchor: bool) -> None:
        """Fold one step's unbiased squared estimate into the running gap and
        its change into the running slope; in the anchor phase, into the
        reference too."""
        s = self.state
        m = self.momentum if s['observed'] else 0.0  # the first estimate as is
        s['gap_sq_ema'] = m * s['gap_sq_ema'] + (1 - m) * gap_sq
        estimate = max(s['gap_sq_ema'], 0.0) ** 0.5
        if s['observed']:
            s['slope'] = self.momentum * s['slope'] + (1 - self.momentum) * (
                estimate - s['gap_est'])
        s['observed'] += 1
        s['gap_est'] = estimate
        if anchor:
            s['ref_sum'] += gap_sq
            s['ref_count'] += 1

    def reference(self) -> float:
        """The gap of the starting model (mean over the anchor) and the goal."""
        s = self.state
        if not s['gap_ref'] and s['ref_count']:
            s['gap_ref'] = max(s['ref_sum'] / s['ref_count'], 0.0) ** 0.5
            s['gap_goal'] = (self.value if self.value is not None
                             else (1 - self.reduction) * s['gap_ref'])
        return s['gap_ref']

    # -------------------------------------------------------------- control
    def alpha(self, shape: float, upper: float, hold_at: Optional[float]) -> float:
        """alpha of the next step: ``shape`` in [0, 1] is the ramp's progress,
        ``upper`` the cap, ``hold_at`` the alpha not to exceed while the
        contrastive loss is above its limit (``None``: no hold)."""
        s = self.state
        ref = self.reference()
        if ref <= 0:
            return 0.0
        s['setpoint'] = ref + (s['gap_goal'] - ref) * shape
        error = (s['gap_est'] + self.lead * s['slope'] - s['setpoint']) / ref
        bound, limit = self.alpha_max, 1
        if upper < bound:
            bound, limit = upper, 2
        if hold_at is not None and hold_at < bound:
            bound, limit = hold_at, 3
        raw = self.gain * error + s['integral']
        pushing_up, pushing_down = raw >= bound and error > 0, raw <= 0 and error < 0
        if not (pushing_up or pushing_down):  # no wind-up against a bound
            s['integral'] += self.integral_gain * error
        raw = self.gain * error + s['integral']
        # The limit that last bound while the running gap was short of the setpoint
        # (the tolerance of ``finish``): a noisy step below the bound does not clear
        # it, reaching the setpoint does.
        short = s['gap_est'] - s['setpoint'] > self.tolerance * ref
        if raw >= bound and short:
            s['limit'] = limit
        elif not short:
            s['limit'] = 0
        return min(max(raw, 0.0), bound)

    def finish(self) -> bool:
        """Whether the running gap ended within tolerance of the goal (stored)."""
        s = self.state
        reached = abs(s['gap_est'] - s['gap_goal']) <= self.tolerance * s['gap_ref']
        s['reached'] = int(reached)
        return reached

    def report(self, runner, phase: int) -> None:
        """Log the running gap; warn once when a limit binds at the target
        (consolidate phase), and at the last iteration store and log the outcome."""
        s, hub = self.state, runner.message_hub
        hub.update_scalar('train/gap_est', s['gap_est'])
        hub.update_scalar('train/gap_setpoint', s['setpoint'])
        hub.update_scalar('train/target_limit', s['limit'])
        if s['limit'] and phase == 2 and not s['warned']:
            s['warned'] = 1
            runner.logger.warning(f'TPCCurriculumHook: the gap target is limited by '
                                  f'{LIMITS[s["limit"]]} at iteration {runner.iter + 1}: '
                                  + self.describe())
        if runner.iter + 1 == runner.max_iters:
            reached = self.finish()
            hub.update_scalar('train/target_reached', int(reached))
            text = ('reached' if reached else 'NOT reached within tolerance '
                    f'(last limit: {LIMITS[s["limit"]]}; or the budget)')
            (runner.logger.info if reached else runner.logger.warning)(
                f'TPCCurriculumHook: gap target {text}: {self.describe()}')

    def describe(self) -> str:
        s = self.state
        ref = s['gap_ref'] or float('nan')
        return (f'{self.key} gap: reference {s["gap_ref"]:.4g}, target {s["gap_goal"]:.4g} '
                f'({100 * (1 - s["gap_goal"] / ref):.1f} % reduction), running estimate '
                f'{s["gap_est"]:.4g} ({100 * (1 - s["gap_est"] / ref):.1f} %)')
