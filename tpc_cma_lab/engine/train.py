"""Train one :class:`~.run.Run`, or reuse its finished checkpoint; the one training path of the lab.

The run's work dir holds ``run.json`` (the run, its key and its environment)
and ``run_config.py`` (:mod:`.configs`), the exact config trained, so the
run is its own record and ``python tools/train.py WORK_DIR/run_config.py``
trains it again. A finished checkpoint is reused only by the run of the same
key; a work dir that holds another run is refused, never overwritten::

    checkpoint, record = train(run)   # record: None when the checkpoint was reused
"""
import os
import os.path as osp
import time
from typing import Optional, Tuple

from mmengine.config import Config
from mmengine.runner import Runner

from tpc_cma_mm.apis.outputs import json_bytes, read_json
from tpc_cma_mm.utils.atomic_io import atomic_write
from .configs import dump_run_config, run_config
from .console import runner_logs_to_files
from .env import environment, set_threads
from .run import Run, run_key

__all__ = ['HISTORY_KEYS', 'RUN_RECORD', 'checkpoint_of', 'train']

RUN_RECORD = 'run.json'
# The training scalars kept in a run's record, one value per iteration.
HISTORY_KEYS = ('loss', 'loss_contrastive', 'contrastive_raw', 'loss_cma', 'alpha', 'grad_norm',
                'alpha_cap')


def checkpoint_of(cfg: Config) -> str:
    return osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')


def _check_work_dir(run: Run, key: str) -> None:
    path = osp.join(run.work_dir, RUN_RECORD)
    if not osp.isfile(path):
        return
    recorded = read_json(path, 'run record').get('key')
    if recorded != key:
        raise ValueError(
            f'{run.work_dir} holds another run (key {recorded}, this one {key}: its config, '
            'seed, threads, libraries or code differ); its checkpoints would give other '
            'numbers. Give this run another work dir, or delete that one to train anew.')


def train(run: Run, base: Optional[Config] = None) -> Tuple[str, Optional[dict]]:
    """Train ``run`` (from ``base``, default its config file) at its thread count; returns
    its last checkpoint and a record (minutes, per-iteration history), or the finished
    checkpoint and None."""
    key = run_key(run)
    cfg = run_config(run, base)
    checkpoint = checkpoint_of(cfg)
    _check_work_dir(run, key)
    if osp.isfile(checkpoint):
        if not osp.isfile(osp.join(run.work_dir, RUN_RECORD)):
            raise ValueError(f'{checkpoint} exists but {run.work_dir} records no run '
                             f'({RUN_RECORD}): it was trained by something else. Give this '
                             'run another work dir.')
        return checkpoint, None
    set_threads(run.threads)
    os.makedirs(run.work_dir, exist_ok=True)
    atomic_write(osp.join(run.work_dir, RUN_RECORD), json_bytes(
        dict(key=key, run=run.plain(), environment=environment(run.threads))))
    # Trained from the file it leaves, so the file is what was trained.
    cfg = Config.fromfile(dump_run_config(cfg, run.work_dir))
    cfg.experiment_name = f'{osp.basename(run.work_dir)}_{time.time_ns()}'  # log folder only
    start = time.time()
    with runner_logs_to_files():
        runner = Runner.from_cfg(cfg)
        runner.train()
    record = dict(train_minutes=(time.time() - start) / 60)
    for name in HISTORY_KEYS:
        buffer = runner.message_hub.log_scalars.get(f'train/{name}')
        if buffer is not None:
            record[name] = [float(v) for v in buffer.data[0]]
    return checkpoint, record
