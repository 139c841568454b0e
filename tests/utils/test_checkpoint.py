"""Checkpoints are untrusted: every load path refuses code, and reads mmengine's own files."""
import contextlib
import io
import os
import os.path as osp
import pickle
import runpy
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint

from tiny import tiny_model_cfg
from tiny_runner import run_tiny, tiny_runner_cfg, write_config
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import (CheckpointReadError, UnsafeCheckpointError,
                              find_resumable_checkpoint, safe_torch_load)
from tpc_cma_mm.utils.checkpoint import _SAFE_GLOBALS, SAFE_GLOBAL_NAMES

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class _Touch:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture(scope='module')
def real_ckpt(tmp_path_factory):
    """What mmengine 0.10.7 writes: 2 tiny iterations with validation and the curriculum."""
    work_dir = tmp_path_factory.mktemp('real')
    run_tiny(tiny_runner_cfg(work_dir, max_iters=2, interval=2, val=True))
    return str(work_dir / 'iter_2.pth')


@pytest.fixture
def evil(tmp_path, real_ckpt):
    """A torch checkpoint with real weights plus an object whose unpickling touches a file."""
    marker = tmp_path / 'MARKER'
    path = tmp_path / 'evil.pth'
    state = safe_torch_load(real_ckpt)['state_dict']
    torch.save(dict(state_dict=state, meta=dict(iter=2, epoch=0), payload=_Touch(marker)), path)
    return str(path), marker


def _run_tool(script, argv, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [script] + argv)
    monkeypatch.syspath_prepend(osp.dirname(script))
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        runpy.run_path(script, run_name='__main__')
    finally:
        torch.use_deterministic_algorithms(deterministic)


def _convert(path, tmp_path, monkeypatch):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    try:
        from convert_clip_weights import main
    finally:
        sys.path.pop(0)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main([path, str(tmp_path / 'converted.pth')])
    if status:
        raise RuntimeError(err.getvalue())


def _config(tmp_path):
    return write_config(tmp_path / 'tiny.py', tiny_runner_cfg(tmp_path / 'work', max_iters=2))


def _http(path, tmp_path, monkeypatch):
    # The https loader reads torch's hub cache first: plant the file there.
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    cache = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    os.link(path, cache / 'remote_evil.pth')
    load_checkpoint(MODELS.build(tiny_model_cfg()), 'https://example.invalid/remote_evil.pth')


def _auto_resume(path, tmp_path, monkeypatch):
    work = tmp_path / 'auto'
    work.mkdir()
    (work / 'last_checkpoint').write_text(path)
    run_tiny(tiny_runner_cfg(work, max_iters=3, resume=True))


TOOLS = osp.join(REPO, 'tools')
# name -> loader(path, tmp_path, monkeypatch); adding a load path is one line here.
LOAD_PATHS = {
    'safe_torch_load': lambda p, t, m: safe_torch_load(p),
    'mmengine load_checkpoint': lambda p, t, m: load_checkpoint(
        MODELS.build(tiny_model_cfg()), p),
    'init_cfg Pretrained': lambda p, t, m: MODELS.build(tiny_model_cfg(
        init_cfg=dict(type='Pretrained', checkpoint=p))).init_weights(),
    'Runner load_from': lambda p, t, m: run_tiny(tiny_runner_cfg(t / 'w', load_from=p)),
    'Runner resume': lambda p, t, m: run_tiny(
        tiny_runner_cfg(t / 'w', max_iters=3, load_from=p, resume=True)),
    'Runner auto-resume (last_checkpoint)': _auto_resume,
    'http(s) scheme': _http,
    'tools/train.py --resume PATH': lambda p, t, m: _run_tool(
        osp.join(TOOLS, 'train.py'), [_config(t), '--resume', p], m),
    'tools/test.py': lambda p, t, m: _run_tool(
        osp.join(TOOLS, 'test.py'), [_config(t), p, '--work-dir', str(t / 'w')], m),
    'tools/convert_clip_weights.py': _convert,
    'tools/eval_caption.py': lambda p, t, m: _run_tool(
        osp.join(TOOLS, 'eval_caption.py'), [_config(t), p, '--out', str(t / 'o')], m),
    'tools/analysis/gap_report.py': lambda p, t, m: _run_tool(
        osp.join(TOOLS, 'analysis', 'gap_report.py'), [_config(t), p, '--out', str(t / 'o')], m),
}


@pytest.mark.parametrize('name', list(LOAD_PATHS))
def test_every_load_path_refuses_code(name, evil, tmp_path, monkeypatch):
    path, marker = evil
    if name.startswith('tools/') and not osp.isfile(osp.join(REPO, name.split()[0])):
        pytest.skip(f'{name} does not exist yet')
    with pytest.raises(Exception) as info:
        LOAD_PATHS[name](path, tmp_path, monkeypatch)
    message = str(info.value)
    assert 'evil.pth' in message and 'posix.system' in message, message
    assert 'Refused' in message
    assert not marker.exists()


def test_payload_is_live_and_plain_pickles_are_refused_too(tmp_path):
    """The same object, fully unpickled, does create the marker; weights-only refuses it."""
    marker, path = tmp_path / 'LIVE', tmp_path / 'legacy.pkl'
    with open(path, 'wb') as f:
        pickle.dump(dict(state_dict={}, payload=_Touch(marker)), f, protocol=2)
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        safe_torch_load(str(path))
    assert not marker.exists()
    with open(path, 'rb') as f:
        pickle.load(f)  # our own file, in a temp dir: shows the payload really runs
    assert marker.exists()


def test_getattr_is_limited_to_history_buffer(tmp_path):
    class Reach:
        def __reduce__(self):
            return getattr, (torch.Tensor, 'tolist')

    path = tmp_path / 'getattr.pth'
    torch.save(dict(x=Reach()), path)
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        safe_torch_load(str(path))


def test_allow_list_is_exactly_what_mmengine_writes(real_ckpt):
    saved = torch.serialization.get_safe_globals()
    try:
        torch.serialization.clear_safe_globals()
        measured = set(torch.serialization.get_unsafe_globals_in_checkpoint(real_ckpt))
        # dtype classes are not pickled by name (they are BUILD targets)
        assert measured == {n for n in SAFE_GLOBAL_NAMES if not n.startswith('numpy.dtypes.')}
        for entry in _SAFE_GLOBALS:  # every entry is needed
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals([g for g in _SAFE_GLOBALS if g is not entry])
            with pytest.raises(pickle.UnpicklingError):
                torch.load(real_ckpt, weights_only=True)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(saved)
    ckpt = safe_torch_load(real_ckpt)
    assert ckpt['meta']['iter'] == 2 and 'train/loss' in ckpt['message_hub']['log_scalars']


def test_resume_from_real_checkpoint(real_ckpt, tmp_path):
    runner = run_tiny(tiny_runner_cfg(tmp_path, max_iters=3, interval=3,
                                      load_from=real_ckpt, resume=True))
    assert runner.iter == 3
    assert safe_torch_load(str(tmp_path / 'iter_3.pth'))['meta']['iter'] == 3


def test_env_override_cannot_unlock_code(evil, tmp_path, monkeypatch):
    path, marker = evil
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError, match='TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'):
        _http(path, tmp_path, monkeypatch)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(MODELS.build(tiny_model_cfg()), path)
    assert not marker.exists()


def test_model_zoo_schemes_are_refused_with_the_fix():
    with pytest.raises(UnsafeCheckpointError, match='torchvision://resnet50.*https://'):
        load_checkpoint(MODELS.build(tiny_model_cfg()), 'torchvision://resnet50')


def test_missing_and_unreadable_files(tmp_path, real_ckpt):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        safe_torch_load(str(tmp_path / 'nowhere.pth'))
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        run_tiny(tiny_runner_cfg(tmp_path / 'w', load_from=str(tmp_path / 'nowhere.pth')))
    with pytest.raises(CheckpointReadError, match='not a file'):
        safe_torch_load(str(tmp_path))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'definitely not a checkpoint')
    truncated = tmp_path / 'iter_9.pth'
    data = open(real_ckpt, 'rb').read()
    truncated.write_bytes(data[:len(data) // 2])
    for bad in (garbage, truncated):
        with pytest.raises(CheckpointReadError, match=f'{bad.name}.*truncated, corrupt'):
            load_checkpoint(MODELS.build(tiny_model_cfg()), str(bad))
    # --resume skips the truncated newest file for the newest complete one
    (tmp_path / 'iter_2.pth').write_bytes(data)
    (tmp_path / 'last_checkpoint').write_text(str(truncated))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    assert find_resumable_checkpoint(str(tmp_path / 'empty')) is None

