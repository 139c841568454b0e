"""benchmarks/bench_eval_vs_clip_benchmark.py at a small size: both evaluations see the same
images (ours BGR through its preprocessor, clip_benchmark that preprocessor's RGB output)
and give the same numbers, or the script stops before timing."""
import sys

import pytest

pytest.importorskip('clip_benchmark', reason="pip install -e '.[bench]'")


def test_the_two_evaluations_agree_before_they_are_timed(monkeypatch, capsys):
    from benchmarks import bench_eval_vs_clip_benchmark
    monkeypatch.setattr(sys, 'argv', [
        'bench', '--images', '50', '--zs-images', '100', '--batch', '50', '--rounds', '1',
        '--warmup', '0', '--threads', '1'])
    bench_eval_vs_clip_benchmark.main()
    agreement = capsys.readouterr().out.split('# agreement: ')[1].split('\n')[0]
    for pair in agreement.split(', '):
        _, ours, _, theirs = pair.split(' ')
        assert ours == theirs, agreement
