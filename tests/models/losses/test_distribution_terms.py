"""Distribution terms: each against a formula written with loops or another library path,
and their place in CMALoss (total, logging, refusals, gradients)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tpc_cma_mm.evaluation.functional.gaps import mmd_rbf
from tpc_cma_mm.models.losses import (CMALoss, MMDAlignment, PairCentroidUniformity,
                                      SharedPriorMoments, cma_terms)
from tpc_cma_mm.registry import MODELS


def _pairs(n=9, d=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = F.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64), dim=-1)
    y = F.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64) + 1.5, dim=-1)
    return x, y


def test_pair_centroid_uniformity_matches_loops():
    x, y = _pairs()
    m = ((x + y) / 2).numpy()
    n, t = len(m), 2.0
    values = [math.exp(-t * float(np.sum((m[i] - m[j]) ** 2)))
              for i in range(n) for j in range(n) if i != j]
    expected = math.log(sum(values) / len(values))
    assert PairCentroidUniformity(t=t)(x, y).item() == pytest.approx(expected, rel=1e-12)


def test_shared_prior_moments_matches_numpy():
    x, y = _pairs()
    d = x.shape[1]
    expected = 0.0
    for e in (x.numpy(), y.numpy()):
        expected += float(np.sum(e.mean(0) ** 2))
        expected += float(np.linalg.norm(np.cov(e, rowvar=False, bias=True) - np.eye(d) / d,
                                         'fro') ** 2)
    assert SharedPriorMoments()(x, y).item() == pytest.approx(expected, rel=1e-12)


def test_shared_prior_moments_is_zero_at_the_prior_moments():
    # +-e_k in every direction: mean 0, covariance I / d.
    d = 4
    points = torch.cat([torch.eye(d), -torch.eye(d)]).double()
    assert SharedPriorMoments()(points, points).item() == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize('seed', [0, 1])
def test_mmd_alignment_is_the_square_of_the_metric(seed):
    # The metric (float64 blocks, Gram-form distances) returns sqrt(max(MMD^2_u, 0)).
    x, y = _pairs(n=40, seed=seed)
    value = MMDAlignment()(x, y).item()
    assert value > 0
    assert math.sqrt(value) == pytest.approx(mmd_rbf(x, y), rel=1e-9)


def test_terms_in_cma_loss_add_with_their_weights_and_are_logged():
    x, y = _pairs()
    loss = CMALoss(w_cov=3.0, extra_terms=[dict(type='PairCentroidUniformity', weight=0.5),
                                           dict(type='MMDAlignment', weight=2.0)])
    out = loss(x, y)
    base = cma_terms(x, y)
    unif = PairCentroidUniformity()(x, y)
    mmd = MMDAlignment()(x, y)
    expected = base['cent'] + base['dist'] + 3.0 * base['cov'] + 0.5 * unif + 2.0 * mmd
    assert out['cma'].item() == pytest.approx(expected.item(), rel=1e-12)
    assert out['cma_unif'].item() == pytest.approx(unif.item(), rel=1e-12)
    assert out['cma_mmd'].item() == pytest.approx(mmd.item(), rel=1e-12)
    assert set(out) == {'cma', 'cma_cent', 'cma_dist', 'cma_cov', 'cma_unif', 'cma_mmd'}


@pytest.mark.parametrize('term', ['PairCentroidUniformity', 'SharedPriorMoments',
                                  'MMDAlignment'])
def test_each_term_passes_a_finite_gradient_to_both_towers(term):
    x, y = (e.clone().requires_grad_() for e in _pairs())
    out = CMALoss(w_cent=0.0, w_dist=0.0, w_cov=0.0, extra_terms=[dict(type=term)])(x, y)
    out['cma'].backward()
    for grad in (x.grad, y.grad):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_half_precision_inputs_are_scored_in_float32():
    x, y = _pairs()
    loss = CMALoss(extra_terms=[dict(type='SharedPriorMoments')])
    half = loss(x.bfloat16(), y.bfloat16())['cma_prior']
    assert half.dtype == torch.float32
    exact = SharedPriorMoments()(x.bfloat16().double(), y.bfloat16().double())
    assert half.item() == pytest.approx(exact.item(), rel=1e-5)


@pytest.mark.parametrize('extra, message', [
    (dict(type='PairCentroidUniformity'), 'must be a list'),
    ([dict(type='ContrastiveLoss')], 'is not a distribution term'),
    ([dict(type='MMDAlignment'), dict(type='MMDAlignment')], 'given twice'),
    ([dict(type='MMDAlignment', weight=-1.0)], 'weight must be a finite non-negative'),
    ([dict(type='PairCentroidUniformity', t=0)], 't must be a finite positive'),
])
def test_bad_extra_terms_are_refused_by_name(extra, message):
    with pytest.raises(ValueError, match=message):
        CMALoss(extra_terms=extra)


def test_built_from_a_config_with_no_state():
    loss = MODELS.build(dict(type='CMALoss',
                             extra_terms=[dict(type='SharedPriorMoments', weight=0.1)]))
    assert loss.extra_terms[0].weight == 0.1
    # no parameter or buffer: models with extra terms keep the checkpoint layout
    assert loss.state_dict() == {}


def test_too_few_pairs_are_refused():
    x, y = _pairs(n=1)
    with pytest.raises(ValueError, match='N >= 2'):
        MMDAlignment()(x, y)
