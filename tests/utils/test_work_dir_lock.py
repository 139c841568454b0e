"""One training per work dir (tpc_cma_mm/utils/work_dir_lock.py, WorkDirLockHook)."""
import os.path as osp
import signal
import socket
import subprocess
import sys

import pytest

import tpc_cma_mm.utils.work_dir_lock as work_dir_lock
from tiny_runner import run_tiny, tiny_runner_cfg
from tool_runner import run_tool
from tpc_cma_mm.utils.work_dir_lock import WorkDirBusyError, lock_work_dir, unlock_work_dir

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# The module is standard library only: loaded by path, the holder starts in a blink.
HOLDER = '''
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location('work_dir_lock', sys.argv[2])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
module.lock_work_dir(sys.argv[1])
print('locked', flush=True)
time.sleep(600)
'''


@pytest.fixture
def other_run(tmp_path):
    """Another process holding the lock of ``tmp_path / 'work'``; killed at the end."""
    work = tmp_path / 'work'
    child = subprocess.Popen([sys.executable, '-c', HOLDER, str(work), work_dir_lock.__file__],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == 'locked'
    yield work, child
    child.kill()
    child.wait()


def test_a_second_run_is_refused_naming_the_first_and_a_killed_one_never_blocks(other_run):
    work, child = other_run
    with pytest.raises(WorkDirBusyError) as info:
        lock_work_dir(str(work))
    message = str(info.value)
    assert f'pid {child.pid} on host {socket.gethostname()}, started ' in message
    assert '--work-dir' in message and str(work) in message
    child.send_signal(signal.SIGKILL)  # no clean-up runs: the OS drops the lock
    child.wait()
    assert lock_work_dir(str(work))
    assert lock_work_dir(str(work))  # this process again (a run restarted in one session)
    unlock_work_dir(str(work))


@pytest.mark.slow
def test_the_default_hook_stops_a_training_before_it_writes_a_checkpoint(other_run):
    """Before, two trainings in one work dir both exited 0 and one's final checkpoint
    held the other's weights."""
    work, child = other_run
    cfg = tiny_runner_cfg(work, max_iters=2, interval=1, curriculum=False)
    cfg['default_hooks']['work_dir_lock'] = dict(type='WorkDirLockHook')
    with pytest.raises(WorkDirBusyError, match=f'pid {child.pid}'):
        run_tiny(cfg)
    assert not list(work.glob('iter_*.pth'))
    child.kill()
    child.wait()
    run_tiny(dict(cfg, experiment_name=cfg['experiment_name'] + '_again'))
    assert (work / 'iter_2.pth').is_file()


def test_train_tool_refuses_a_busy_work_dir_in_one_line(other_run, tmp_path):
    work, child = other_run
    # The default runtime (its hooks, the lock among them) and the tiny model and data.
    tiny = tiny_runner_cfg(work, max_iters=2, interval=1, curriculum=False)
    config = tmp_path / 'tiny.py'
    runtime = osp.join(REPO, 'configs/_base_/default_runtime.py')
    config.write_text(f'_base_ = [{runtime!r}]\n' + ''.join(
        f'{key} = {value!r}\n' for key, value in tiny.items()
        if key not in ('default_hooks', 'custom_hooks', 'work_dir')))
    result = run_tool('tools/train.py', config, '--work-dir', work)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error: Work dir') and f'pid {child.pid}' in last
    assert not list(work.glob('iter_*.pth'))


def test_processes_that_need_one_folder_take_turns(tmp_path):
    """The second waits for the first to leave (a shared caption decoder trained by two
    parallel reproduction jobs used to refuse the second: WorkDirBusyError)."""
    log, ready = tmp_path / 'log', tmp_path / 'ready'
    holder = subprocess.Popen([sys.executable, '-c', f'''
import importlib.util, time
spec = importlib.util.spec_from_file_location('work_dir_lock', {work_dir_lock.__file__!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
with module.take_turns({str(tmp_path / "decoder")!r}):
    open({str(ready)!r}, 'w').close()
    time.sleep(1.0)
    open({str(log)!r}, 'a').write('first out\\n')
'''])
    while not ready.exists():
        assert holder.poll() is None, 'the holder ended before it took its turn'
    with work_dir_lock.take_turns(str(tmp_path / 'decoder')):
        with open(log, 'a') as f:
            f.write('second in\n')
    assert holder.wait() == 0
    assert log.read_text().splitlines() == ['first out', 'second in']
