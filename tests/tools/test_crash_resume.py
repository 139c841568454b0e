"""SIGKILL of a `tools/train.py` process mid-ramp, `tools/train.py --resume`, and the run
ends exactly as an uninterrupted one. The killed run is a process forked from this one and
the resume runs in this process (tests/tool_runner.py): the kill needs a process of its
own, not a fresh interpreter."""
import multiprocessing
import os
import os.path as osp
import signal
import time

import pytest
import torch
from mmengine.config import Config

from tiny_runner import read_scalars, run_tiny, tiny_runner_cfg, write_config
from tool_runner import run_tool
from tpc_cma_mm.utils import safe_torch_load

HERE = osp.dirname(osp.abspath(__file__))
MAX_ITERS, INTERVAL, STALL_AT = 12, 4, 7  # ramp: iterations 4-9 (phases 0.25/0.5/0.25)
VOLATILE = ('time', 'data_time', 'eta', 'memory')


def _train_until_stalled(config, work_dir, marker):
    """tools/train.py in a process forked from this one: a real process to SIGKILL,
    without a fresh interpreter's torch + mmpretrain import. It stalls after iteration
    STALL_AT (crash_hooks.py); its stderr goes to ``marker.err`` if it ends before."""
    os.environ.update(TPC_STALL_AT=str(STALL_AT), TPC_STALL_MARKER=str(marker))
    done = run_tool('tools/train.py', config, '--work-dir', work_dir)
    with open(f'{marker}.err', 'w') as f:
        f.write(f'exit status {done.returncode}\n{done.stderr[-3000:]}')


def _wait_for(child, marker, timeout=900):
    deadline = time.monotonic() + timeout
    while not osp.exists(marker):
        if not child.is_alive():
            with open(f'{marker}.err') as f:
                raise AssertionError(f'training exited early: {f.read()}')
        assert time.monotonic() < deadline, 'training never reached the kill point'
        time.sleep(0.2)


@pytest.mark.slow  # kills a training process, resumes it, and a reference run: 3 runs
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, monkeypatch):
    cfg = tiny_runner_cfg('unused', max_iters=MAX_ITERS, interval=INTERVAL, val=True)
    cfg['custom_hooks'].append(dict(type='StallAfterIterHook'))
    config = write_config(tmp_path / 'crash_cfg.py', cfg, imports=['crash_hooks'])
    work, marker = tmp_path / 'work', tmp_path / 'stalled'

    monkeypatch.syspath_prepend(HERE)  # crash_hooks, for the config's custom_imports
    child = multiprocessing.get_context('fork').Process(
        target=_train_until_stalled, args=(config, work, marker))
    child.start()
    # meanwhile, the same config uninterrupted, in this process
    ref_cfg = Config.fromfile(config)
    ref_cfg.work_dir = str(tmp_path / 'ref')
    run_tiny(ref_cfg)
    _wait_for(child, marker)
    os.kill(child.pid, signal.SIGKILL)  # mid-ramp, 3 iterations after iter_4.pth
    child.join()
    assert child.exitcode == -signal.SIGKILL
    assert (work / 'last_checkpoint').read_text() == str(work / f'iter_{INTERVAL}.pth')
    # what a kill during the next save would have left: ignored, then removed
    (work / f'.iter_{2 * INTERVAL}.pth.k1ll.partial').write_bytes(b'\x50\x4b torn')

    # The resume needs no process of its own (tests/tool_runner.py): the kill did.
    resumed = run_tool('tools/train.py', config, '--work-dir', work, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not list(work.glob('.*.partial'))

    final = f'iter_{MAX_ITERS}.pth'
    got, want = (safe_torch_load(str(d / final)) for d in (work, tmp_path / 'ref'))
    assert got['state_dict'].keys() == want['state_dict'].keys()
    for key, value in want['state_dict'].items():
        assert torch.equal(got['state_dict'][key], value), key
    assert got['tpc_curriculum'] == want['tpc_curriculum']
    assert 0 < got['tpc_curriculum']['alpha'] <= 0.5

    logged, reference = read_scalars(str(work)), read_scalars(str(tmp_path / 'ref'))
    assert set(logged) == set(reference)  # killed run: 1-7, resumed: 5-12 and val
    for step, want_row in reference.items():
        row = {k: v for k, v in logged[step].items() if k not in VOLATILE}
        assert row == {k: v for k, v in want_row.items() if k not in VOLATILE}, step
    assert any(k.startswith('retrieval/') for k in reference[('val', 0)])
    assert 0 < logged[STALL_AT]['alpha'] < 0.5  # the kill was mid-ramp


def test_resume_flag_picks_newest_complete_checkpoint_or_starts_afresh(tmp_path):
    """What ``tools/train.py --resume`` does (tpc_cma_mm.apis.runner.resolve_resume)."""
    from tpc_cma_mm.apis.runner import load_run_config, resolve_resume
    config = write_config(tmp_path / 'c.py', tiny_runner_cfg('unused', load_from='pre.pth'))
    work = tmp_path / 'work'
    cfg = load_run_config(config, str(work))
    resolve_resume(cfg, 'auto')
    assert not cfg.resume and cfg.load_from == 'pre.pth'  # nothing to resume: fine-tune as set
    work.mkdir()
    (work / 'iter_3.pth').write_bytes(b'torn')  # incomplete: never picked
    torch.save(dict(state_dict={}), work / 'iter_2.pth')
    cfg = load_run_config(config, str(work))
    resolve_resume(cfg, 'auto')
    assert cfg.resume and cfg.load_from == str(work / 'iter_2.pth')
