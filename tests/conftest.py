import os
import os.path as osp
import subprocess
import sys

# Tiny models on a small CPU: one thread avoids oversubscription, and the
# tool subprocesses the tests start inherit the setting.
os.environ.setdefault('OMP_NUM_THREADS', '1')

import pytest
import torch

from tiny import tiny_model_cfg
from tpc_cma_mm.registry import MODELS

torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg())


@pytest.fixture(scope='session')
def fresh_api_import():
    """``import tpc_cma_mm.apis`` (the plugin first) in a fresh interpreter, as a user's
    first import: stderr holds its warnings, stdout the matplotlib and tpc_cma_lab modules
    it loaded. One process for the tests that need one: each pays torch + mmpretrain."""
    check = ('import sys, tpc_cma_mm.apis; '
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('matplotlib', 'tpc_cma_lab')))")
    return subprocess.run([sys.executable, '-c', check], cwd=osp.dirname(osp.dirname(__file__)),
                          capture_output=True, text=True, timeout=600)
