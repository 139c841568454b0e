"""The ties rule's building blocks, and its pretraining floor measured on the model pool."""
import json
import math
import os.path as osp

import numpy as np
import pytest

from tpc_cma_lab.margins import PRETRAINING_SPREAD, Estimate, outcome, sample_std

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
POOL = osp.join(REPO, 'results', 'experiments', 'pool.json')
SEEDS = ('vit-seed1', 'vit-seed2', 'vit-seed3')
# The pool's rows made by the reproduction's protocol: the pretrained model, its post-hoc
# fixes, its contrastive fine-tuning on the seen shapes.
KINDS = ('pretrain | None | {}', 'posthoc | {} | posthoc=MeanCentering',
         'posthoc | {} | posthoc=GapShift',
         'finetune | {} | alpha=0.0,iters=300,loss=contrastive,seed=0,'
         'shapes=circle+triangle+cross+hexagon')


def _pooled(values_per_kind):
    """Root mean of the per-kind sample variances over the pretraining seeds."""
    return math.sqrt(np.mean([np.var(v, ddof=1) for v in values_per_kind]))


def test_the_pretraining_floor_is_the_pools_spread_over_pretraining_seeds():
    pool = json.load(open(POOL))
    rows = {kind: [pool[kind.format(s)]['metrics'] for s in SEEDS] for kind in KINDS}
    expected = {}
    for key in ('gap/centroid', 'gap/distribution', 'gap/raw', 'zero_shot/top1',
                'zero_shot_held_out/top1', 'clustering/ari_class', 'caption_image/CIDEr'):
        expected[key] = _pooled([[m[key] for m in ms] for ms in rows.values()
                                 if all(key in m for m in ms)])
    pretrained = rows[KINDS[0]]

    def change(key, sign):  # % against each seed's own pretrained model
        return _pooled([[sign * 100 * (m[key] / p[key] - 1) for m, p in zip(ms, pretrained)]
                        for kind, ms in rows.items() if kind != KINDS[0]])

    for key in ('centroid', 'distribution', 'raw'):
        expected[f'reduction/{key}'] = change(f'gap/{key}', -1)
    # The accuracy axis of a report with held-out classes: top-1 on the held-out shapes.
    expected['zero_shot/change_relative'] = change('zero_shot_held_out/top1', 1)
    assert set(PRETRAINING_SPREAD) == set(expected)
    for key, value in expected.items():  # the constants carry 3 significant digits
        assert PRETRAINING_SPREAD[key] == pytest.approx(value, rel=6e-3), key


def test_sample_std_and_the_rule_on_hand_made_numbers():
    assert sample_std(0.2, 3) == pytest.approx(0.2 * math.sqrt(1.5)) and sample_std(0.2, 1) is None
    a, b = Estimate(3.0, 0.1, None, 3), Estimate(2.5, 0.1, None, 3)
    # Clear: 0.5 > 2 * sqrt(0.1**2 + 0.1**2) = 0.283; against a fixed threshold: 2 * 0.1.
    assert outcome(a, b)[0] == 1 and outcome(b, a)[0] == -1 and outcome(a, 2.75)[0] == 1
    tie = Estimate(2.5, 0.1, 0.15, 3)  # spread sqrt(0.1**2 + 0.15**2): limit 0.6 > 0.5
    assert outcome(a._replace(floor=0.15), tie)[0] == 0
    sign, text = outcome(Estimate(3.0, None, None, 1), Estimate(1.0, None, None, 1))
    assert sign == 0 and 'no spread' in text  # one seed and no floor: no winner at any margin
