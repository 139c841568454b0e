"""The one writer of files and folders (tpc_cma_mm/utils/atomic_io.py): atomic, never over
other content unless asked, never through a symbolic link, a full disk in one line, no litter."""
import errno
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch

import tpc_cma_mm.utils.atomic_io as atomic_io
from tpc_cma_mm.apis.runner import errors_as_one_line
from tpc_cma_mm.utils.checkpoint.download import cached_download
from tpc_cma_mm.utils.atomic_io import (DiskFullError, OutputExistsError, SymlinkOutputError,
                                        atomic_folder, atomic_write, write_outputs)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, 'No space left on device')


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_full_disk_is_one_line_naming_path_need_and_free(tmp_path, monkeypatch):
    target = tmp_path / 'metrics.json'
    target.write_bytes(b'old')
    monkeypatch.setattr(atomic_io.os, 'fsync', _disk_full)
    with pytest.raises(DiskFullError) as info:
        write_outputs({str(target): b'x' * 12345}, overwrite=True)
    message = str(info.value)
    assert '\n' not in message and message.startswith('Disk full')
    assert str(target) in message and '12,345 bytes' in message and 'free' in message
    assert info.value.errno == errno.ENOSPC
    assert target.read_bytes() == b'old' and _files(tmp_path) == ['metrics.json']


def test_a_full_disk_inside_a_tool_is_one_line(tmp_path):
    """mmengine's own writes (logs) fail with a bare OSError 28; the tools print one line."""
    log = tmp_path / 'run' / '20261207.log'
    with pytest.raises(SystemExit) as info:
        with errors_as_one_line(str(tmp_path / 'run')):
            raise OSError(errno.ENOSPC, 'No space left on device', str(log))
    assert str(info.value).startswith('error: Disk full: writing') and str(log) in str(info.value)
    assert 'half-written' not in str(info.value)  # mmengine's log is written in place
    with pytest.raises(SystemExit, match='error: Disk full: writing .*12 bytes'):
        with errors_as_one_line(str(tmp_path)):
            raise atomic_io.disk_full_error(str(tmp_path / 'a.json'), 12)
    with pytest.raises(PermissionError):  # other errors pass unchanged
        with errors_as_one_line(str(tmp_path)):
            raise PermissionError(errno.EACCES, 'denied')


def test_symbolic_links_are_never_written_through(tmp_path):
    precious = tmp_path / 'precious.pth'
    precious.write_bytes(b'optimizer state')
    link = tmp_path / 'out.pth'
    link.symlink_to(precious)
    for write in (lambda: atomic_write(str(link), b'new'),
                  lambda: write_outputs({str(link): b'new'}, overwrite=True)):
        with pytest.raises(SymlinkOutputError, match='symbolic link'):
            write()
    folder_link = tmp_path / 'export'
    folder_link.symlink_to(tmp_path)
    with pytest.raises(SymlinkOutputError):
        with atomic_folder(str(folder_link), overwrite=True):
            pass
    assert precious.read_bytes() == b'optimizer state' and link.is_symlink()


def test_write_outputs_refuses_a_folder_and_other_content(tmp_path):
    (tmp_path / 'out').mkdir()
    with pytest.raises(OutputExistsError, match='is a folder'):
        write_outputs({str(tmp_path / 'out'): b'1'}, overwrite=True)
    atomic_io.refuse_existing([str(tmp_path / 'none.json')])
    with pytest.raises(OutputExistsError, match='Nothing was written.*--overwrite'):
        atomic_io.refuse_existing([str(tmp_path / 'out')])


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def test_leftovers_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    host = socket.gethostname()
    dead = tmp_path / f'.result.json.{host}-{_dead_pid()}.abc123.partial'
    dead.write_bytes(b'torn')
    dead_folder = tmp_path / f'.result.json.{host}-{_dead_pid()}.def456.partial'
    dead_folder.mkdir()
    (dead_folder / 'config.json').write_text('{}')
    live = tmp_path / f'.result.json.{host}-{os.getpid()}.ghi789.partial'  # a writer at work
    live.write_bytes(b'in progress')
    other_host = tmp_path / f'.result.json.otherhost-{_dead_pid()}.jkl012.partial'
    other_host.write_bytes(b'a writer on another machine (shared file system)')
    atomic_write(str(tmp_path / 'result.json'), b'{}')
    assert _files(tmp_path) == sorted([live.name, other_host.name, 'result.json'])


def test_folder_is_refused_replaced_whole_and_left_untouched_on_failure(tmp_path, monkeypatch):
    out = tmp_path / 'clip_hf'
    out.mkdir()
    (out / 'config.json').write_text('theirs')
    with pytest.raises(OutputExistsError, match='not empty.*--overwrite'):
        with atomic_folder(str(out)) as tmp:
            raise AssertionError('never reached: refused before anything is written')
    with pytest.raises(RuntimeError, match='failed'):
        with atomic_folder(str(out), overwrite=True) as tmp:
            (open(os.path.join(tmp, 'config.json'), 'w')).close()
            raise RuntimeError('export failed')
    assert _files(tmp_path) == ['clip_hf'] and (out / 'config.json').read_text() == 'theirs'
    with atomic_folder(str(out), overwrite=True) as tmp:
        with open(os.path.join(tmp, 'model.safetensors'), 'wb') as f:
            f.write(b'weights')
    assert _files(out) == ['model.safetensors'] and _files(tmp_path) == ['clip_hf']
    monkeypatch.setattr(atomic_io.os, 'fsync', _disk_full)
    with pytest.raises(DiskFullError, match=f'Disk full: writing {tmp_path / "new"} needs more '
                       'than 7 bytes'):
        with atomic_folder(str(tmp_path / 'new')) as tmp:
            with open(os.path.join(tmp, 'config.json'), 'wb') as f:
                f.write(b'{"a": 1}'[:7])
    assert _files(tmp_path) == ['clip_hf']


# atomic_io is standard library only: loaded by path, the writer starts in a blink.
FOLDER_WRITER = '''
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location('atomic_io', sys.argv[2])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
with module.atomic_folder(sys.argv[1]) as tmp:
    open(os.path.join(tmp, 'config.json'), 'w').write('{}')
    print('half written', flush=True)
    time.sleep(600)
'''


def test_a_folder_killed_mid_write_leaves_no_folder_and_the_rerun_succeeds(tmp_path):
    """Before, a killed HF export left a folder with only config.json, which the rerun refused."""
    out = tmp_path / 'clip_hf'
    child = subprocess.Popen([sys.executable, '-c', FOLDER_WRITER, str(out),
                              atomic_io.__file__],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == 'half written'
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not out.exists()
    assert [p.name.endswith('.partial') for p in tmp_path.iterdir()] == [True]  # recognisable
    with atomic_folder(str(out)) as tmp:
        open(os.path.join(tmp, 'config.json'), 'w').write('{"whole": true}')
    assert _files(tmp_path) == ['clip_hf'] and _files(out) == ['config.json']


def test_a_full_disk_while_downloading_a_checkpoint_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, 'download_url_to_file',
                        lambda url, dst, progress=True: _disk_full())
    with pytest.raises(DiskFullError, match=r'Disk full: writing .*by_url.*clip\.pth needs more '
                       'space; .* bytes are free'):
        cached_download('https://example.com/clip.pth')
