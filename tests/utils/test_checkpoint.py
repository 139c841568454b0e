"""Checkpoints are untrusted: every load path refuses code, and reads mmengine's own files."""
import os
import os.path as osp
import pickle

import pytest
import torch
from mmengine.runner import load_checkpoint

from tiny import tiny_model_cfg
from tiny_runner import run_tiny, tiny_runner_cfg, write_config
from tool_runner import run_tool
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import (CheckpointReadError, UnsafeCheckpointError,
                              find_resumable_checkpoint, safe_loading, safe_torch_load)
from tpc_cma_mm.utils.checkpoint import SAFE_GLOBAL_NAMES
from tpc_cma_mm.utils.checkpoint.weights_only import _SAFE_GLOBALS

ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


def _tool(script, *args):
    """Run a tool as a user does; its failure message becomes the raised error."""
    result = run_tool(script, *args)
    if result.returncode == 0:
        raise AssertionError(f'{script} loaded the checkpoint: {result.stdout[-2000:]}')
    raise RuntimeError(result.stderr[-3000:] + result.stdout[-1000:])


def _config(t):
    return write_config(t / 'tiny.py', tiny_runner_cfg(t / 'work', max_iters=3))


def _auto_resume(path, t):
    work = t / 'auto'
    work.mkdir()
    (work / 'last_checkpoint').write_text(path)
    run_tiny(tiny_runner_cfg(work, max_iters=4, resume=True))


def _init_model(path, t):
    from tpc_cma_mm.apis import init_model
    init_model(_config(t), path)


def _embedding_cache(path, t):
    from tpc_cma_mm.datasets import EmbeddingCaptions
    EmbeddingCaptions(path, 'test', 'image')


def _hf_folder(path, t):
    from tpc_cma_mm.models.hf_clip import load_hf_folder
    folder = t / 'hf'
    folder.mkdir()
    (folder / 'config.json').write_text('{}')
    os.link(path, folder / 'pytorch_model.bin')
    load_hf_folder(str(folder))


def _in_scope(load):
    def run(path, t):
        with safe_loading():
            load(path, t)
    return run


# name -> loader(path, tmp_path), run in this process; adding a load path is one line here.
LOAD_PATHS = {
    'safe_torch_load': lambda p, t: safe_torch_load(p),
    'load_checkpoint in safe_loading()': _in_scope(
        lambda p, t: load_checkpoint(MODELS.build(tiny_model_cfg()), p)),
    'init_cfg Pretrained in safe_loading()': _in_scope(lambda p, t: MODELS.build(
        tiny_model_cfg(init_cfg=dict(type='Pretrained', checkpoint=p))).init_weights()),
    'Runner init_cfg Pretrained': lambda p, t: run_tiny(tiny_runner_cfg(
        t / 'w', curriculum=False,
        model=tiny_model_cfg(init_cfg=dict(type='Pretrained', checkpoint=p)))),
    'Runner load_from': lambda p, t: run_tiny(tiny_runner_cfg(t / 'w', load_from=p)),
    'Runner resume': lambda p, t: run_tiny(
        tiny_runner_cfg(t / 'w', max_iters=4, load_from=p, resume=True)),
    'Runner auto-resume (last_checkpoint)': _auto_resume,
    'apis.init_model': _init_model,
    'EmbeddingCaptions cache file': _embedding_cache,
    'models.hf_clip.load_hf_folder (pytorch_model.bin)': _hf_folder,
}
# The tools, run as from the command line: script, arguments.
TOOLS = {
    'tools/train.py --resume PATH': lambda p, t: ('tools/train.py', _config(t), '--resume', p),
    'tools/test.py': lambda p, t: ('tools/test.py', _config(t), p, '--work-dir', str(t / 'w')),
    'tools/convert_clip_weights.py': lambda p, t: (
        'tools/convert_clip_weights.py', p, str(t / 'converted.pth')),
    'tools/eval_caption.py': lambda p, t: ('tools/eval_caption.py', _config(t), p,
                                           '--out', str(t / 'o')),
    'tools/analysis/gap_report.py': lambda p, t: (
        'tools/analysis/gap_report.py', _config(t), p, '--out', str(t / 'o')),
}


@pytest.mark.parametrize('name', list(LOAD_PATHS) + list(TOOLS))
def test_every_load_path_refuses_code(name, evil, tmp_path, loaders_intact):
    path, marker = evil
    with pytest.raises(Exception) as info:
        if name in TOOLS:
            _tool(*TOOLS[name](path, tmp_path))
        else:
            LOAD_PATHS[name](path, tmp_path)
    message = str(info.value)
    named = 'pytorch_model.bin' if 'hf_clip' in name else 'evil.pth'  # the file it read
    assert named in message and 'posix.system' in message, message
    assert 'Refused' in message, message
    assert not marker.exists()
    assert loaders_intact()  # a failed load leaves no scope open


@pytest.mark.parametrize('name', list(LOAD_PATHS) + ['tools/analysis/gap_report.py'])
def test_every_load_path_refuses_while_the_env_override_is_set(name, real_ckpt, tmp_path,
                                                                monkeypatch, loaders_intact):
    """A clean file too: the variable never half-works
    (docs/reliability.md, "Checkpoints never run code")."""
    monkeypatch.setenv(ENV, '1')
    with pytest.raises(Exception) as info:
        if name in TOOLS:
            _tool(*TOOLS[name](real_ckpt, tmp_path))
        else:
            LOAD_PATHS[name](real_ckpt, tmp_path)
    assert f'{ENV} is set' in str(info.value) and 'Refused' in str(info.value)
    assert loaders_intact()


def test_payload_is_live_and_plain_pickles_are_refused_too(tmp_path, touch):
    """The same object, fully unpickled, does create the marker; weights-only refuses it."""
    marker, path = tmp_path / 'LIVE', tmp_path / 'legacy.pkl'
    with open(path, 'wb') as f:
        pickle.dump(dict(state_dict={}, payload=touch(marker)), f, protocol=2)
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
    assert ckpt['meta']['iter'] == 3 and 'train/loss' in ckpt['message_hub']['log_scalars']


def test_resume_from_real_checkpoint(real_ckpt, tmp_path, loaders_intact):
    runner = run_tiny(tiny_runner_cfg(tmp_path, max_iters=4, interval=4,
                                      load_from=real_ckpt, resume=True))
    assert runner.iter == 4
    assert safe_torch_load(str(tmp_path / 'iter_4.pth'))['meta']['iter'] == 4
    assert loaders_intact()  # the hook's scope closed when the loop started


def test_missing_and_unreadable_files(tmp_path, real_ckpt, loaders_intact):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        safe_torch_load(str(tmp_path / 'nowhere.pth'))
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        run_tiny(tiny_runner_cfg(tmp_path / 'w', load_from=str(tmp_path / 'nowhere.pth')))
    assert loaders_intact()
    with pytest.raises(CheckpointReadError, match='not a file'):
        safe_torch_load(str(tmp_path))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'definitely not a checkpoint')
    truncated = tmp_path / 'iter_9.pth'
    data = open(real_ckpt, 'rb').read()
    truncated.write_bytes(data[:len(data) // 2])
    for bad in (garbage, truncated):
        with pytest.raises(CheckpointReadError, match=f'{bad.name}.*truncated, corrupt'), \
                safe_loading():
            load_checkpoint(MODELS.build(tiny_model_cfg()), str(bad))
    # --resume skips the truncated newest file for the newest complete one
    (tmp_path / 'iter_2.pth').write_bytes(data)
    (tmp_path / 'last_checkpoint').write_text(str(truncated))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    assert find_resumable_checkpoint(str(tmp_path / 'empty')) is None
