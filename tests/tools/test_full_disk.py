"""A full disk during tools/train.py or tools/test.py --out: one line naming the file, the
bytes it needs and the bytes free (before: a raw OSError 28 traceback). The disk is
'filled' by making fsync fail with ENOSPC, as a full file system reports it."""
import errno

import pytest

import tpc_cma_mm.utils.atomic_io as atomic_io
from tiny_runner import tiny_runner_cfg, write_config
from tool_runner import load_tool


def _disk_full(fd):
    raise OSError(errno.ENOSPC, 'No space left on device')


@pytest.mark.slow
def test_a_full_disk_in_train_and_test_out_is_one_line(tmp_path, monkeypatch):
    work = tmp_path / 'work'
    config = write_config(tmp_path / 'tiny.py', tiny_runner_cfg(work, max_iters=1, interval=1,
                                                                 curriculum=False))
    load_tool('tools/train.py').main([config, '--work-dir', str(work)])
    ckpt = work / 'iter_1.pth'
    monkeypatch.setattr(atomic_io.os, 'fsync', _disk_full)
    out = tmp_path / 'metrics.json'
    with pytest.raises(SystemExit) as info:
        load_tool('tools/test.py').main([config, str(ckpt), '--work-dir', str(tmp_path / 'eval'),
                            '--out', str(out), '--out-item', 'metrics'])
    message = str(info.value)
    assert message.startswith(f'error: Disk full: writing {out} needs ') and '\n' not in message
    assert 'bytes are free' in message and not out.exists()
    again = tmp_path / 'again'
    with pytest.raises(SystemExit) as info:
        load_tool('tools/train.py').main([config, '--work-dir', str(again)])
    assert str(info.value).startswith(f'error: Disk full: writing {again / "iter_1.pth"} needs ')
    assert not (again / 'iter_1.pth').exists()
    assert not [p for p in again.iterdir() if p.name.endswith('.partial')]
