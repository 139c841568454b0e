"""Two reports' numbers side by side (tpc_cma_lab.report_diff, tools/compare_reports.py)."""
import json

import pytest

from tool_runner import run_tool
from tpc_cma_lab.report_diff import differences_table, run_differences


def _run(variant, **metrics):
    return dict(variant=variant, seed=0, metrics=metrics)


A = {'original | seed 0': _run('original', **{'gap/centroid': 1.0, 'zero_shot/top1': 80.0}),
     'TPC | seed 0': _run('TPC', **{'gap/centroid': 0.5, 'zero_shot/top1': 70.0}),
     'only here | seed 0': _run('only here', **{'gap/centroid': 9.0})}
B = {'original | seed 0': _run('original', **{'gap/centroid': 0.99, 'zero_shot/top1': 81.0}),
     'TPC | seed 0': _run('TPC', **{'gap/centroid': 0.53, 'zero_shot/top1': float('nan')})}


def test_differences_over_the_runs_both_record():
    diffs = run_differences(A, B)
    centroid = diffs['gap/centroid']
    assert centroid['runs'] == 2 and centroid['worst'] == 'TPC | seed 0'
    assert centroid['max_abs'] == pytest.approx(0.03)
    assert centroid['mean_abs'] == pytest.approx((0.01 + 0.03) / 2)
    assert centroid['scale'] == pytest.approx((1.0 + 0.99 + 0.5 + 0.53) / 4)
    # NaN on one side: that run is left out of the metric's comparison.
    assert diffs['zero_shot/top1']['runs'] == 1
    assert diffs['zero_shot/top1']['max_abs'] == pytest.approx(1.0)
    assert set(run_differences(A, B, metrics=['gap/'])) == {'gap/centroid'}
    assert run_differences(A, B, variants=['original'])['gap/centroid']['runs'] == 1
    assert differences_table(diffs)[2].startswith('| gap/centroid | 2 | 0.03 | 0.02 |')
    with pytest.raises(ValueError, match='share no run'):
        run_differences(A, {'x | seed 0': _run('x')})


def test_the_tool_prints_the_table_and_the_verdicts_that_differ(tmp_path):
    verdict = dict(claim='c', criterion='k', ours='o', holds=True, winner=None, margin='')
    paths = []
    for name, runs, holds in (('a', A, True), ('b', B, False)):
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps(dict(runs=runs, verdicts=dict(claim=dict(verdict,
                                                                           holds=holds)))))
        paths.append(str(path))
    done = run_tool('tools/compare_reports.py', *paths, '--metrics', 'gap/')
    assert done.returncode == 0, done.stderr
    assert '| gap/centroid | 2 |' in done.stdout and 'zero_shot' not in done.stdout
    assert "- claim: holds True (first: o) vs False (second: o)" in done.stdout
