"""The part of ``tools/train.py`` and ``tools/test.py`` that is not argument parsing.

Each function takes an mmengine ``Config`` and applies one command-line option
the way mmpretrain's own tools do, so the tools stay thin::

    from tpc_cma_mm.apis.runner import build_runner, load_run_config, set_dataloader_options
    cfg = load_run_config('configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py',
                          work_dir='work_dirs/run')
    set_dataloader_options(cfg, pin_memory=False, persistent_workers=False)
    build_runner(cfg).train()
"""
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config

from .model import load_config

__all__ = ['DATALOADERS', 'add_tensorboard', 'build_runner', 'disable_validation',
           'enable_auto_scale_lr', 'load_run_config', 'resolve_resume',
           'set_dataloader_options', 'set_test_amp', 'set_train_amp', 'setup_cpu_distributed']

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def load_run_config(config: str, work_dir: Optional[str] = None, launcher: str = 'none',
                    cfg_options: Optional[dict] = None) -> Config:
    """The config with overrides, launcher and work dir (``work_dirs/<config name>``
    unless given or set in the config)."""
    cfg = load_config(config, cfg_options)
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
