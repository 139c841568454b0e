"""Long-run soundness: 200 iterations with the curriculum stay finite and in bounds."""
import math

import pytest
import torch

from tiny_runner import read_scalars, run_tiny, tiny_runner_cfg
from tpc_cma_mm.utils import safe_torch_load

pytestmark = pytest.mark.slow  # 200 training iterations

ITERS, ALPHA_TARGET = 200, 0.5


def test_200_iterations_stay_finite_and_in_bounds(tmp_path):
    cfg = tiny_runner_cfg(tmp_path, max_iters=ITERS, interval=ITERS, num_samples=64)
    cfg['custom_hooks'] = [dict(type='TPCCurriculumHook', alpha_target=ALPHA_TARGET,
                                phases=(0.1, 0.5, 0.4), probe_interval=10)]
    runner = run_tiny(cfg)
    rows = read_scalars(str(tmp_path))
    assert sorted(k for k in rows if isinstance(k, int)) == list(range(1, ITERS + 1))
    for step in range(1, ITERS + 1):
        row = rows[step]
        assert all(math.isfinite(v) for v in row.values()), (step, row)
        assert 0 < row['logit_scale'] <= 100 + 1e-4
        assert row['loss'] == pytest.approx(row['loss_contrastive'] + row['loss_cma'], abs=1e-5)
        assert row['loss_contrastive'] == pytest.approx(
            (1 - row['alpha']) * row['contrastive_raw'], rel=1e-5, abs=1e-6)
        # unit vectors: mean |x - y|^2 = centroid^2 + distribution^2 <= 4
        assert 0 <= row['cma_cent'] and 0 <= row['cma_dist'] and row['cma_cov'] >= 0
        assert row['cma_cent'] + row['cma_dist'] <= 4 + 1e-5
        assert 0 <= row['alpha'] <= ALPHA_TARGET + 1e-7
        assert row['alpha'] == pytest.approx(min(row['alpha_sched'], row['alpha_cap']))
        assert row['alpha_sched'] <= ALPHA_TARGET + 1e-7
        if step <= ITERS // 10:
            assert row['alpha'] == 0  # anchor phase
    assert rows[ITERS]['alpha_sched'] == pytest.approx(ALPHA_TARGET)
    assert rows[ITERS]['alpha'] > 0
    first = sum(rows[s]['contrastive_raw'] for s in range(1, 21)) / 20
    last = sum(rows[s]['contrastive_raw'] for s in range(ITERS - 19, ITERS + 1)) / 20
    assert last < first  # it learned
    model = runner.model
    assert all(torch.isfinite(p).all() for p in model.parameters())
    state = safe_torch_load(str(tmp_path / f'iter_{ITERS}.pth'))['state_dict']
    assert torch.equal(state['logit_scale'], model.logit_scale.detach())
