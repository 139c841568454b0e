"""Loss combinations: weights, the cap each implies, and grad_share's share by autograd."""
import pytest
import torch

from tiny import tiny_model_cfg
from tpc_cma_mm.models.objectives.grad_probe import select_params
from tpc_cma_mm.models.objectives import alpha_cap, loss_weights
from tpc_cma_mm.registry import MODELS

PROBED = ('visual_proj', 'text_projection')


def test_weights_of_each_combination():
    assert loss_weights('convex', 0.3) == (0.7, 0.3)
    assert loss_weights('additive', 0.3) == (1.0, 0.3)
    assert loss_weights('grad_share', 0.3, 2.0, 8.0) == pytest.approx((0.7, 0.3 * 2.0 / 8.0))
    assert loss_weights('grad_share', 0.3, 2.0, 0.0) == (0.7, 0.0)
    with pytest.raises(ValueError, match='grad_share.*gradient'):
        loss_weights('grad_share', 0.3)
    with pytest.raises(ValueError, match='model.combine'):
        MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss'), combine='sum'))


@pytest.mark.parametrize('combine', ['convex', 'additive', 'grad_share'])
@pytest.mark.parametrize('g_con,g_cma,gamma', [(1.0, 100.0, 2.0), (3.0, 1.0, 1.0),
                                               (0.5, 0.2, 0.5)])
def test_cap_is_the_largest_alpha_within_the_bound(combine, g_con, g_cma, gamma):
    """Bisection on the bound w_cma(a) |g_cma| <= gamma w_con(a) |g_con| itself."""
    def within(a):
        w_con, w_cma = loss_weights(combine, a, g_con, g_cma)
        return w_cma * g_cma <= gamma * w_con * g_con + 1e-12

    low, high = 0.0, 1.0
    if within(1.0):
        low = 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if within(mid) else (low, mid)
    assert alpha_cap(combine, g_con, g_cma, gamma) == pytest.approx(low, abs=1e-9)


def _model(combine, alpha):
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss'), combine=combine,
                                       alpha=alpha))


def _grad_norm(loss, params):
    grads = torch.autograd.grad(loss, params, retain_graph=True)
    return torch.cat([g.reshape(-1) for g in grads]).double().norm().item()


@pytest.mark.parametrize('alpha', [0.1, 0.5, 0.8])
def test_grad_share_gives_alignment_its_share_of_the_update(alpha):
    model = _model('grad_share', alpha)
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(6, 3, 16, 16, generator=gen)
    tokens = model.tokenizer([f'a {c} star' for c in 'abcdef'])
    out = model(images, text_tokens=tokens, mode='loss')
    params = [p for _, p in select_params(model, PROBED)]
    con = _grad_norm(out['loss_contrastive'], params)
    cma = _grad_norm(out['loss_cma'], params)
    # Independent: the norms of the two summed terms' gradients, by autograd.
    assert cma / (con + cma) == pytest.approx(alpha, rel=1e-5)
    assert cma / con == pytest.approx(alpha / (1 - alpha), rel=1e-5)
    # The probe's norm is the raw contrastive gradient's (w_con = 1 - alpha).
    assert out['probe_grad_con'].item() == pytest.approx(con / (1 - alpha), rel=1e-5)
    assert out['cma_weight'].item() == pytest.approx(
        alpha * out['probe_grad_con'].item() / out['probe_grad_cma'].item(), rel=1e-5)


def test_additive_and_convex_weights_in_the_model():
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(4, 3, 16, 16, generator=gen)
    outs = {}
    for combine in ('convex', 'additive'):
        model = _model(combine, 0.25)
        outs[combine] = model(images, text_tokens=model.tokenizer(['a', 'b', 'c', 'd']),
                              mode='loss')
    raw = outs['convex']['contrastive_raw']
    torch.testing.assert_close(outs['convex']['loss_contrastive'], 0.75 * raw)
    torch.testing.assert_close(outs['additive']['loss_contrastive'], raw)
    torch.testing.assert_close(outs['additive']['loss_cma'], outs['convex']['loss_cma'])
    assert outs['additive']['cma_weight'].item() == 0.25
