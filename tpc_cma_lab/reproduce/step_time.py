"""The reproduction's training time, estimated from a few steps measured on this device.

Before the long work, :func:`measured_step_time` trains the method config for
``steps`` iterations (no validation, no checkpoint) and keeps the seconds of
every step but the first (data loader start-up, allocator warm-up);
:func:`training_estimate` multiplies their mean by the fine-tuning budget. The
measurement is cached in the work dir per device and config content, so a
resumed reproduction does not measure again. Evaluation and the caption
decoders are not in the estimate.
"""
import copy
import os.path as osp
import platform
import time
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tpc_cma_mm.utils.atomic_io import atomic_write
from tpc_cma_mm.apis.fingerprint import config_digest, digest
from tpc_cma_mm.apis.outputs import json_bytes, read_json
from tpc_cma_mm.apis.schedule import rescale_schedule
from ..engine import runner_logs_to_files

__all__ = ['device_name', 'measured_step_time', 'training_estimate']


def device_name() -> str:
    """The device training runs on, in words (GPU model, or CPU and its threads)."""
    if torch.cuda.is_available():
        return f'cuda: {torch.cuda.get_device_name(torch.cuda.current_device())}'
    return f'cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads'


def measured_step_time(cfg: Config, load_from: Optional[str], work_dir: str,
                       steps: int = 3) -> dict:
    """``dict(seconds_per_step, device, steps, step_seconds)`` of ``cfg`` on this device,
    from the weights ``load_from`` (None: the config's initialisation)."""
    if steps < 2:
        raise ValueError(f'Timing needs at least 2 steps (the first is a warm-up), got {steps}.')
    key = dict(config=config_digest(cfg), device=device_name(), steps=steps)
    path = osp.join(work_dir, f'step_time_{digest(key)}.json')
    if osp.isfile(path):
        return read_json(path, 'step time record')
    cfg = copy.deepcopy(cfg)
    rescale_schedule(cfg, steps)
    # No checkpoint is saved, but the hook stays: it is what loads load_from weights-only.
    cfg.default_hooks.checkpoint.update(interval=steps + 1, save_last=False)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir, cfg.load_from = osp.join(work_dir, 'step_time'), load_from
    if load_from is None:  # timed from the initialisation: no weights file to require
        cfg.default_hooks.pop('require_files', None)
    cfg.experiment_name = f'step_time_{time.time_ns()}'
    cfg.default_hooks.logger.interval = 1
    with runner_logs_to_files():
        runner = Runner.from_cfg(cfg)
        runner.train()
    # IterTimerHook records each iteration's wall time (data included).
    seconds = [float(s) for s in runner.message_hub.get_scalar('train/time').data[0]]
    del runner
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    record = dict(key, seconds_per_step=sum(seconds[1:]) / len(seconds[1:]),
                  step_seconds=seconds)
    atomic_write(path, json_bytes(record))
    return record


def training_estimate(timing: dict, runs: int, pending: int, iters: int) -> dict:
    """The fine-tuning budget (``runs`` x ``iters`` steps) in hours at the measured rate."""
    hours = timing['seconds_per_step'] * iters / 3600
    return dict(device=timing['device'], seconds_per_step=timing['seconds_per_step'],
                measured_steps=timing['steps'] - 1, runs=runs, iters_per_run=iters,
                hours_total=hours * runs, hours_to_go=hours * pending,
                text=(f"{timing['seconds_per_step']:.3f} s per training step on "
                      f"{timing['device']} (mean of {timing['steps'] - 1} measured steps): "
                      f'{runs} fine-tuning runs x {iters} iterations = about '
                      f'{hours * runs:.2f} h ({hours * pending:.2f} h still to run); '
                      'evaluation and caption decoders not included.'))
