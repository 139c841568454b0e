"""A config's learning-rate and curriculum schedules, per iteration, without training.

The learning rate comes from the config's own optimizer and parameter
schedulers, stepped once per iteration as mmengine's ``ParamSchedulerHook``
steps them; alpha comes from the curriculum hook's own
``schedule(it, max_iters)`` (``TPCCurriculumHook``), so nothing of either
schedule is restated here::

    from tpc_cma_mm.apis import load_config, schedule_curves
    cfg = load_config('configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py')
    curves = schedule_curves(cfg)
    curves['lr'][0], curves['alpha_sched'][-1]   # 2e-05, 0.05

The alpha a run uses is ``min(alpha_sched, cap)``; the cap follows gradient
norms measured while training, so only ``alpha_sched`` can be known beforehand.
"""
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import nn

from tpc_cma_mm.engine.hooks.tpc_curriculum import TPCCurriculumHook
from tpc_cma_mm.registry import HOOKS, OPTIMIZERS, PARAM_SCHEDULERS

__all__ = ['schedule_curves']


def schedule_curves(cfg: Config) -> Dict[str, List[float]]:
    """``iters`` (0-based), ``lr`` (the first parameter group's, in each iteration) and,
    when the config has a ``TPCCurriculumHook``, ``alpha_sched`` and ``phase``."""
    train_cfg = cfg.get('train_cfg') or {}
    if 'max_iters' not in train_cfg:
        raise ValueError('schedule_curves needs an iteration-based config '
                         '(train_cfg.max_iters); every shipped config is one.')
    max_iters = int(train_cfg['max_iters'])
    schedulers_cfg = cfg.get('param_scheduler') or []
    schedulers_cfg = [schedulers_cfg] if isinstance(schedulers_cfg, dict) else schedulers_cfg
    by_epoch = [s['type'] for s in schedulers_cfg if s.get('by_epoch', True)]
    if by_epoch:
        raise ValueError(f'Schedulers {by_epoch} step by epoch; set by_epoch=False (iteration '
                         'boundaries) as the shipped configs do.')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'tpc_cma_mm')):
        optimizer = OPTIMIZERS.build(dict(cfg.optim_wrapper.optimizer,
                                          params=[nn.Parameter(torch.zeros(1))]))
        schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer))
                      for s in schedulers_cfg]
        hooks = [HOOKS.build(h) for h in cfg.get('custom_hooks') or []]
    curriculum = [h for h in hooks if isinstance(h, TPCCurriculumHook)]
    curves = dict(iters=list(range(max_iters)), lr=[])
    for _ in range(max_iters):
        curves['lr'].append(float(optimizer.param_groups[0]['lr']))
        optimizer.step()  # no gradients: changes nothing, keeps torch's step order
        for scheduler in schedulers:  # after each iteration, as ParamSchedulerHook does
            scheduler.step()
    if curriculum:
        phases = [curriculum[0].schedule(it, max_iters) for it in range(max_iters)]
        curves['phase'] = [int(p) for p, _ in phases]
        curves['alpha_sched'] = [float(a) for _, a in phases]
    return curves
