"""The budget table of a study (tpc_cma_lab.study.budget)."""
import pytest

from tpc_cma_lab.study import budget_rows, budget_table


def _entry(kind, centroid, held_out, seen, **spec):
    return dict(kind=kind, spec=spec, metrics={'gap/centroid': centroid,
                                               'zero_shot_held_out/top1': held_out,
                                               'zero_shot_seen/top1': seen})


RESULTS = {
    'pretrain': _entry('pretrain', 1.0, 90.0, 70.0, name='vit'),
    'c300': _entry('finetune', 1.02, 74.0, 79.0, loss='contrastive', alpha=0.0, iters=300),
    't300s1': _entry('finetune', 0.8, 70.0, 80.0, loss='tpc', alpha=0.05, iters=300, seed=1),
    't300s0': _entry('finetune', 0.9, 72.0, 78.0, loss='tpc', alpha=0.05, iters=300, seed=0),
    't1200': _entry('finetune', 0.5, 60.0, 88.0, loss='tpc', alpha=0.05, iters=1200, seed=0),
    'other': _entry('finetune', 0.1, 40.0, 80.0, loss='tpc', alpha=0.5, iters=300, seed=0)}


def test_rows_per_budget_in_seed_order_beside_contrastive_fine_tuning():
    rows = budget_rows(RESULTS, 'tpc', 0.05)
    assert [r['iters'] for r in rows] == [300, 1200]
    assert rows[0]['method']['cut'] == pytest.approx([10.0, 20.0])  # seeds 0, 1
    assert rows[0]['method']['held_out'] == [72.0, 70.0]
    assert rows[0]['contrastive']['cut'] == pytest.approx([-2.0])
    assert rows[1]['contrastive'] is None
    table = budget_table(RESULTS)
    assert table[2] == ('| 300 | 15.0 ± 5.0 (10.0 / 20.0) | 71.0 ± 1.0 | 79.0 ± 1.0 | '
                        '-2.0 ± 0.0 | 74.0 ± 0.0 | -3.0 |')
    assert table[3] == '| 1200 | 50.0 ± 0.0 (50.0) | 60.0 ± 0.0 | 88.0 ± 0.0 | - | - | - |'


def test_one_pretrained_model_only():
    two = dict(RESULTS, second=_entry('pretrain', 0.9, 80.0, 70.0, name='other'))
    with pytest.raises(ValueError, match='one pretrained model'):
        budget_rows(two, 'tpc', 0.05)
