"""CMALoss: each term against its formula, gradients, and 2 gloo ranks = 1 process."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gloo import run_gloo
from tiny import tiny_model_cfg
from tpc_cma_mm.models.losses import CMALoss, cma_terms
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import gather_with_grad


def _pairs(n=7, d=5, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = F.normalize(torch.randn(n, d, generator=gen, dtype=dtype), dim=-1)
    y = F.normalize(torch.randn(n, d, generator=gen, dtype=dtype) + 2, dim=-1)
    return x, y


def _reference(x: np.ndarray, y: np.ndarray):
    """Textbook formulas, written with numpy loops."""
    n = len(x)
    mu_x, mu_y = sum(x) / n, sum(y) / n
    cent = float(np.dot(mu_x - mu_y, mu_x - mu_y))
    dist = sum(float(np.sum(((x[i] - mu_x) - (y[i] - mu_y)) ** 2)) for i in range(n)) / n
    s_x = np.cov(x, rowvar=False, bias=True)
    s_y = np.cov(y, rowvar=False, bias=True)
    cov = float(np.linalg.norm(s_x - s_y, 'fro') ** 2)
    return dict(cent=cent, dist=dist, cov=cov)


def test_terms_match_formulas():
    x, y = _pairs()
    terms = cma_terms(x, y)
    ref = _reference(x.numpy(), y.numpy())
    for key in ('cent', 'dist', 'cov'):
        assert terms[key].item() == pytest.approx(ref[key], rel=1e-12), key
    raw2 = (x - y).pow(2).sum(1).mean()
    torch.testing.assert_close(terms['cent'] + terms['dist'], raw2)


def test_weighted_total_and_logged_terms():
    x, y = _pairs()
    out = CMALoss(w_cent=2.0, w_dist=0.5, w_cov=0.0)(x, y)
    ref = _reference(x.numpy(), y.numpy())
    assert out['cma'].item() == pytest.approx(2 * ref['cent'] + 0.5 * ref['dist'])
    assert {k for k in out if 'loss' in k} == set()
    assert out['cma_cov'].item() == pytest.approx(ref['cov'])


def test_half_precision_is_computed_in_float32():
    x, y = _pairs(dtype=torch.float32)
    out = cma_terms(x.bfloat16(), y.bfloat16())
    assert out['cov'].dtype == torch.float32


@pytest.mark.parametrize('key', ['w_cent', 'w_dist', 'w_cov'])
def test_negative_weight_names_the_key(key):
    with pytest.raises(ValueError, match=f'CMALoss.{key}'):
        CMALoss(**{key: -0.1})


def test_cma_gradient_by_finite_differences():
    x, y = _pairs(n=4, d=3)
    x.requires_grad_(True)
    y.requires_grad_(True)
    loss = CMALoss(w_cent=1.0, w_dist=0.7, w_cov=2.0)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b)['cma'], (x, y))


def test_combined_loss_gradient_by_finite_differences():
    """Directional derivative of (1 - a) InfoNCE + a CMA of the whole model."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss', w_cov=3.0),
                                        alpha=0.3)).double()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # zero-initialised tokens make LayerNorm ill-conditioned
        model.visual.cls_token.normal_(std=0.5, generator=gen)
        model.visual.pos_embed.normal_(std=0.5, generator=gen)
    images = torch.randn(4, 3, 16, 16, generator=gen, dtype=torch.float64)
    tokens = model.tokenizer(['a red circle', 'a star', 'a blue ring', 'a small cross'])
    params = [p for p in model.parameters() if p.requires_grad]
    direction = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]

    def total():
        out = model(images, text_tokens=tokens, mode='loss')
        return out['loss_contrastive'] + out['loss_cma']

    grads = torch.autograd.grad(total(), params)
    analytic = sum((g * v).sum() for g, v in zip(grads, direction))
    eps = 1e-6
    with torch.no_grad():
        values = []
        for sign in (1, -1):
            for p, v in zip(params, direction):
                p.add_(sign * eps * v)
            values.append(total())
            for p, v in zip(params, direction):
                p.sub_(sign * eps * v)
    numeric = (values[0] - values[1]) / (2 * eps)
    assert analytic.item() == pytest.approx(numeric.item(), rel=1e-6)


def _dist_inputs():
    return _pairs(n=8, d=6, seed=3)  # float64: two summation orders are compared


# Every distribution term too: each is computed on the gathered batch like the CMA terms.
_DIST_LOSS = dict(w_cent=1.0, w_dist=0.5, w_cov=2.0, extra_terms=[
    dict(type='PairCentroidUniformity', weight=0.3), dict(type='SharedPriorMoments', weight=0.2),
    dict(type='MMDAlignment', weight=0.7)])


def _cma_worker(rank, out_dir):
    x, y = _dist_inputs()
    part = slice(rank * 4, (rank + 1) * 4)
    x_local = x[part].clone().requires_grad_(True)
    y_local = y[part].clone().requires_grad_(True)
    out = CMALoss(**_DIST_LOSS)(gather_with_grad(x_local), gather_with_grad(y_local))
    out['cma'].backward()
    torch.save(dict(terms={k: v.detach() for k, v in out.items()},
                    gx=x_local.grad, gy=y_local.grad),
               os.path.join(out_dir, f'rank{rank}.pt'))


@pytest.mark.slow  # 2 gloo processes
def test_two_gloo_ranks_equal_one_process(tmp_path):
    run_gloo(_cma_worker, str(tmp_path))
    x, y = _dist_inputs()
    x.requires_grad_(True)
    y.requires_grad_(True)
    out = CMALoss(**_DIST_LOSS)(x, y)
    out['cma'].backward()
    assert {'cma_unif', 'cma_prior', 'cma_mmd'} <= set(out)
    for rank in range(2):
        res = torch.load(tmp_path / f'rank{rank}.pt', weights_only=True)
        for key, value in out.items():
            torch.testing.assert_close(res['terms'][key], value.detach(), msg=key)
        # Every rank computes the same global loss; the gather's backward sums
        # over ranks, and DDP's gradient averaging divides by the world size.
        part = slice(rank * 4, (rank + 1) * 4)
        torch.testing.assert_close(res['gx'] / 2, x.grad[part])
        torch.testing.assert_close(res['gy'] / 2, y.grad[part])


def test_distance_terms_are_the_square_roots():
    x, y = _pairs()
    ref = _reference(x.numpy(), y.numpy())
    out = CMALoss(w_cent=2.0, w_dist=0.5, w_cov=3.0, squared=False)(x, y)
    for key in ('cent', 'dist', 'cov'):
        assert out[f'cma_{key}'].item() == pytest.approx(np.sqrt(ref[key]), rel=1e-12), key
    assert out['cma'].item() == pytest.approx(
        2 * np.sqrt(ref['cent']) + 0.5 * np.sqrt(ref['dist']) + 3 * np.sqrt(ref['cov']))
    x.requires_grad_(True)
    y.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, b: CMALoss(squared=False)(a, b)['cma'], (x, y))
    with pytest.raises(ValueError, match='CMALoss.squared'):
        CMALoss(squared='no')


def test_distance_terms_have_finite_gradients_when_aligned():
    x, _ = _pairs()
    x.requires_grad_(True)
    CMALoss(squared=False)(x, x.detach().clone())['cma'].backward()
    assert torch.isfinite(x.grad).all()
