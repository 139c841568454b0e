"""The three-phase curriculum (TPC) with gradient-aware alpha (docs/spec.md)."""
import math
from numbers import Real
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.hooks import Hook

from tpc_cma_mm.models.losses import alpha_cap
from tpc_cma_mm.registry import HOOKS
from tpc_cma_mm.utils.dist import unwrap_model

__all__ = ['TPCCurriculumHook']

STATE_KEY = 'tpc_curriculum'
PROBE_KEYS = ('grad_con', 'grad_cma', 'grad_cos')


def _check(ok: bool, key: str, rule: str, value) -> None:
    if not ok:
        raise ValueError(f'TPCCurriculumHook.{key} {rule}, got {value!r}')


@HOOKS.register_module()
class TPCCurriculumHook(Hook):
    """Sets the model's alpha every iteration: anchor, ramp, consolidate.

    alpha = min(alpha_sched, cap). ``alpha_sched`` is 0 in the anchor phase,
    rises to ``alpha_target`` over the ramp (cosine or linear) and stays there.
    The data flow is one-way: before each iteration the hook calls
    ``model.set_curriculum(alpha=..., probe=...)``; every ``probe_interval``
    (K) iterations it asks for a probe, and the model reports the gradient
    norms of the raw contrastive and CMA losses on its probed parameters
    (``model.grad_probe``, :class:`~tpc_cma_mm.models.grad_probe.GradProbe`)
    in the step's outputs (``probe_grad_con``, ``probe_grad_cma``,
    ``probe_grad_cos``), which the hook reads in ``after_train_iter``. Their
    moving averages g_con, g_cma give the cap that keeps the weighted CMA
    gradient within gamma times the weighted contrastive one; with the
    default ``model.combine='convex'``, alpha g_cma <= gamma (1 - alpha) g_con,
    i.e. cap = gamma g_con / (g_cma + gamma g_con) (``losses/combination.py``
    for the other combinations).

    Logged (``train/`` scalars; no "loss" in the names): ``alpha_sched``,
    ``alpha_cap``, ``tpc_phase`` (0/1/2), ``grad_con``, ``grad_cma``,
    ``grad_cos`` (moving averages); the model logs ``alpha``. The state
    (moving averages, alpha, the alpha history) is stored in checkpoints as
    plain numbers under ``'tpc_curriculum'`` and restored on resume only.

    Example config::

        model = dict(type='DualEncoder', ..., cma_loss=dict(type='CMALoss'),
                     grad_probe=dict(params=('visual_proj', 'text_projection'),
                                     pcgrad=False))
        custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.05,
                             phases=(0.1, 0.5, 0.4), ramp='cosine',
                             probe_interval=10, gamma=1.0)]

    Args:
        alpha_target (float): Final alpha, in [0, 1].
        phases (sequence of 3 floats): Fractions of ``max_iters`` for anchor,
            ramp and consolidate; non-negative, summing to 1.
        ramp (str): ``'cosine'`` or ``'linear'``.
        probe_interval (int): K >= 1, iterations between gradient probes.
        gamma (float): Cap strength (> 0); ``grad_aware=False`` disables the cap.
        ema_momentum (float): Moving-average momentum in [0, 1).
        grad_aware (bool): Apply the gradient-norm cap.
        probe_params, pcgrad: Moved to the model (``model.grad_probe=dict(
            params=..., pcgrad=...)``); given here they raise a ``ValueError``
            that says so.
    """

    priority = 'NORMAL'  # before LoggerHook and CheckpointHook (after_train_iter)

    def __init__(self, alpha_target: float = 0.05,
                 phases: Sequence[float] = (0.1, 0.5, 0.4),
                 ramp: str = 'cosine', probe_interval: int = 10,
                 gamma: float = 1.0, ema_momentum: float = 0.9,
                 grad_aware: bool = True, probe_params=None, pcgrad=None):
        for key, value, model_key in (('probe_params', probe_params, 'params'),
                                      ('pcgrad', pcgrad, 'pcgrad')):
            _check(value is None, key, 'is a model setting now: set '
                   f'model.grad_probe=dict({model_key}=...) instead', value)
        _check(isinstance(alpha_target, Real) and 0 <= alpha_target <= 1,
               'alpha_target', 'must lie in [0, 1]', alpha_target)
        _check(isinstance(phases, (list, tuple)) and len(phases) == 3
               and all(isinstance(f, Real) and f >= 0 for f in phases)
               and abs(sum(phases) - 1) < 1e-6, 'phases',
               'must be 3 non-negative fractions (anchor, ramp, consolidate) '
               'summing to 1', phases)
        _check(ramp in ('cosine', 'linear'), 'ramp', "must be 'cosine' or 'linear'", ramp)
        _check(isinstance(probe_interval, int) and not isinstance(probe_interval, bool)
               and probe_interval >= 1, 'probe_interval',
               '(K) must be an integer >= 1', probe_interval)
        _check(isinstance(gamma, Real) and 0 < gamma < math.inf, 'gamma',
               'must be a positive number', gamma)
        _check(isinstance(ema_momentum, Real) and 0 <= ema_momentum < 1,
               'ema_momentum', 'must lie in [0, 1)', ema_momentum)
        self.alpha_target = float(alpha_target)
        self.phases = tuple(float(f) for f in phases)
        self.ramp = ramp
        self.probe_interval = probe_interval
        self.gamma = float(gamma)
        self.ema_momentum = float(ema_momentum)
        self.grad_aware = grad_aware
        # The model's loss combination (set in before_train), which the cap follows.
        self.combine = 'convex'
        self.reset()

    # ------------------------------------------------------------ logic
    def reset(self) -> None:
        self.state: Dict[str, float] = dict(
            iter=0, alpha=0.0, alpha_sched=0.0, alpha_cap=1.0, phase=0,
            probes=0, grad_con=0.0, grad_cma=0.0, grad_cos=0.0)
        self.history: List[float] = []
        self._pending: Optional[dict] = None
        self._probing = False

    def boundaries(self, max_iters: int) -> Tuple[int, int]:
        """First iteration of the ramp and of the consolidate phase."""
        ramp_start = round(self.phases[0] * max_iters)
        return ramp_start, ramp_start + round(self.phases[1] * max_iters)

    def schedule(self, it: int, max_iters: int) -> Tuple[int, float]:
        """``(phase, alpha_sched)`` of 0-based iteration ``it``."""
        ramp_start, ramp_end = self.boundaries(max_iters)
        if it < ramp_start:
            return 0, 0.0
        if it >= ramp_end:
            return 2, self.alpha_target
        t = (it - ramp_start + 1) / (ramp_end - ramp_start)  # reaches 1 at its end
        shape = t if self.ramp == 'linear' else (1 - math.cos(math.pi * t)) / 2
        return 1, self.alpha_target * shape

    def cap(self) -> float:
        if not self.grad_aware or self.state['probes'] == 0:
            return 1.0
        return alpha_cap(self.combine, self.state['grad_con'], self.state['grad_cma'],
                         self.gamma)

    def update(self, stats: Dict[str, float]) -> None:
        """Fold one probe measurement into the moving averages."""
        m = self.ema_momentum if self.state['probes'] else 0.0
        for key in PROBE_KEYS:
            self.state[key] = m * self.state[key] + (1 - m) * float(stats[key])
        self.state['probes'] += 1

    def step(self, it: int, max_iters: int) -> float:
        """alpha of iteration ``it`` (also recorded in the state and history)."""
        phase, sched = self.schedule(it, max_iters)
        cap = self.cap()
        alpha = min(sched, cap)
        self.state.update(alpha=alpha, alpha_sched=sched, alpha_cap=cap, phase=phase)
        self.history.append(alpha)
        return alpha

    # ------------------------------------------------------------ hooks
    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        if getattr(model, 'cma_loss', None) is None or not hasattr(model, 'set_curriculum'):
            raise ValueError('TPCCurriculumHook needs a DualEncoder with a cma_loss '
                             "(model.cma_loss=dict(type='CMALoss')).")
        self.combine = model.combine
        pending, self._pending = self._pending, None
        if pending is not None and pending.get('iter') == runner.iter > 0:
            self.state = {k: pending[k] for k in self.state}
            self.history = [float(a) for a in pending['history']]
            runner.logger.info(f'TPCCurriculumHook resumed at iter {runner.iter}: '
                               f'alpha {self.state["alpha"]:.6g}')
        elif runner.iter > 0:
            runner.logger.warning(
                f'Resumed at iter {runner.iter} from a checkpoint without matching '
                f'curriculum state ({STATE_KEY!r}): the gradient-norm averages '
                'start afresh, so alpha may differ from an uninterrupted run.')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._probing = runner.iter % self.probe_interval == 0
        unwrap_model(runner.model).set_curriculum(
            alpha=self.step(runner.iter, runner.max_iters), probe=self._probing)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self._probing:
            missing = [f'probe_{k}' for k in PROBE_KEYS if f'probe_{k}' not in (outputs or {})]
            if missing:
                raise RuntimeError(
                    f'TPCCurriculumHook asked for a gradient probe at iteration '
                    f'{runner.iter + 1} but the step\'s outputs lack {missing}: the '
                    "model's loss forward must run with gradients in training mode.")
            self.update({k: float(outputs[f'probe_{k}']) for k in PROBE_KEYS})
        self.state['iter'] = runner.iter + 1
        hub = runner.message_hub
        for key in ('alpha_sched', 'alpha_cap', *PROBE_KEYS):
            hub.update_scalar(f'train/{key}', self.state[key])
        hub.update_scalar('train/tpc_phase', self.state['phase'])

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = dict(self.state, history=list(self.history))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Applied in before_train if the run resumes at that iteration; a
        # ``load_from`` that starts a new run (iter 0) ignores it.
        self._pending = checkpoint.get(STATE_KEY)
