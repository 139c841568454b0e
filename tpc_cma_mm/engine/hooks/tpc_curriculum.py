"""The three-phase curriculum (TPC) with gradient-aware alpha (docs/spec.md)."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.runner import BaseLoop

from tpc_cma_mm.registry import HOOKS
from tpc_cma_mm.utils.dist import unwrap_model
from .curriculum_checks import check_args, check_run
from .gap_control import GapController

__all__ = ['TPCCurriculumHook']

STATE_KEY = 'tpc_curriculum'
PROBE_KEYS = ('grad_con', 'grad_cma', 'grad_cos')
# Momentum of the running contrastive loss that ``loss_rise`` compares.
LOSS_MOMENTUM = 0.9


@HOOKS.register_module()
class TPCCurriculumHook(Hook):
    """Sets the model's alpha every iteration: anchor, ramp, consolidate.

    The hook talks to the model's ``objective``
    (:class:`~tpc_cma_mm.models.objectives.AlignmentObjective`) through one
    interface: ``set_schedule(alpha=..., probe=...)`` before each iteration,
    ``alpha_cap`` for the gradient-aware cap of the model's combination, and
    the step's outputs after it (``probe_grad_*``, ``contrastive_raw``,
    ``gap_sq_*``); it imports nothing of the model's packages.

    Two modes:

    * ``alpha_target`` (default 0.05): alpha = min(alpha_sched, cap);
      ``alpha_sched`` is 0 in the anchor phase, rises to ``alpha_target`` over
      the ramp (cosine or linear) and stays there. The cap keeps the weighted
      CMA gradient within gamma times the weighted contrastive one (moving
      averages of the probe, every ``probe_interval`` iterations); with
      ``combine='grad_share'`` it is the constant gamma / (1 + gamma), and an
      ``alpha_target`` above it is warned about before the first iteration
      (alpha stops at the cap: raise ``gamma`` or lower ``alpha_target``).
    * ``target=dict(key='centroid', reduction=0.5)`` (or ``value=`` an
      absolute gap; keys ``centroid``, ``distribution``, ``raw``): alpha is set
      in closed loop so that the running gap estimate follows a setpoint
      ramped from the anchor phase's measured gap to the target
      (:class:`~tpc_cma_mm.engine.hooks.gap_control.GapController`). Its
      bound is ``target.alpha_max``, the cap where it follows the gradients
      (convex, additive) and ``loss_rise``; with ``'grad_share'`` the constant
      cap does not apply (``gamma`` and ``grad_aware`` given there are warned
      about: they change nothing). A target
      out of reach (alpha_max, the cap or ``loss_rise`` binding) is logged as a
      warning, ``train/target_limit`` names the limit every iteration, and the
      last iteration stores ``target_reached`` in the state and the log.

    ``loss_rise`` (gradient-aware in both modes): while the running InfoNCE
    has climbed ``loss_rise`` of the way from its anchor-phase mean to chance
    (``ln`` of the global batch, where pairs are no longer told apart), the
    ramp walks back one step per iteration (alpha_target mode; it climbs again
    once InfoNCE is below the limit) or alpha may not rise (target mode: the
    controller's upper bound is the current alpha).

    Logged (``train/``): ``alpha_sched``, ``alpha_cap``, ``tpc_phase``,
    ``grad_con``, ``grad_cma``, ``grad_cos`` and ``tpc_hold``; in target mode
    ``gap_est``, ``gap_setpoint``, ``target_limit``, ``target_reached``. The
    state is stored in checkpoints as plain numbers under ``'tpc_curriculum'``
    and restored on resume only.

    Example config::

        custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.5)]
        custom_hooks = [dict(type='TPCCurriculumHook',
                             target=dict(key='centroid', reduction=0.5))]

    Args:
        alpha_target (float, optional): Final alpha in [0, 1] (default 0.05);
            not with ``target``.
        phases (sequence of 3 floats): Fractions of ``max_iters`` for anchor,
            ramp and consolidate; non-negative, summing to 1. Each non-zero
            phase must get at least one iteration of ``max_iters``.
        ramp (str): ``'cosine'`` or ``'linear'``.
        probe_interval (int, optional): K >= 1 between probes (default 10);
            refused with ``combine='grad_share'``, which probes every step.
        gamma (float, optional): Cap strength (> 0, default 1).
        ema_momentum (float, optional): Momentum of the probe averages in
            [0, 1) (default 0.9); refused with ``'grad_share'``, whose cap
            does not depend on them.
        grad_aware (bool, optional): Apply the cap (default True).
        loss_rise (float, optional): In (0, 1); back off (or hold) alpha while
            InfoNCE is this fraction of the way from its anchor level to chance.
        target (dict, optional): The gap to reach (``GapController``).
        probe_params, pcgrad: Moved to the model (``model.grad_probe``).
    """

    priority = 'NORMAL'  # before LoggerHook and CheckpointHook (after_train_iter)

    def __init__(self, alpha_target: Optional[float] = None,
                 phases: Sequence[float] = (0.1, 0.5, 0.4),
                 ramp: str = 'cosine', probe_interval: Optional[int] = None,
                 gamma: Optional[float] = None, ema_momentum: Optional[float] = None,
                 grad_aware: Optional[bool] = None, loss_rise: Optional[float] = None,
                 target: Optional[dict] = None, probe_params=None, pcgrad=None):
        check_args(locals())
        self.alpha_target = 0.05 if alpha_target is None else float(alpha_target)
        self.phases = tuple(float(f) for f in phases)
        self.ramp = ramp
        # Given in the config (not defaulted): checked against the model's combination.
        self.explicit = dict(probe_interval=probe_interval, ema_momentum=ema_momentum,
                             gamma=gamma, grad_aware=grad_aware)
        self.probe_interval = 10 if probe_interval is None else probe_interval
        self.gamma = 1.0 if gamma is None else float(gamma)
        self.ema_momentum = 0.9 if ema_momentum is None else float(ema_momentum)
        self.grad_aware = True if grad_aware is None else grad_aware
        self.loss_rise = None if loss_rise is None else float(loss_rise)
        self.target_cfg = target
        self.objective = None  # the model's, set in before_run
        self.reset()

    # ------------------------------------------------------------ logic
    def reset(self) -> None:
        self.state: Dict[str, float] = dict(
            iter=0, alpha=0.0, alpha_sched=0.0, alpha_cap=1.0, phase=0,
            probes=0, grad_con=0.0, grad_cma=0.0, grad_cos=0.0, progress=0, hold=0,
            loss_ema=0.0, loss_ref_sum=0.0, loss_ref_count=0, loss_chance=0.0)
        self.controller = GapController(self.target_cfg) if self.target_cfg else None
        self.history: List[float] = []
        self._pending: Optional[dict] = None
        self._probing = False

    def lengths(self, max_iters: int) -> List[int]:
        """Iterations of anchor, ramp and consolidate: ``round(f T)`` for the
        first two, the rest for the third. A phase with a non-zero fraction that
        rounding leaves empty (a short ``max_iters``) takes one iteration from
        the longest phase rather than being skipped (logged at ``before_train``)."""
        lengths = [round(self.phases[0] * max_iters), round(self.phases[1] * max_iters)]
        lengths.append(max_iters - sum(lengths))
        if lengths[2] < 0:  # both rounded up
            lengths[1], lengths[2] = lengths[1] + lengths[2], 0
        for i, fraction in enumerate(self.phases):
            if fraction > 0 and lengths[i] < 1:
                longest = max(range(3), key=lambda j: lengths[j])
                if lengths[longest] < 2:
                    raise ValueError(
                        f'TPCCurriculumHook.phases={self.phases} need one iteration per '
                        f'non-zero phase, got train_cfg.max_iters={max_iters}: raise it or '
                        'set phase fractions to 0.')
                lengths[longest] -= 1
                lengths[i] += 1
        return lengths

    def boundaries(self, max_iters: int) -> Tuple[int, int]:
        """First iteration of the ramp and of the consolidate phase."""
        anchor, ramp, _ = self.lengths(max_iters)
        return anchor, anchor + ramp

    def shape(self, done: int, ramp_len: int) -> float:
        """The ramp's shape after ``done`` of its ``ramp_len`` steps, in [0, 1]."""
        t = min(done / ramp_len, 1.0) if ramp_len else 1.0
        return t if self.ramp == 'linear' else (1 - math.cos(math.pi * t)) / 2

    def phase(self, it: int, max_iters: int) -> Tuple[int, float]:
        """``(phase, ramp shape)`` of 0-based iteration ``it`` with no hold."""
        ramp_start, ramp_end = self.boundaries(max_iters)
        phase = 0 if it < ramp_start else 1 if it < ramp_end else 2
        return phase, self.shape(it - ramp_start + 1, ramp_end - ramp_start) if phase else 0.0

    def schedule(self, it: int, max_iters: int) -> Tuple[int, float]:
        """``(phase, alpha_sched)`` of 0-based iteration ``it`` with no hold."""
        phase, shape = self.phase(it, max_iters)
        return phase, self.alpha_target * shape

    def cap(self) -> float:
        if not self.grad_aware or self.state['probes'] == 0 or self.objective is None:
            return 1.0
        if self.controller is not None \
                and self.objective.constant_alpha_cap(self.gamma) is not None:
            # A cap that ignores the gradients (grad_share) is no stability limit for
            # the controller: its bound is target.alpha_max, and loss_rise watches InfoNCE.
            return 1.0
        return self.objective.alpha_cap(self.state['grad_con'], self.state['grad_cma'],
                                        self.gamma)

    def loss_limit_binds(self) -> bool:
        """Whether the running InfoNCE has climbed ``loss_rise`` of the way from
        its anchor mean to chance (ln of the global batch)."""
        s = self.state
        if self.loss_rise is None or not s['loss_ref_count']:
            return False
        anchor = s['loss_ref_sum'] / s['loss_ref_count']
        return s['loss_ema'] > anchor + self.loss_rise * (s['loss_chance'] - anchor)

    def update(self, stats: Dict[str, float]) -> None:
        """Fold one probe measurement into the moving averages."""
        m = self.ema_momentum if self.state['probes'] else 0.0
        for key in PROBE_KEYS:
            self.state[key] = m * self.state[key] + (1 - m) * float(stats[key])
        self.state['probes'] += 1

    def step(self, it: int, max_iters: int) -> float:
        """alpha of iteration ``it`` (also recorded in the state and history)."""
        s = self.state
        phase, shape = self.phase(it, max_iters)
        cap = self.cap()
        hold = phase > 0 and self.loss_limit_binds()
        if self.controller is not None:  # the setpoint follows the ramp, unheld
            sched = (self.controller.alpha(shape, cap, s['alpha'] if hold else None)
                     if phase else 0.0)
            alpha = sched
        else:  # the ramp advances without a hold and walks back under one
            ramp_len = self.boundaries(max_iters)[1] - self.boundaries(max_iters)[0]
            if phase:
                s['progress'] = (max(min(s['progress'], ramp_len) - 1, 0) if hold
                                 else s['progress'] + 1)
            sched = self.alpha_target * self.shape(s['progress'], ramp_len) if phase else 0.0
            alpha = min(sched, cap)
        s.update(alpha=alpha, alpha_sched=sched, alpha_cap=cap, phase=phase, hold=int(hold))
        self.history.append(alpha)
        return alpha

    def observe(self, outputs: dict, probed: bool) -> None:
        """Fold what the step reported into the running averages."""
        s = self.state
        if probed:
            self.update({k: float(outputs[f'probe_{k}']) for k in PROBE_KEYS})
        loss = float(outputs['contrastive_raw'])
        s['loss_chance'] = float(outputs['contrastive_chance'])
        m = LOSS_MOMENTUM if s['iter'] else 0.0
        s['loss_ema'] = m * s['loss_ema'] + (1 - m) * loss
        if s['phase'] == 0:
            s['loss_ref_sum'] += loss
            s['loss_ref_count'] += 1
        if self.controller is not None:
            self.controller.observe(float(outputs[f'gap_sq_{self.controller.key}']),
                                    anchor=s['phase'] == 0)

    # ------------------------------------------------------------ hooks
    def before_run(self, runner) -> None:
        # Checked before the Runner initialises or loads any weights: a refused run
        # stops before AtomicCheckpointHook opens its weights-only loading scope
        # (which its own before_train closes), so nothing of it stays open. Only a
        # training run has built its loop by now; val / test runs have no curriculum.
        if isinstance(runner._train_loop, BaseLoop):
            self.objective = check_run(self, unwrap_model(runner.model), runner.max_iters)

    def before_train(self, runner) -> None:
        if self.objective is None:  # a train loop built after before_run
            self.objective = check_run(self, unwrap_model(runner.model), runner.max_iters)
        pending, self._pending = self._pending, None
        if pending is not None and pending.get('iter') == runner.iter > 0:
            # A checkpoint from before the ramp could hold reads as one
            # without a hold: its progress is the ramp's iteration count.
            ramp_start = self.boundaries(runner.max_iters)[0]
            saved = {**self.state, 'progress': max(runner.iter - ramp_start, 0), **pending}
            self.state = {k: saved[k] for k in self.state}
            self.history = [float(a) for a in pending['history']]
            if self.controller is not None:
                missing = [f'target_{k}' for k in self.controller.state
                           if f'target_{k}' not in pending]
                if missing:  # written by another version of the gap controller
                    raise ValueError(
                        f'TPCCurriculumHook: the checkpoint\'s {STATE_KEY!r} has no {missing}: '
                        'it was written by another version of the gap controller, so its '
                        'control cannot continue exactly; resume it with the version that '
                        'wrote it, or start the run afresh (load_from without resume)')
                self.controller.state = {k: pending[f'target_{k}']
                                         for k in self.controller.state}
            runner.logger.info(f'TPCCurriculumHook resumed at iter {runner.iter}: '
                               f'alpha {self.state["alpha"]:.6g}')
        elif runner.iter > 0:
            runner.logger.warning(
                f'Resumed at iter {runner.iter} from a checkpoint without matching '
                f'curriculum state ({STATE_KEY!r}): the gradient-norm averages '
                'start afresh, so alpha may differ from an uninterrupted run.')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._probing = (self.objective.probes_every_step
                         or runner.iter % self.probe_interval == 0)
        self.objective.set_schedule(alpha=self.step(runner.iter, runner.max_iters),
                                    probe=self._probing)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        needed = ['contrastive_raw', 'contrastive_chance']
        if self._probing:
            needed += [f'probe_{k}' for k in PROBE_KEYS]
        if self.controller is not None:
            needed.append(f'gap_sq_{self.controller.key}')
        missing = [k for k in needed if k not in (outputs or {})]
        if missing:
            raise RuntimeError(
                f'TPCCurriculumHook needs {missing} from the step at iteration '
                f'{runner.iter + 1}: the model\'s loss forward must run with gradients '
                'in training mode and a cma_loss.')
        self.observe(outputs, self._probing)
        self.state['iter'] = runner.iter + 1
        hub = runner.message_hub
        for key in ('alpha_sched', 'alpha_cap', *PROBE_KEYS):
            hub.update_scalar(f'train/{key}', self.state[key])
        hub.update_scalar('train/tpc_phase', self.state['phase'])
        hub.update_scalar('train/tpc_hold', self.state['hold'])
        if self.controller is not None:
            self.controller.report(runner, self.state['phase'])

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = dict(self.state, history=list(self.history))
        if self.controller is not None:
            checkpoint[STATE_KEY].update(
                {f'target_{k}': v for k, v in self.controller.state.items()})

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Applied in before_train if the run resumes at that iteration; a
        # ``load_from`` that starts a new run (iter 0) ignores it.
        self._pending = checkpoint.get(STATE_KEY)
