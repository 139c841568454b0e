"""tools/train.py then tools/test.py on a tiny config, as a user runs them (in this
process through their ``main(argv)``; the launcher scripts as real shell commands)."""
import json
import os
import os.path as osp
import subprocess

import pytest
import torch
from mmengine.config import Config

from tiny import tiny_dataset_cfg, tiny_model_cfg
from tool_runner import run_tool as run_tool_result
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
    result = run_tool_result(*args)
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
             '--out', str(out), '--out-item', 'metrics')
    metrics = json.loads(out.read_text())
    assert 0 <= metrics['zero_shot/top1'] <= 100
    assert {'retrieval/i2t_R1', 'retrieval/t2i_R10'} <= metrics.keys()
    # 32 validation pairs: Recall@10 can't be below the chance level of a
    # random ranking by much, and Recall@K grows with K.
    assert metrics['retrieval/i2t_R1'] <= metrics['retrieval/i2t_R5'] <= metrics['retrieval/i2t_R10']


def test_test_tool_names_missing_checkpoint(tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py')
    result = run_tool_result('tools/test.py', config, tmp_path / 'nope.pth')
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


def fake_command(tmp_path, name):
    """An executable that records its arguments, one a line, and exits 0."""
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir(exist_ok=True)
    calls = tmp_path / f'{name}_args'
    (fake_bin / name).write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {calls}\n')
    (fake_bin / name).chmod(0o755)
    return fake_bin, calls


@pytest.mark.parametrize('script,tool,positional', [
    ('slurm_train.sh', 'train.py', ['cfg.py', '--work-dir=wd']),
    ('slurm_test.sh', 'test.py', ['cfg.py', 'wd']),
])
def test_slurm_scripts_start_one_task_per_gpu(tmp_path, script, tool, positional):
    fake_bin, calls = fake_command(tmp_path, 'srun')
    env = dict(os.environ, PATH=f'{fake_bin}:{os.environ["PATH"]}', GPUS='16',
               GPUS_PER_NODE='8', PYTHON='py -X faulthandler')
    subprocess.run(['bash', f'tools/{script}', 'gpu', 'job', 'cfg.py', 'wd', '--amp'],
                   cwd=REPO, env=env, check=True, timeout=60)
    args = calls.read_text().splitlines()
    assert args[:2] == ['-p', 'gpu']
    assert {'--job-name=job', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8'} <= set(args)
    start = args.index('py')
    assert args[start + 1:] == ['-X', 'faulthandler', '-u', f'tools/{tool}', *positional,
                                '--launcher', 'slurm', '--amp']


@pytest.mark.parametrize('script,positional', [
    ('dist_train.sh', ['cfg.py']), ('dist_test.sh', ['cfg.py', 'ckpt.pth'])])
def test_dist_scripts_take_a_python_with_options(tmp_path, script, positional):
    fake_bin, calls = fake_command(tmp_path, 'py')
    env = dict(os.environ, PATH=f'{fake_bin}:{os.environ["PATH"]}',
               PYTHON='py -X faulthandler')
    subprocess.run(['bash', f'tools/{script}', *positional, '2', '--amp'], cwd=REPO,
                   env=env, check=True, timeout=60)
    args = calls.read_text().splitlines()
    assert args[:4] == ['-X', 'faulthandler', '-m', 'torch.distributed.run']
    assert '--nproc_per_node=2' in args
    tool = args.index(f'tools/{script.replace("dist_", "").replace(".sh", ".py")}')
    assert args[tool + 1:] == [*positional, '--launcher', 'pytorch', '--amp']


def test_train_options_no_validate_auto_scale_lr_dataloaders(tmp_path):
    """mmpretrain's train options take effect: read back from the dumped config
    and the logged scalars (lr 1e-3 x batch 8 / base 4 = 2e-3; no validation)."""
    config = write_tiny_config(tmp_path / 'tiny.py', max_iters=2)
    with open(config, 'a') as f:  # what the COCO config does: workers persist
        f.write('train_dataloader.update(persistent_workers=True, pin_memory=True)\n')
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', config, '--work-dir', str(work_dir), '--no-validate',
             '--auto-scale-lr', '--no-pin-memory', '--no-persistent-workers',
             '--cfg-options', 'auto_scale_lr.base_batch_size=4')
    dumped = Config.fromfile(str(work_dir / 'tiny.py'))
    assert dumped.val_cfg is None and dumped.val_dataloader is None
    assert dumped.auto_scale_lr == dict(base_batch_size=4, enable=True)
    for name in ('train_dataloader', 'test_dataloader'):
        assert dumped[name].pin_memory is False and dumped[name].persistent_workers is False
    scalars = [json.loads(line) for line in
               open(next(work_dir.glob('*/vis_data/scalars.json')))]
    assert scalars and all(abs(row['lr'] - 2e-3) < 1e-9 for row in scalars if 'lr' in row)
    assert not any(k.startswith('retrieval') for row in scalars for k in row)


def test_tensorboard_events_hold_curriculum_and_gap_scalars_and_test_options(tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    config = write_tiny_config(tmp_path / 'tiny.py', max_iters=4,
                               cma_loss=dict(type='CMALoss'))
    with open(config, 'a') as f:
        f.write("custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.3, "
                "phases=(0.25, 0.5, 0.25), probe_interval=2)]\n"
                "val_evaluator = [dict(type='ModalityGapMetric')]\n"
                "test_evaluator = val_evaluator\n")
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', config, '--work-dir', str(work_dir), '--tensorboard')
    events = EventAccumulator(str(next(work_dir.glob('*/vis_data'))))
    events.Reload()
    tags = set(events.Tags()['scalars'])
    assert {'alpha', 'alpha_sched', 'loss', 'loss_cma'} <= tags, tags
    assert any(tag.startswith('gap/') for tag in tags), tags
    alphas = [e.value for e in events.Scalars('alpha')]
    assert len(alphas) == 4 and alphas[0] == 0 and max(alphas) > 0  # anchor, then ramp
    # test.py: --amp sets the loop's autocast; --out refuses to overwrite other metrics.
    ckpt, out = str(work_dir / 'iter_4.pth'), tmp_path / 'metrics.json'
    out.write_text('{"mine": 1}\n')
    result = run_tool_result('tools/test.py', config, ckpt, '--amp',
                             '--work-dir', tmp_path / 'eval', '--out', out,
                             '--out-item', 'metrics')
    assert result.returncode != 0 and '--overwrite' in result.stderr
    assert json.loads(out.read_text()) == {'mine': 1}
    run_tool('tools/test.py', config, ckpt, '--amp', '--work-dir', str(tmp_path / 'eval'),
             '--out', str(out), '--out-item', 'metrics', '--overwrite')
    assert any(k.startswith('gap/') for k in json.loads(out.read_text()))
    assert Config.fromfile(str(tmp_path / 'eval' / 'tiny.py')).test_cfg.fp16 is True
