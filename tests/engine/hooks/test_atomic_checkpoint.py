"""Checkpoints survive kills: atomic files, late deletion, checked loading."""
import hashlib
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

import tpc_cma_mm.utils.atomic_io as atomic_io
from tiny import tiny_model_cfg
from tiny_runner import run_tiny, tiny_runner_cfg
from tpc_cma_mm.engine.hooks import AtomicCheckpointHook
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import CheckpointMismatchError, find_resumable_checkpoint, safe_torch_load

WRITER = '''
import hashlib, importlib.util, os, sys
spec = importlib.util.spec_from_file_location('atomic_io', sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
for index in range(10 ** 6):
    body = index.to_bytes(8, 'big') + os.urandom(6 * 2 ** 20)
    module.atomic_write(sys.argv[2], body + hashlib.sha256(body).digest())
    print(index, flush=True)
'''


@pytest.mark.parametrize('after_writes', [1, 3])
def test_sigkill_during_writes_never_leaves_a_partial_file(tmp_path, after_writes):
    """A writer rewrites a 6 MiB file in a loop; SIGKILL lands mid-write."""
    target = tmp_path / 'iter_1.pth'
    child = subprocess.Popen([sys.executable, '-c', WRITER, atomic_io.__file__, str(target)],
                             stdout=subprocess.PIPE, text=True)
    for _ in range(after_writes):
        last = int(child.stdout.readline())
    child.kill()
    child.wait()
    data = target.read_bytes()
    body, digest = data[:-32], data[-32:]
    assert hashlib.sha256(body).digest() == digest  # complete, never torn
    assert int.from_bytes(body[:8], 'big') >= last
    assert {p.name for p in tmp_path.iterdir()} <= {'iter_1.pth'} | {
        p.name for p in tmp_path.iterdir() if p.name.endswith('.partial')}


def test_crash_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    real_replace = os.replace

    def crash_on_iter_6(src, dst):
        if str(dst).endswith('iter_6.pth'):
            raise KeyboardInterrupt('killed while saving iter_6')
        return real_replace(src, dst)

    def run(work_dir, hook_type):
        cfg = tiny_runner_cfg(work_dir, max_iters=6, interval=2, curriculum=False)
        cfg['default_hooks']['checkpoint'].update(
            type=hook_type, max_keep_ckpts=1, backend_args=dict(backend='atomic_local'))
        monkeypatch.setattr(atomic_io.os, 'replace', crash_on_iter_6)
        with pytest.raises(KeyboardInterrupt):
            run_tiny(cfg)
        monkeypatch.setattr(atomic_io.os, 'replace', real_replace)

    # mmengine's CheckpointHook deletes iter_4 before writing iter_6: nothing is left.
    run(tmp_path / 'plain', 'CheckpointHook')
    assert not list((tmp_path / 'plain').glob('iter_*.pth'))
    # AtomicCheckpointHook deletes only after the new file is complete.
    work = tmp_path / 'atomic'
    run(work, 'AtomicCheckpointHook')
    assert [p.name for p in work.glob('*.pth')] == ['iter_4.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_4.pth')
    assert not list(work.glob('.*.partial'))
    # a kill leaves a temporary file behind: resume ignores it and cleans it up
    (work / '.iter_6.pth.x1y2.partial').write_bytes(b'half a checkpoint')
    resume_from = find_resumable_checkpoint(str(work))
    assert resume_from == str(work / 'iter_4.pth')
    runner = run_tiny(tiny_runner_cfg(work, max_iters=6, interval=2, curriculum=False,
                                      load_from=resume_from, resume=True))
    assert runner.iter == 6 and not list(work.glob('.*.partial'))
    assert safe_torch_load(str(work / 'iter_6.pth'))['meta']['iter'] == 6


def test_load_from_another_architecture_names_the_keys(tmp_path):
    other = tmp_path / 'other.pth'
    narrow = tiny_model_cfg(proj_dim=16, projection=dict(
        type='CLIPProjection', in_channels=32, out_channels=16))
    torch.save(dict(state_dict=MODELS.build(narrow).state_dict()), other)
    cfg = tiny_runner_cfg(tmp_path / 'w', max_iters=1, curriculum=False, load_from=str(other))
    with pytest.raises(CheckpointMismatchError) as info:
        run_tiny(cfg)
    message = str(info.value)
    assert 'other.pth' in message and 'text_projection: (32, 16) vs (32, 32)' in message
    assert 'tools/convert_clip_weights.py' in message
    # the refusal closes the hook's weights-only scope: mmengine's loader is back
    assert CheckpointLoader._get_checkpoint_loader('x.pth') is load_from_local
    cfg['default_hooks']['checkpoint']['check_keys'] = 'warn'
    assert run_tiny(cfg).iter == 1  # 'warn' loads what fits and trains on


def test_invalid_hook_arguments():
    with pytest.raises(ValueError, match='check_keys'):
        AtomicCheckpointHook(check_keys='strict')
    hook = AtomicCheckpointHook(interval=1, max_keep_ckpts=2)
    assert hook.backend_args == dict(backend='atomic_local') and hook._keep == 2
    assert AtomicCheckpointHook(out_dir='s3://bucket/run').backend_args is None
    assert osp.basename(atomic_io.__file__) == 'atomic_io.py'


def test_failure_after_the_checkpoint_is_read_leaves_mmengine_loaders(tmp_path):
    """Resume reads the file, then fails on its content (no meta.epoch): mmengine calls
    no hook, yet the weights-only scope was already closed once the file was read."""
    no_epoch = tmp_path / 'no_epoch.pth'
    torch.save(dict(state_dict=MODELS.build(tiny_model_cfg()).state_dict(),
                    meta=dict(iter=1)), no_epoch)
    cfg = tiny_runner_cfg(tmp_path / 'w', max_iters=2, curriculum=False,
                          load_from=str(no_epoch), resume=True)
    cfg['default_hooks']['checkpoint']['check_keys'] = 'off'
    with pytest.raises(KeyError, match='epoch'):
        run_tiny(cfg)
    assert CheckpointLoader._get_checkpoint_loader('x.pth') is load_from_local
