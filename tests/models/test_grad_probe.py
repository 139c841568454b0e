"""GradProbe: per-loss gradient norms, PCGrad correction, and DDP = 1 process.

The probe is the model's (``model.grad_probe``); a step asks for it with
``objective.set_schedule(probe=True)`` and its numbers leave the step in the loss dict."""
import os

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gloo import run_gloo
from tiny import tiny_model_cfg
from tpc_cma_mm.models.objectives.grad_probe import GradProbe, select_params
from tpc_cma_mm.registry import MODELS

BATCH = 4


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
        self.other = nn.Parameter(torch.ones(2, dtype=torch.float64))


def _linear_losses(module, a, b):
    # loss_con has gradient a, loss_cma gradient b with respect to w
    con = (module.w * torch.tensor(a, dtype=torch.float64)).sum() + module.other.sum()
    cma = (module.w * torch.tensor(b, dtype=torch.float64)).sum() ** 1
    return con, cma


def _pcgrad(a, b, alpha):
    """PCGrad of (1 - alpha) a + alpha b, written out independently."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a_proj = a - min(a @ b, 0) / (b @ b) * b
    b_proj = b - min(a @ b, 0) / (a @ a) * a
    return (1 - alpha) * a_proj + alpha * b_proj


def test_norms_and_cosine():
    module, probe = Linear(), GradProbe(['w'])
    a, b = [1.0, 2.0, 2.0], [0.0, 3.0, 4.0]
    measured = probe.measure(module, *_linear_losses(module, a, b))
    logged = measured.log_vars()
    assert logged['probe_grad_con'].item() == pytest.approx(3.0)
    assert logged['probe_grad_cma'].item() == pytest.approx(5.0)
    assert logged['probe_grad_cos'].item() == pytest.approx(14 / 15)
    assert {k for k in logged if 'loss' in k} == set()  # logged, never summed


@pytest.mark.parametrize('a,b,alpha', [([1.0, 2.0, 2.0], [-1.0, -1.0, 3.0], 0.3),
                                       ([1.0, 0.0, 0.0], [-2.0, 1.0, 0.0], 0.9),
                                       ([1.0, 2.0, 2.0], [-1.0, -1.0, 3.0], 0.0),
                                       ([1.0, 2.0, 2.0], [0.0, 3.0, 4.0], 0.5)])
def test_pcgrad_gradient(a, b, alpha):
    module, probe = Linear(), GradProbe(['w'], pcgrad=True)
    con, cma = _linear_losses(module, a, b)
    extra = probe.pcgrad_term(probe.measure(module, con, cma), 1 - alpha, alpha)
    total = (1 - alpha) * con + alpha * cma + extra
    total.backward()
    assert float(extra) == 0.0
    expected = _pcgrad(a, b, alpha) if alpha > 0 else np.asarray(a)
    np.testing.assert_allclose(module.w.grad.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(module.other.grad.numpy(), (1 - alpha) * np.ones(2))


def test_bad_names_raise():
    with pytest.raises(ValueError, match='grad_probe.params'):
        select_params(Linear(), ['nothing'])
    assert [n for n, _ in select_params(Linear(), ['w', 'oth'])] == ['w']
    with pytest.raises(ValueError, match=r'model.grad_probe.params \['):  # at build time
        MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss'),
                                    grad_probe=dict(params=['nothing'])))
    with pytest.raises(ValueError, match='model.grad_probe.pcgrad'):
        GradProbe(pcgrad='yes')


def _build():
    torch.manual_seed(0)
    # float64: the DDP test compares two summation orders (tests/models/losses/test_gathered_ddp.py)
    return MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss'), alpha=0.4,
                                       grad_probe=dict(pcgrad=True))).double()


def _inputs(model):
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(2 * BATCH, 3, 16, 16, generator=gen, dtype=torch.float64)
    captions = [f'a {c} {s}' for c in ('red', 'blue') for s in ('circle', 'star', 'ring', 'cross')]
    return images, model.tokenizer(captions)


def test_probe_matches_separate_backward_passes():
    model = _build()
    images, tokens = _inputs(model)
    params = [p for _, p in select_params(model, ('visual_proj', 'text_projection'))]
    norms = []
    for key in ('contrastive_raw', 'cma'):
        model.zero_grad()
        out = model(images, text_tokens=tokens, mode='loss')
        raw = out['loss_contrastive'] / 0.6 if key == 'contrastive_raw' else out['loss_cma'] / 0.4
        raw.backward()
        norms.append(torch.cat([p.grad.reshape(-1) for p in params]).double())
    assert not any(k.startswith('probe_') for k in out)  # not asked: not measured
    model.objective.set_schedule(alpha=0.4, probe=True)
    stats = model(images, text_tokens=tokens, mode='loss')
    assert stats['probe_grad_con'].item() == pytest.approx(norms[0].norm().item(), rel=1e-5)
    assert stats['probe_grad_cma'].item() == pytest.approx(norms[1].norm().item(), rel=1e-5)
    cos = (norms[0] @ norms[1] / norms[0].norm() / norms[1].norm()).item()
    assert stats['probe_grad_cos'].item() == pytest.approx(cos, rel=1e-5, abs=1e-6)


def _step(model, images, tokens, ddp=None):
    model.objective.set_schedule(alpha=0.4, probe=True)
    out = (ddp or model)(images, text_tokens=tokens, mode='loss')
    (out['loss_contrastive'] + out['loss_cma']).backward()
    stats = {k: v.item() for k, v in out.items() if k.startswith('probe_')}
    assert len(stats) == 3
    return stats, {n: p.grad.clone() for n, p in model.named_parameters()
                   if p.grad is not None}


def _worker(rank, out_dir):
    model = _build()
    images, tokens = _inputs(model)
    part = slice(rank * BATCH, (rank + 1) * BATCH)
    stats, grads = _step(model, images[part], tokens[part], DistributedDataParallel(model))
    torch.save(dict(stats=stats, grads=grads),
               os.path.join(out_dir, f'rank{rank}.pt'))


@pytest.mark.slow  # 2 gloo processes
def test_ddp_probe_equals_one_process(tmp_path):
    """Probe numbers and (PCGrad-corrected) DDP gradients equal one process x 2B."""
    run_gloo(_worker, str(tmp_path))
    model = _build()
    stats, grads = _step(model, *_inputs(model))
    for rank in range(2):
        res = torch.load(tmp_path / f'rank{rank}.pt', weights_only=True)
        for key, value in stats.items():
            assert res['stats'][key] == pytest.approx(value, rel=1e-10, abs=1e-12), key
        for name, grad in grads.items():
            torch.testing.assert_close(res['grads'][name], grad, rtol=1e-10, atol=1e-12,
                                       msg=name)
