"""The part of ``tools/train.py`` and ``tools/test.py`` that is not argument parsing.

Each function takes an mmengine ``Config`` and applies one command-line option
the way mmpretrain's own tools do, so the tools stay thin::

    from tpc_cma_mm.apis.runner import build_runner, load_run_config, set_dataloader_options
    cfg = load_run_config('configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py',
                          work_dir='work_dirs/run')
    set_dataloader_options(cfg, pin_memory=False, persistent_workers=False)
    build_runner(cfg).train()
"""
import contextlib
import errno
import os.path as osp
from typing import Iterator, Optional

import torch
from mmengine.config import Config

from tpc_cma_mm.utils.atomic_io import (DiskFullError, OutputExistsError, SymlinkOutputError,
                                        disk_full_error)
from tpc_cma_mm.utils.work_dir_lock import WorkDirBusyError
from .cfg_options import refuse_copied_variables
from .model import load_config

__all__ = ['DATALOADERS', 'add_tensorboard', 'build_runner', 'check_schedule_fits',
           'disable_validation', 'dump_test_embeddings', 'enable_auto_scale_lr',
           'errors_as_one_line', 'load_run_config', 'resolve_resume',
           'score_extra_sets_in_test', 'set_dataloader_options', 'set_test_amp',
           'set_train_amp', 'setup_cpu_distributed']

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# The default hooks mmengine's Runner registers itself (None there disables one).
MMENGINE_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger', 'param_scheduler',
                  'checkpoint')


def load_run_config(config: str, work_dir: Optional[str] = None, launcher: str = 'none',
                    cfg_options: Optional[dict] = None) -> Config:
    """The config with overrides, launcher and work dir (``work_dirs/<config name>``
    unless given or set in the config). A hook of ``default_hooks`` that is not one of
    mmengine's own and is set to None (``--cfg-options default_hooks.require_files=None``)
    is dropped: mmengine disables only its own defaults that way and asserts on others.
    A top-level option that would change nothing (a variable the config copied into
    nested keys, e.g. ``data_root``) is refused, naming the keys to override."""
    cfg = load_config(config)
    refuse_copied_variables(cfg, cfg_options)
    cfg = load_config(cfg, cfg_options)
    hooks = cfg.get('default_hooks') or {}
    for name in [n for n, hook in hooks.items() if hook is None and n not in MMENGINE_HOOKS]:
        hooks.pop(name)
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Start gloo ourselves where mmengine would insist on CUDA
    (docs/pitfalls.md, "CPU distributed runs")."""
    if launcher == 'none' or torch.cuda.is_available():
        return
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group('gloo')
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)


def set_dataloader_options(cfg: Config, pin_memory: Optional[bool] = None,
                           persistent_workers: Optional[bool] = None) -> None:
    """Set ``pin_memory`` / ``persistent_workers`` of every dataloader (None: keep),
    then refuse ``persistent_workers=True`` with ``num_workers=0``, which PyTorch
    rejects only once the loop starts."""
    for name in DATALOADERS:
        loader = cfg.get(name)
        if not loader:
            continue
        if pin_memory is not None:
            loader['pin_memory'] = pin_memory
        if persistent_workers is not None:
            loader['persistent_workers'] = persistent_workers
        if loader.get('persistent_workers') and not loader.get('num_workers', 0):
            raise ValueError(
                f'{name}: persistent_workers=True needs num_workers > 0 (it is '
                f'{loader.get("num_workers", 0)}). Add --no-persistent-workers, or '
                f'--cfg-options {name}.persistent_workers=False.')


def add_tensorboard(cfg: Config) -> None:
    """``--tensorboard``: add mmengine's ``TensorboardVisBackend`` (event files
    under ``<work_dir>/<timestamp>/vis_data``); every logged scalar goes there."""
    import importlib.util
    if importlib.util.find_spec('tensorboard') is None:
        raise ImportError("--tensorboard needs TensorBoard: pip install -e '.[tb]' "
                          '(docs/pitfalls.md, "TensorBoard is not among the pins").')
    visualizer = cfg.get('visualizer') or dict(type='UniversalVisualizer')
    backends = list(visualizer.get('vis_backends') or [dict(type='LocalVisBackend')])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    cfg.visualizer = dict(visualizer, vis_backends=backends)


def check_schedule_fits(cfg: Config) -> None:
    """Refuse an iteration-based LR schedule that ends after ``train_cfg.max_iters``
    (e.g. ``--cfg-options train_cfg.max_iters=3`` on a 5,000-iteration config, which
    would train at the warm-up's first learning rate): the curriculum scales with
    ``max_iters``, the LR schedulers' boundaries do not."""
    max_iters = (cfg.get('train_cfg') or {}).get('max_iters')
    schedulers = cfg.get('param_scheduler') or []
    schedulers = [schedulers] if isinstance(schedulers, dict) else schedulers
    ends = [s['end'] for s in schedulers if not s.get('by_epoch', True) and 'end' in s]
    if max_iters and ends and max(ends) > max_iters:
        raise ValueError(
            f'The LR schedule (param_scheduler) runs to iteration {max(ends)} but '
            f'train_cfg.max_iters={max_iters}: the run would end inside it (warm-up '
            f'included). Use --iters {max_iters} to scale the schedule with the run, or '
            'set the schedulers\' begin / end with --cfg-options param_scheduler.N.end=...')


def disable_validation(cfg: Config) -> None:
    """``--no-validate``: train without the validation loop (as mmpretrain)."""
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None


def enable_auto_scale_lr(cfg: Config) -> None:
    """``--auto-scale-lr``: mmengine scales the learning rate by the real global
    batch over ``auto_scale_lr.base_batch_size``, which the config must give."""
    base = cfg.get('auto_scale_lr') or {}
    if not base.get('base_batch_size'):
        raise ValueError(
            '--auto-scale-lr needs auto_scale_lr = dict(base_batch_size=N) in the config: '
            'the global batch size the learning rate was tuned for. Add it, or '
            '--cfg-options auto_scale_lr.base_batch_size=N.')
    cfg.auto_scale_lr = dict(base, enable=True)


def set_train_amp(cfg: Config) -> None:
    """``--amp`` for training: bf16 autocast where supported (no loss scaling,
    CPU too), else fp16 with mmengine's dynamic loss scaling."""
    if cfg.get('strategy', {}).get('type') == 'DeepSpeedStrategy':
        print('--amp: DeepSpeed sets precision in strategy.config (bf16 / fp16); '
              'the optim_wrapper stays DeepSpeedOptimWrapper.')
        return
    bf16 = not torch.cuda.is_available() or torch.cuda.is_bf16_supported()
    cfg.optim_wrapper.type = 'AutocastOptimWrapper' if bf16 else 'AmpOptimWrapper'
    cfg.optim_wrapper.dtype = 'bfloat16' if bf16 else 'float16'
    if not bf16:
        cfg.optim_wrapper.loss_scale = 'dynamic'


def set_test_amp(cfg: Config) -> None:
    """``test.py --amp``: the test loop runs under mmengine's autocast (fp16 on
    CUDA, bf16 on a CPU), as mmpretrain's ``cfg.test_cfg.fp16``."""
    cfg.test_cfg = dict(cfg.get('test_cfg') or dict(type='TestLoop'), fp16=True)


def score_extra_sets_in_test(cfg: Config) -> list:
    """The test loop also scores ``val_cfg``'s extra sets (``MultiValLoop``): unless
    ``test_cfg`` names its own, it becomes a ``MultiTestLoop`` with them. Returns their
    names (empty when there are none)."""
    extra = (cfg.get('val_cfg') or {}).get('extra_sets')
    test_cfg = dict(cfg.get('test_cfg') or dict(type='TestLoop'))
    if not extra or test_cfg.get('extra_sets') is not None:
        return []
    if test_cfg.get('type', 'TestLoop') not in ('TestLoop', 'MultiTestLoop'):
        raise ValueError(f"test_cfg type {test_cfg['type']!r} cannot score val_cfg's extra "
                         "sets: give test_cfg its own extra_sets, or --no-extra-sets.")
    cfg.test_cfg = dict(test_cfg, type='MultiTestLoop', extra_sets=extra)
    return list(extra)


def dump_test_embeddings(cfg: Config) -> None:
    """``test.py --out-item pred``: the test evaluator also keeps every sample's
    embeddings (``DumpEmbeddings``), as mmpretrain's ``DumpResults``."""
    evaluator = cfg.get('test_evaluator')
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        raise ValueError('--out with predictions needs test_evaluator as a metric or a list '
                         'of metrics; use --out-item metrics.')
    metrics = list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
    cfg.test_evaluator = [*metrics, dict(type='DumpEmbeddings')]


def resolve_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume [PATH]``: ``'auto'`` takes the newest *complete* checkpoint of
    the work dir (a kill may have cut the last save short); with none it starts
    afresh from the config's ``load_from``, if any."""
    if resume == 'auto':
        from tpc_cma_mm.utils.checkpoint import find_resumable_checkpoint
        found = find_resumable_checkpoint(cfg.work_dir)
        if found:
            cfg.resume, cfg.load_from = True, found
        else:
            print(f'--resume: no complete checkpoint in {cfg.work_dir}; starting afresh.')
            cfg.resume = False
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume


def build_runner(cfg: Config):
    """``Runner.from_cfg``, or the registry's runner for ``runner_type`` configs
    (e.g. FlexibleRunner with FSDP / DeepSpeed strategies)."""
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        return RUNNERS.build(cfg)
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg)


@contextlib.contextmanager
def errors_as_one_line(work_dir: str) -> Iterator[None]:
    """Stop with one line (``SystemExit('error: ...')``), not a traceback, for what the
    user fixes outside the code: a full disk (path, bytes needed and free), a work dir
    another training uses, an output that exists or is a symbolic link."""
    try:
        yield
    except (WorkDirBusyError, OutputExistsError, SymlinkOutputError, DiskFullError) as err:
        raise SystemExit(f'error: {err}') from err
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # mmengine's own writes (logs, the config dump) fail with a bare OSError 28.
        full = disk_full_error(err.filename or work_dir, atomic=False)
        raise SystemExit(f'error: {full}') from err
