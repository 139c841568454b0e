"""R²(distribution) - R²(raw) with an interval over resampled variants (tpc_cma_lab.r2_difference)."""
import numpy as np
import pytest

from tpc_cma_lab.r2_difference import LEVEL, RESAMPLES, SEED, r_squared_difference
from tpc_cma_lab.study.pool_stats import cluster_draws


def _r2(x, y):
    """R² of a least-squares line, by np.polyfit (independent of the module's formula)."""
    residual = y - np.polyval(np.polyfit(x, y, 1), x)
    return 1 - (residual ** 2).sum() / ((y - y.mean()) ** 2).sum()


def _results(rng, duplicate=True):
    out = {}
    for v in range(6):
        for seed in range(2):
            distribution, raw = rng.normal(size=2)
            ari = 0.8 * distribution + 0.3 * rng.normal()
            out[f'model {v} | seed {seed}'] = dict(variant=f'model {v}', metrics={
                'gap/distribution': distribution, 'gap/raw': raw, 'clustering/ari_class': ari})
    if duplicate:  # a post-hoc fix scoring model 0's embeddings: its points repeat model 0's
        for seed in range(2):
            out[f'posthoc copy | seed {seed}'] = dict(
                out[f'model 0 | seed {seed}'], variant='posthoc copy')
    return out


def test_the_difference_and_its_interval_over_resampled_variants():
    results = _results(np.random.default_rng(1))
    found = r_squared_difference(results)
    runs = list(results.values())
    x1, x2, y = (np.array([e['metrics'][k] for e in runs]) for k in (
        'gap/distribution', 'gap/raw', 'clustering/ari_class'))
    assert found['difference'] == pytest.approx(_r2(x1, y) - _r2(x2, y), abs=1e-12)
    # The copy counts with model 0 as one cluster: 6 clusters, not 7.
    assert found['clusters'] == 6 and found['resamples'] == RESAMPLES
    groups = [e['variant'] if e['variant'] != 'posthoc copy' else 'model 0' for e in runs]
    diffs = [_r2(x1[d], y[d]) - _r2(x2[d], y[d]) for d in cluster_draws(groups, RESAMPLES, SEED)]
    tail = 100 * (1 - LEVEL) / 2
    assert found['interval'] == pytest.approx(tuple(np.percentile(diffs, [tail, 100 - tail])),
                                              abs=1e-9)
    assert found['interval'][0] > 0  # ARI follows the distribution gap, not the raw one


def test_too_few_runs_give_nothing():
    results = dict(list(_results(np.random.default_rng(0), duplicate=False).items())[:2])
    assert r_squared_difference(results) is None
