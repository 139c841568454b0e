"""tools/train.py then tools/test.py on a tiny config, as a user runs them."""
import json
import os
import os.path as osp
import subprocess
import sys

import torch
from mmengine.config import Config

from tiny import tiny_dataset_cfg, tiny_model_cfg
from tpc_cma_mm.utils.checkpoint import safe_torch_load

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write_tiny_config(path, max_iters=4, **model_overrides) -> str:
    """A complete Runner config for the tiny model on tiny generated data."""
    classes = ['circle', 'square', 'triangle', 'diamond', 'cross', 'star', 'hexagon', 'ring']
    model = tiny_model_cfg(zero_shot=dict(classnames=classes, templates=['a {}']),
                           **model_overrides)
    cfg = f'''
_base_ = [{osp.join(REPO, 'configs/_base_/default_runtime.py')!r}]
model = {model!r}
train_dataloader = dict(batch_size=8, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset={tiny_dataset_cfg('train', 64)!r})
val_dataloader = dict(batch_size=16, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset={tiny_dataset_cfg('val', 32)!r})
test_dataloader = val_dataloader
val_evaluator = [dict(type='CrossModalRetrieval'), dict(type='Accuracy', topk=(1, ), prefix='zero_shot')]
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3))
train_cfg = dict(type='IterBasedTrainLoop', max_iters={max_iters}, val_interval={max_iters})
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval={max_iters}),
                     logger=dict(type='LoggerHook', interval=1))
randomness = dict(seed=0, deterministic=True)
'''
    with open(path, 'w') as f:
        f.write(cfg)
    return str(path)


def run_tool(*args):
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_train_then_test(tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py')
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', config, '--work-dir', str(work_dir))
    ckpt = work_dir / 'iter_4.pth'
    assert ckpt.is_file()
    out = tmp_path / 'metrics.json'
    run_tool('tools/test.py', config, str(ckpt), '--work-dir', str(tmp_path / 'eval'),
             '--out', str(out))
    metrics = json.loads(out.read_text())
    assert 0 <= metrics['zero_shot/top1'] <= 100
    assert {'retrieval/i2t_R@1', 'retrieval/t2i_R@10'} <= metrics.keys()
    # 32 validation pairs: Recall@10 can't be below the chance level of a
    # random ranking by much, and Recall@K grows with K.
    assert metrics['retrieval/i2t_R@1'] <= metrics['retrieval/i2t_R@5'] <= metrics['retrieval/i2t_R@10']


def test_test_tool_names_missing_checkpoint(tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py')
    result = subprocess.run([sys.executable, 'tools/test.py', config, str(tmp_path / 'nope.pth')],
                            cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode != 0 and 'nope.pth' in result.stderr and 'not found' in result.stderr


def test_flexible_runner_config_trains_with_amp(tmp_path):
    """FlexibleRunner configs (the FSDP / DeepSpeed path) run through tools/train.py."""
    config = write_tiny_config(tmp_path / 'tiny.py')
    with open(config, 'a') as f:
        f.write("runner_type = 'FlexibleRunner'\nstrategy = dict(type='SingleDeviceStrategy')\n")
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', config, '--work-dir', str(work_dir), '--amp')
    dumped = Config.fromfile(str(work_dir / 'tiny.py'))
    assert dumped.optim_wrapper.type == 'AutocastOptimWrapper'
    assert dumped.optim_wrapper.dtype == 'bfloat16'
    state = safe_torch_load(str(work_dir / 'iter_4.pth'))['state_dict']
    assert 'logit_scale' in state and all(torch.isfinite(v).all() for v in state.values())


def test_slurm_script_starts_one_train_task_per_gpu(tmp_path):
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir()
    calls = tmp_path / 'srun_args'
    (fake_bin / 'srun').write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {calls}\n')
    (fake_bin / 'srun').chmod(0o755)
    env = dict(os.environ, PATH=f'{fake_bin}:{os.environ["PATH"]}', GPUS='16',
               GPUS_PER_NODE='8', PYTHON='py')
    subprocess.run(['bash', 'tools/slurm_train.sh', 'gpu', 'job', 'cfg.py', 'wd', '--amp'],
                   cwd=REPO, env=env, check=True, timeout=60)
    args = calls.read_text().splitlines()
    assert args[:2] == ['-p', 'gpu']
    assert {'--job-name=job', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8'} <= set(args)
    train = args.index('py')
    assert args[train + 1:] == ['-u', 'tools/train.py', 'cfg.py', '--work-dir=wd',
                                '--launcher', 'slurm', '--amp']
