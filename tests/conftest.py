import os

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
