import itertools

import numpy as np
import pytest
import torch
from scipy import stats

from tpc_cma_lab.study.pool import bootstrap_r_squared, r_squared_difference
from tpc_cma_lab.study.pool_stats import (cluster_draws, draw_r_squared, duplicate_points,
                                          leave_one_group_out, partial_correlation,
                                          permutation_p_value, spread)
from tpc_cma_mm.evaluation.functional.gaps import gap_metrics


def test_duplicates_are_rows_equal_within_the_tolerance_to_an_earlier_row():
    rows = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0 + 1e-8], [3.0, 4.1], [1.0, 2.0],
                     [np.nan, 0.0], [np.nan, 0.0]])
    assert duplicate_points(rows, atol=1e-6) == {0: [2, 4]}
    assert duplicate_points(rows, atol=0.2) == {0: [2, 4], 1: [3]}
    assert duplicate_points(rows[:2]) == {}


def test_cluster_draws_bring_whole_groups_and_are_the_bootstrap_for_one_point_each():
    groups = ['a', 'b', 'a', 'c', 'b', 'a']
    for draw in cluster_draws(groups, 50, seed=3):
        drawn = [groups[i] for i in draw]
        # 3 groups drawn; each drawn group with all its points (a has 3, b 2, c 1).
        assert drawn.count('a') % 3 == 0 and drawn.count('b') % 2 == 0
        assert drawn.count('a') // 3 + drawn.count('b') // 2 + drawn.count('c') == 3
    expected = np.random.default_rng(3).integers(4, size=(50, 4))
    assert np.array_equal(np.stack(cluster_draws(range(4), 50, seed=3)), expected)


def test_copies_of_each_model_leave_the_model_bootstrap_as_if_one_point_each():
    """R² of k identical copies of each point is R² of the points, and so is each
    model resample; resampling the copies as if independent narrows the interval."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=10)
    y = 0.5 * x + rng.normal(size=10)
    copies = np.repeat(np.arange(10), 5)
    by_model = bootstrap_r_squared(x[copies], y[copies], num_resamples=400, groups=copies)
    by_point = bootstrap_r_squared(x, y, num_resamples=400)
    for key in ('r2', 'low', 'high'):
        assert by_model[key] == pytest.approx(by_point[key])
    by_run = bootstrap_r_squared(x[copies], y[copies], num_resamples=400)
    assert by_run['high'] - by_run['low'] < (by_point['high'] - by_point['low']) / 1.5
    with pytest.raises(ValueError, match='one group per point'):
        bootstrap_r_squared(x, y, groups=copies)


def test_permutation_p_value_matches_the_exact_one_over_every_pairing():
    rng = np.random.default_rng(9)
    x = rng.normal(size=7)
    y = x + rng.normal(size=7)
    observed = abs(stats.pearsonr(x, y).statistic)
    exact = np.mean([abs(stats.pearsonr(x, y[list(p)]).statistic) >= observed - 1e-12
                     for p in itertools.permutations(range(7))])  # all 5040 pairings
    ours = permutation_p_value(x, y, num_permutations=20000, seed=0)
    assert 0.02 < exact < 0.5  # neither end, where a random estimate cannot miss
    assert ours == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 20000))
    # A perfect line over 30 points: no random pairing reaches it, the observed one counts.
    assert permutation_p_value(np.arange(30.0), -np.arange(30.0), 999) == 1 / 1000
    assert np.isnan(permutation_p_value([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


def test_leave_one_group_out_against_a_loop_with_scipy():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=12), rng.normal(size=12)
    groups = ['a', 'b', 'c', 'd'] * 3
    out = leave_one_group_out(x, y, groups)
    assert list(out) == ['a', 'b', 'c', 'd']
    for name, value in out.items():
        keep = [i for i, g in enumerate(groups) if g != name]
        assert value == pytest.approx(stats.pearsonr(x[keep], y[keep]).statistic ** 2)


def test_partial_correlation_is_the_correlation_of_the_residuals():
    rng = np.random.default_rng(7)
    z = rng.normal(size=40)
    x, y = z + rng.normal(size=40), -z + 0.3 * rng.normal(size=40)

    def residual(v):
        design = np.stack([z, np.ones_like(z)], axis=1)
        return v - design @ np.linalg.lstsq(design, v, rcond=None)[0]

    assert partial_correlation(x, y, z) == pytest.approx(
        stats.pearsonr(residual(x), residual(y)).statistic)


def test_spread_from_stored_keys_is_the_root_of_the_summed_covariance_traces():
    torch.manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(200, 8) + 1, dim=1)
    text = torch.nn.functional.normalize(torch.randn(200, 8) * 0.5 - 1, dim=1)
    metrics = {f'gap/{k}': v for k, v in gap_metrics(img, text, max_mmd_samples=0).items()}
    traces = [np.trace(np.cov(e.numpy().T, bias=True)) for e in (img, text)]
    assert spread(metrics) == pytest.approx(np.sqrt(sum(traces)), rel=1e-5)
    assert np.isnan(spread({'gap/distribution': 0.0, 'gap/distribution_rel': 0.0}))


def test_r_squared_difference_is_the_difference_with_an_interval_over_models():
    rng = np.random.default_rng(8)
    results = {}
    for i in range(24):
        a = float(rng.normal())
        results[str(i)] = dict(kind='finetune', pretrained=f'm{i % 8}', spec={}, metrics={
            'gap/a': a, 'gap/b': float(rng.normal()), 'task': a + 0.5 * float(rng.normal())})
    out = r_squared_difference(results, 'task', 'gap/a', 'gap/b', num_resamples=300)
    columns = {k: [e['metrics'][k] for e in results.values()] for k in ('gap/a', 'gap/b', 'task')}
    expected = (stats.linregress(columns['gap/a'], columns['task']).rvalue ** 2 -
                stats.linregress(columns['gap/b'], columns['task']).rvalue ** 2)
    assert out['difference'] == pytest.approx(expected)
    assert 0 < out['low'] < out['difference'] < out['high']


@pytest.mark.parametrize('groups', [list(range(12)), [i // 3 for i in range(12)],
                                    [0, 0, 1, 2, 2, 2, 3, 4, 4, 5, 6, 6]])
def test_each_resample_r_squared_is_np_corrcoef_s(groups):
    """Scored at once where the resamples have one length (equal groups), one by one
    where they do not; a resample with a constant side is nan."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=12), rng.normal(size=12)
    x[:3] = 0.5  # some resamples hold group 0 only in x's constant rows
    draws = cluster_draws(groups, 400, seed=0) + [np.array([0, 1, 2, 0])]
    values = draw_r_squared(x, y, draws)
    for draw, value in zip(draws, values):
        if np.ptp(x[draw]) == 0:
            assert np.isnan(value)
        else:
            assert value == pytest.approx(np.corrcoef(x[draw], y[draw])[0, 1] ** 2, abs=1e-12)
