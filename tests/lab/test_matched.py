"""Accuracy at matched gap reduction, the held-out accuracy axis and the net change."""
import pytest

from tpc_cma_lab.matched import curve, matched_accuracy, matched_table, read_off
from tpc_cma_lab.report import reductions, zero_shot_change
from tpc_cma_lab.report_text import zero_shot_benchmarks


def _summary(rows: dict) -> dict:
    """variant -> (alpha, centroid gap, held-out top-1, all-class top-1, seen top-1)."""
    keys = ('gap/centroid', 'zero_shot_held_out/top1', 'zero_shot/top1', 'zero_shot_seen/top1')
    return {name: dict(alpha_target=v[0], seeds=3,
                       metrics={k: (x, 0.0) for k, x in zip(keys, v[1:])})
            for name, v in rows.items()}


ROWS = {'original': (0.0, 1.0, 90.0, 88.0, 86.0),
        'contrastive fine-tuning': (0.0, 0.98, 80.0, 89.0, 98.0),
        'TPC-CMA alpha=0.05': (0.05, 0.9, 78.0, 88.0, 98.0),
        'TPC-CMA alpha=0.5': (0.5, 0.4, 60.0, 80.0, 100.0),
        'CMA const alpha=0.5': (0.5, 0.2, 50.0, 74.0, 98.0)}


def test_the_axis_is_the_held_out_classes_and_the_change_is_net_of_fine_tuning():
    summary = _summary(ROWS)
    assert zero_shot_benchmarks(summary) == ['zero_shot_held_out/top1']
    zero_shot = zero_shot_change(summary)
    tpc = zero_shot['TPC-CMA alpha=0.5']
    assert tpc['mean'] == 60.0 and tpc['change_points'] == -30.0
    assert tpc['change_relative'] == pytest.approx(100 * (60 / 90 - 1))
    assert tpc['net_points'] == -20.0  # 60 against contrastive fine-tuning's 80
    # Without held-out classes the test split's own zero-shot is the axis, as before.
    plain = {n: dict(s, metrics={'gap/centroid': s['metrics']['gap/centroid'],
                                 'zero_shot/top1': s['metrics']['zero_shot/top1']})
             for n, s in summary.items()}
    assert zero_shot_benchmarks(plain) == ['zero_shot/top1']


def test_accuracy_is_read_off_each_curve_at_the_same_reduction():
    summary = _summary(ROWS)
    reduced, zero_shot = reductions(summary), zero_shot_change(summary)
    # TPC-CMA: alpha 0 (contrastive, -2 %), 0.05 (-10 %), 0.5 (-60 %).
    assert curve(summary, reduced, zero_shot, 'TPC-CMA') == [
        (0.0, pytest.approx(2.0), 80.0), (0.05, pytest.approx(10.0), 78.0),
        (0.5, pytest.approx(60.0), 60.0)]
    matched = matched_accuracy(summary, reduced, zero_shot, targets=(25, 50, 75))
    # -25 % lies between -10 % (78) and -60 % (60): 78 + (60 - 78) * 15 / 50.
    assert matched['TPC-CMA']['25'] == pytest.approx(78 - 18 * 15 / 50)
    assert matched['TPC-CMA']['50'] == pytest.approx(78 - 18 * 40 / 50)
    assert matched['TPC-CMA']['75'] is None  # beyond its last point: not extrapolated
    # CMA const: contrastive (-2 %, 80) to alpha 0.5 (-80 %, 50).
    assert matched['CMA const']['75'] == pytest.approx(80 - 30 * 73 / 78)
    lines = matched_table(matched, 'zero_shot_held_out/top1')
    assert '| TPC-CMA | 72.6 | 63.6 | - |' in lines


def test_a_curve_is_read_at_its_first_crossing_in_alpha_order():
    # Not monotone: the reduction overshoots 50 % and comes back.
    points = [(0.0, 0.0, 90.0), (0.1, 60.0, 70.0), (0.2, 40.0, 80.0)]
    assert read_off(points, 50.0) == pytest.approx(90 - 20 * 50 / 60)
    assert read_off(points, -5.0) is None
    assert read_off([(0.0, 10.0, 1.0), (0.1, 10.0, 3.0)], 10.0) == 1.0
