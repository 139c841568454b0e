"""Hostile and real checkpoints shared by the safe-loading tests."""
import os

import pytest
import torch
from mmengine.runner import checkpoint as mmengine_checkpoint

from tiny_runner import run_tiny, tiny_runner_cfg
from tpc_cma_mm.utils import safe_torch_load


class Touch:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture
def touch():
    """The class whose unpickling runs ``touch MARKER``: ``touch(marker)``."""
    return Touch


@pytest.fixture(scope='session')
def real_ckpt(tmp_path_factory):
    """What mmengine 0.10.7 writes: 3 tiny iterations (one per curriculum phase) with validation and the curriculum."""
    work_dir = tmp_path_factory.mktemp('real')
    run_tiny(tiny_runner_cfg(work_dir, max_iters=3, interval=3, val=True))
    return str(work_dir / 'iter_3.pth')


@pytest.fixture
def evil(tmp_path, real_ckpt):
    """A torch checkpoint with real weights plus an object whose unpickling touches a file."""
    marker = tmp_path / 'MARKER'
    path = tmp_path / 'evil.pth'
    state = safe_torch_load(real_ckpt)['state_dict']
    torch.save(dict(state_dict=state, meta=dict(iter=3, epoch=0), payload=Touch(marker)), path)
    return str(path), marker


@pytest.fixture
def loaders_intact():
    """``loaders_intact()``: whether every scheme is served by mmengine's own loader."""

    def intact() -> bool:
        schemes = mmengine_checkpoint.CheckpointLoader._schemes
        return all(loader is getattr(mmengine_checkpoint, loader.__name__, None)
                   for loader in schemes.values())

    return intact
