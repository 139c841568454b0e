"""Tiny Runner configs for the reliability tests (import as `from tiny_runner import ...`)."""
import glob
import json
import os.path as osp
import uuid

import torch
from mmengine.hooks import Hook

from tiny import tiny_dataset_cfg, tiny_model_cfg


def tiny_runner_cfg(work_dir: str, max_iters: int = 4, interval: int = 2,
                    val: bool = False, curriculum: bool = True, num_samples: int = 32,
                    lr: float = 1e-3, **overrides) -> dict:
    """A Runner config: tiny DualEncoder + CMA on ShapeCaptions (16 px), CPU,
    deterministic, atomic checkpoints every ``interval`` iterations, the
    NaN guard, the TPC curriculum (unless ``curriculum=False``), logs every iteration."""
    cfg = dict(
        model=tiny_model_cfg(cma_loss=dict(type='CMALoss')),
        work_dir=str(work_dir),
        experiment_name=f'tiny_{uuid.uuid4().hex[:8]}',  # unique visualizer / logger
        train_dataloader=dict(
            batch_size=8, num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=tiny_dataset_cfg(num_samples=num_samples)),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=lr, weight_decay=0.05),
                           clip_grad=dict(max_norm=1.0)),
        param_scheduler=[dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                              end=max_iters, eta_min=lr / 10)],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters,
                       val_interval=max_iters),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                            interval=interval, max_keep_ckpts=2),
            nonfinite_guard=dict(type='NonFiniteGuardHook')),
        custom_hooks=[],
        log_processor=dict(by_epoch=False, window_size=1),
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]),
        default_scope='tpc_cma_mm',
        randomness=dict(seed=0, deterministic=True),
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo')),
        log_level='WARNING')
    if curriculum:
        cfg['custom_hooks'].append(dict(
            type='TPCCurriculumHook', alpha_target=0.5, phases=(0.25, 0.5, 0.25),
            probe_interval=2))
    if val:
        cfg.update(
            val_dataloader=dict(
                batch_size=16, num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=tiny_dataset_cfg(split='val', num_samples=16)),
            val_evaluator=[dict(type='CrossModalRetrieval', topk=(1, 5))],
            val_cfg=dict(type='ValLoop'))
    cfg.update(overrides)
    return cfg


def run_tiny(cfg):
    """Train in this process on one thread (tiny ops on 2 shared cores run ~10x
    slower on two); restore the thread count and determinism flag afterwards."""
    from mmengine.runner import Runner
    before = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = Runner(**cfg) if isinstance(cfg, dict) else Runner.from_cfg(cfg)
        runner.train()
        return runner
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.set_num_threads(before[1])


def read_scalars(work_dir: str) -> dict:
    """``{iteration: {key: value}}`` of the training records of every
    ``scalars.json`` under ``work_dir`` (runs in time order), and under
    ``('val', i)`` the i-th validation record."""
    out, vals = {}, 0
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                step = record.pop('step')
                if any(k.startswith('loss') for k in record):
                    out[step] = record
                else:
                    out[('val', vals)] = record
                    vals += 1
    return out


def write_config(path: str, cfg: dict, test: bool = True, imports=()) -> str:
    """Dump a Runner config to a file the tools read; with ``test`` the
    validation set and evaluator double as the test ones."""
    from mmengine.config import Config
    cfg = dict(cfg, custom_imports=dict(imports=['tpc_cma_mm', *imports],
                                        allow_failed_imports=False))
    cfg.pop('experiment_name', None)  # the tools name their runs by the config file
    if test:
        val = tiny_runner_cfg('', val=True)
        cfg.update(test_dataloader=val['val_dataloader'], test_evaluator=val['val_evaluator'],
                   test_cfg=dict(type='TestLoop'))
    Config(cfg).dump(str(path))
    return str(path)


class StopAt(Hook):
    """Kills the run after ``n`` iterations (the checkpoint there is saved)."""

    def __init__(self, n):
        self.n = n

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 >= self.n:
            runner.train_loop.stop_training = True
