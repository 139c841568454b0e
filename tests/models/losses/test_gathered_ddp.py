"""2 gloo ranks x batch B give the loss and gradients of 1 process x batch 2B.

In float64: the two layouts sum in different orders, and float32 rounding of
gradients of magnitude ~1e4 differs between CPUs by more than any fixed
tolerance that still detects a wrong gradient (docs/reliability.md).
"""
import os

import pytest
import torch
from torch.nn.parallel import DistributedDataParallel

from gloo import run_gloo
from tiny import tiny_model_cfg
from tpc_cma_mm.registry import MODELS

pytestmark = pytest.mark.slow  # 2 gloo processes

BATCH = 4


def _build(alpha):
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss'), alpha=alpha)).double()


def _inputs(model):
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(2 * BATCH, 3, 16, 16, generator=gen, dtype=torch.float64)
    captions = [f'a {c} {s}' for c in ('red', 'blue') for s in ('circle', 'star', 'ring', 'cross')]
    return images, model.tokenizer(captions)


def _total_loss(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def _worker(rank, alpha, out_dir):
    model = _build(alpha)
    images, tokens = _inputs(model)
    part = slice(rank * BATCH, (rank + 1) * BATCH)
    ddp = DistributedDataParallel(model)
    loss = _total_loss(ddp(images[part], text_tokens=tokens[part], mode='loss'))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    torch.save(dict(loss=loss.detach(), grads=grads), os.path.join(out_dir, f'rank{rank}.pt'))


def _check(alpha, tmp_path):
    run_gloo(_worker, alpha, str(tmp_path))
    model = _build(alpha)
    images, tokens = _inputs(model)
    loss = _total_loss(model(images, text_tokens=tokens, mode='loss'))
    loss.backward()
    for rank in range(2):
        result = torch.load(tmp_path / f'rank{rank}.pt', weights_only=True)
        torch.testing.assert_close(result['loss'], loss.detach(), rtol=1e-10, atol=1e-12)
        assert result['grads'].keys() == {
            n for n, p in model.named_parameters() if p.grad is not None}
        for name, param in model.named_parameters():
            if param.grad is not None:
                torch.testing.assert_close(result['grads'][name], param.grad,
                                           rtol=1e-10, atol=1e-12, msg=name)


def test_contrastive_two_ranks_equal_one_process(tmp_path):
    _check(0.0, tmp_path)


def test_contrastive_plus_cma_two_ranks_equal_one_process(tmp_path):
    _check(0.3, tmp_path)
