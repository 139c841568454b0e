"""benchmarks/bench_gap_metric.py at a small size: its float64 check holds and it
withholds the time ratios on a loaded machine (docs/pitfalls.md, "Timing on a 2-core machine")."""
import os
import re
import sys

from benchmarks import bench_gap_metric

ARGV = ['bench_gap_metric', '--n', '3000', '--d', '32', '--chunk-rows', '1024',
        '--check-float64']


def _run(monkeypatch, capsys, load, extra=()):
    monkeypatch.setattr(os, 'getloadavg', lambda: (load, load, load))
    monkeypatch.setattr(sys, 'argv', ARGV + list(extra))
    bench_gap_metric.main()
    return capsys.readouterr().out


def test_a_loaded_machine_gets_no_ratios(monkeypatch, capsys):
    out = _run(monkeypatch, capsys, load=10.0 * os.cpu_count())
    assert 'LOADED MACHINE' in out
    assert out.count('withheld') == 4  # floor, both metric paths, floor again
    differences = re.findall(r'largest \|key - float64 key\| = (\S+)', out)
    assert len(differences) == 2 and all(float(d) <= 1e-6 for d in differences)


def test_report_anyway_prints_flagged_ratios(monkeypatch, capsys):
    out = _run(monkeypatch, capsys, load=10.0 * os.cpu_count(), extra=['--report-anyway'])
    assert 'withheld' not in out and out.count('(LOADED: not a figure)') == 4
