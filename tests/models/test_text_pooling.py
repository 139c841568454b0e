"""The text tower pooled inside its last block equals the full sequence, then pooled."""
import pytest
import torch

from tpc_cma_mm.models import TextTransformer


@pytest.mark.parametrize('checkpointing', [False, True])
def test_pooled_last_block_matches_full_sequence(checkpointing):
    torch.manual_seed(0)
    tower = TextTransformer(width=32, layers=3, heads=4, grad_checkpointing=checkpointing)
    tower.double().train()  # float64: equal up to rounding, checked tightly
    x = torch.randn(5, 9, 32, requires_grad=True, dtype=torch.float64)
    index = torch.tensor([8, 0, 3, 8, 5])
    rows = torch.arange(5)

    full = tower(x)[rows, index]
    g_full = torch.autograd.grad(full.square().sum(), [x, *tower.parameters()])
    pooled = tower(x, pool_index=index)
    g_pooled = torch.autograd.grad(pooled.square().sum(), [x, *tower.parameters()])

    torch.testing.assert_close(pooled, full, rtol=1e-10, atol=1e-12)
    for a, b in zip(g_pooled, g_full):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-12)

