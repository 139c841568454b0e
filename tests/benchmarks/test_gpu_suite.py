"""benchmarks/gpu_suite.sh: refuses clearly without CUDA; with --smoke every piece
runs on the CPU at a tiny size and the one table (printed and table.md) holds every
benchmark's rows.

The smoke run's pieces run in this process (tests/tool_runner.py), each exactly as the
script calls it: a stand-in for ``$PYTHON`` records the calls, and runs only the table's,
so the script's order, arguments, JSON paths and table are its own while the six
benchmark processes do not each pay the torch + open_clip import."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from benchmarks.suite_table import table
from tool_runner import run_module

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SUITE = osp.join(REPO, 'benchmarks', 'gpu_suite.sh')


# $PYTHON for the smoke run: writes down every call; runs the table's when $RUN_TABLE is set.
STAND_IN = """#!/bin/sh
if [ -n "$RUN_TABLE" ] && [ "$2" = benchmarks.suite_table ]; then exec "$REAL_PYTHON" "$@"; fi
echo "$@" >> "$CALLS"
"""


def _run(*args, results_dir, python=sys.executable, **env):
    env = dict(os.environ, PYTHON=python, RESULTS_DIR=str(results_dir),
               OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore', **env)
    return subprocess.run(['bash', SUITE, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only refusal')
def test_without_cuda_the_suite_stops_with_a_message_naming_the_fix(tmp_path):
    result = _run(results_dir=tmp_path)
    assert result.returncode == 2
    assert 'no CUDA device' in result.stderr and '--smoke' in result.stderr
    assert not list(tmp_path.iterdir())  # nothing ran


@pytest.mark.slow  # every benchmark, at a tiny size
def test_smoke_runs_every_piece_and_prints_one_table(tmp_path):
    stand_in, calls = tmp_path / 'python', tmp_path / 'calls.txt'
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    out = tmp_path / 'results'
    recorded = _run('--smoke', results_dir=out, python=stand_in, CALLS=str(calls))
    assert recorded.returncode == 0, recorded.stderr[-3000:]
    pieces = [line.split() for line in calls.read_text().splitlines()]
    assert [piece[:2] for piece in pieces][-1] == ['-m', 'benchmarks.suite_table']
    for piece in pieces[:-1]:
        assert piece[0] == '-m' and piece[1].startswith('benchmarks.bench_'), piece
        done = run_module(*piece[1:])
        assert done.returncode == 0, (piece, done.stderr[-3000:])
    calls.unlink()
    result = _run('--smoke', results_dir=out, python=stand_in, CALLS=str(calls),
                  RUN_TABLE='1', REAL_PYTHON=sys.executable)
    assert result.returncode == 0, result.stderr[-3000:]
    assert calls.read_text().splitlines() == [' '.join(p) for p in pieces[:-1]]  # the same calls
    written = sorted(p.name for p in out.glob('*.json'))
    assert written == ['1_train_step.json', '2_embed.json', '3_curriculum.json',
                       '4_train_validate.json', '5_compiled_step.json',
                       '6_eval_each_image_once.json']
    results = [json.loads((out / name).read_text()) for name in written]
    train = {row['contender']: row for row in results[0]['rows']}
    assert set(train) == {'open_clip', 'ours (model step)', 'ours (train_step)'}
    for row in train.values():
        assert 0 < row['executed_pct_peak'] and 0 < row['model_pct_peak']
        assert row['memory_mib'] > 0
    # "model" FLOPs are open_clip's count for every contender: ours runs fewer.
    assert train['ours (model step)']['model_pct_peak'] >= \
        train['ours (model step)']['executed_pct_peak']
    assert table(results) in result.stdout
    assert (out / 'table.md').read_text().strip() == table(results).strip()
    train_val = {row['contender']: row for row in results[3]['rows']}
    assert train_val['TPC-CMA training']['samples_per_s'] > 0
    assert train_val['validation (MultiValLoop)']['validation_s'] > 0
    compiled = {row['contender']: row for row in results[4]['rows']}
    assert set(compiled) == {'eager', 'compiled'} and compiled['eager']['ratio_vs_eager'] == 1
    once = {row['contender']: row for row in results[5]['rows']}
    # 4 images x 5 captions: the tower runs 20 rows per caption, 4 once per image
    assert once['once per caption']['image_tower_rows'] == 20
    assert once['each image once']['image_tower_rows'] == 4
    assert result.stdout.count('| train step |') == 3
    assert result.stdout.count('| embedding |') == 3
    assert result.stdout.count('| curriculum overhead |') == 2
    assert result.stdout.count('| train + validate |') == 2
    assert result.stdout.count('| compiled step |') == 2
    assert result.stdout.count('| validation |') == 2


def test_unknown_argument_is_refused(tmp_path):
    result = _run('--fast', results_dir=tmp_path)
    assert result.returncode == 2 and "unknown argument '--fast'" in result.stderr
