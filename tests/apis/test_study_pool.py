import numpy as np
import pytest
from scipy import stats

from tpc_cma_mm.apis.study.pool import bootstrap_r_squared, pool_r_squared


def test_r_squared_equals_scipy_linregress_and_the_interval_holds_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = 0.8 * x + rng.normal(scale=0.5, size=40)
    out = bootstrap_r_squared(x, y, num_resamples=500)
    assert out['r2'] == pytest.approx(stats.linregress(x, y).rvalue ** 2)
    assert out['low'] < out['r2'] < out['high'] and out['resamples_used'] == 500


def test_interval_narrows_with_more_models_and_flags_no_relation():
    rng = np.random.default_rng(1)
    widths = []
    for n in (12, 200):
        x = rng.normal(size=n)
        out = bootstrap_r_squared(x, x + rng.normal(size=n), num_resamples=400)
        widths.append(out['high'] - out['low'])
    assert widths[1] < widths[0] / 2
    x = rng.normal(size=200)
    unrelated = bootstrap_r_squared(x, rng.normal(size=200), num_resamples=400)
    assert unrelated['high'] < 0.1


def test_pool_r_squared_reads_every_model_but_not_wise_mixes():
    results = {str(i): dict(kind='finetune', metrics={'gap/a': float(i), 'task': 2.0 * i})
               for i in range(5)}
    results['w'] = dict(kind='wise', metrics={'gap/a': 0.0, 'task': 99.0})
    assert pool_r_squared(results, 'task', ['gap/a'], num_resamples=50)['gap/a']['r2'] == \
        pytest.approx(1.0)
    with pytest.raises(KeyError, match='missing'):
        pool_r_squared(results, 'task', ['gap/b'])


@pytest.mark.parametrize('x, y, level, message', [
    ([1, 2], [1, 2], 0.95, 'length >= 3'), ([1, 2, 3], [1, 2], 0.95, 'one length'),
    ([1, 2, 3], [1, 2, 4], 1.5, r'\(0, 1\)')])
def test_bad_input_names_the_problem(x, y, level, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_r_squared(x, y, level=level)
