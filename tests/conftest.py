import pytest
import torch

from tiny import tiny_model_cfg
from tpc_cma_mm.registry import MODELS


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg())
