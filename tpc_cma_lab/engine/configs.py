"""A run's exact training config, derived from its base config, and its file.

Every variant the lab trains is its base config with a few keys replaced
(:class:`~.run.Run`'s ``options`` and ``curriculum``); :func:`run_config`
builds it and :func:`dump_run_config` writes it as the ``.py`` file the run
then trains from, so ``python tools/train.py WORK_DIR/run_config.py`` trains
the same model::

    cfg = run_config(run, Config.fromfile(run.config))
"""
import copy
import os.path as osp
from typing import Any, Mapping, Optional, Union

from mmengine.config import Config

from tpc_cma_mm.apis.fingerprint import config_digest
from tpc_cma_mm.apis.schedule import rescale_schedule
from tpc_cma_mm.utils.atomic_io import atomic_write
from .run import Run

__all__ = ['CURRICULUM_HOOK', 'RUN_CONFIG', 'curriculum_hook', 'dump_run_config',
           'replace_option', 'run_config', 'with_curriculum']

CURRICULUM_HOOK = 'TPCCurriculumHook'
RUN_CONFIG = 'run_config.py'
# The curriculum's two modes: setting one drops the other (tpc_cma_mm/engine/hooks).
_MODES = ('alpha_target', 'target')


def curriculum_hook(cfg: Config) -> dict:
    """The config's one ``TPCCurriculumHook`` (its dict in ``custom_hooks``)."""
    hooks = [h for h in cfg.get('custom_hooks') or [] if h['type'] == CURRICULUM_HOOK]
    if len(hooks) != 1:
        raise ValueError(f'{cfg.filename} needs exactly one {CURRICULUM_HOOK} in custom_hooks '
                         f'to vary the curriculum, found {len(hooks)}.')
    return hooks[0]


def with_curriculum(cfg: Config, curriculum: Optional[Mapping[str, Any]]) -> Config:
    """A copy of ``cfg`` with its curriculum's keys set (``alpha_target`` or ``target``
    replaces the other mode), unchanged for ``{}``, or without the hook for None."""
    cfg = copy.deepcopy(cfg)
    if curriculum is None:
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks') or []
                            if h['type'] != CURRICULUM_HOOK]
    elif curriculum:
        hook = curriculum_hook(cfg)
        for mode in _MODES:
            if mode in curriculum:
                for other in _MODES:
                    hook.pop(other, None)
        hook.update(copy.deepcopy(dict(curriculum)))
    return cfg


def replace_option(cfg: Config, key: str, value: Any) -> None:
    """Set the dotted ``key`` of ``cfg`` to ``value``, replacing it whole."""
    *parents, last = key.split('.')
    node = cfg
    for part in parents:
        if not isinstance(node.get(part), dict):
            raise KeyError(f'{cfg.filename} has no {key!r} to replace ({part!r} is missing).')
        node = node[part]
    node[last] = copy.deepcopy(value)


def run_config(run: Run, base: Union[Config, None] = None) -> Config:
    """The config ``run`` trains: ``base`` (default: ``run.config`` read) with the run's
    options, curriculum, schedule, seed, weights and work dir. ``base`` must have the
    content ``run.config_digest`` names."""
    base = Config.fromfile(run.config) if base is None else base
    if config_digest(base) != run.config_digest:
        raise ValueError(f'The base config given for the run in {run.work_dir} has content '
                         f'{config_digest(base)}, not the {run.config_digest} the run was '
                         f'made from ({run.config}); build the run from this config.')
    cfg = with_curriculum(base, run.curriculum)
    for key, value in sorted(run.options.items()):
        replace_option(cfg, key, value)
    if run.iters is not None:
        rescale_schedule(cfg, run.iters)
    iters = cfg.train_cfg.max_iters
    cfg.default_hooks.checkpoint.interval = iters
    if run.validate:
        cfg.train_cfg.val_interval = iters
    else:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        cfg.train_cfg.pop('val_interval', None)
    cfg.work_dir, cfg.load_from = run.work_dir, run.load_from
    cfg.randomness = dict(seed=run.seed, deterministic=False)
    cfg.default_hooks.logger.interval = max(1, iters // 50)
    return cfg


def dump_run_config(cfg: Config, work_dir: str) -> str:
    """Write ``cfg`` as ``WORK_DIR/run_config.py`` (atomically); returns the path."""
    path = osp.join(work_dir, RUN_CONFIG)
    atomic_write(path, cfg.pretty_text.encode('utf-8'))
    return path
