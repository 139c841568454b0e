"""The reproduction tool's planning and report logic (the full run is the main job)."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config
from scipy import stats

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
reproduce = importlib.import_module('reproduce')
report = importlib.import_module('reproduce_report')

GAP_KEYS = report.GAP_KEYS


def test_set_iters_scales_every_scheduler_boundary():
    cfg = Config.fromfile(osp.join(REPO, reproduce.TINY_METHOD))
    reproduce.set_iters(cfg, 30)
    assert cfg.train_cfg.max_iters == 30 and cfg.default_hooks.checkpoint.interval == 30
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 2)  # 20 of 300 -> 2 of 30
    assert (cosine.begin, cosine.end) == (2, 30)


def test_variants_differ_only_where_the_baseline_says():
    cfg = Config.fromfile(osp.join(REPO, reproduce.TINY_METHOD))
    settings = dict(alphas=[0.1, 0.5], const_alphas=[0.5])
    variants = reproduce.variant_configs(cfg, settings)
    assert variants['original'][0] is None and variants['posthoc mean-centering'][1] == 'MeanCentering'
    finetune = variants['contrastive fine-tuning'][0]
    assert finetune.model.cma_loss is None
    assert all(h['type'] != 'TPCCurriculumHook' for h in finetune.custom_hooks)
    const = variants['CMA const alpha=0.5'][0]
    assert const.model.alpha == 0.5 and const.model.cma_loss is not None
    assert all(h['type'] != 'TPCCurriculumHook' for h in const.custom_hooks)
    for alpha in (0.1, 0.5):
        hooks = [h for h in variants[f'TPC-CMA alpha={alpha}'][0].custom_hooks
                 if h['type'] == 'TPCCurriculumHook']
        assert hooks[0]['alpha_target'] == alpha
    # The source config is left untouched.
    assert [h for h in cfg.custom_hooks if h['type'] == 'TPCCurriculumHook'][0]['alpha_target'] == 0.05


def _synthetic_results():
    rng = np.random.default_rng(0)
    results = {}
    for i, name in enumerate(['original', 'posthoc mean-centering', 'TPC-CMA alpha=0.05',
                              'TPC-CMA alpha=0.5', 'CMA const alpha=0.5']):
        for seed in (0, 1):
            gaps = {f'gap/{k}': 1.0 - 0.1 * i + 0.01 * rng.standard_normal() for k in GAP_KEYS}
            metrics = dict(gaps, **{'zero_shot/top1': 80 - i + rng.standard_normal(),
                                    'retrieval/i2t_R@1': 10.0,
                                    'clustering/ari_class': 0.1 * i + 0.02 * rng.standard_normal(),
                                    'clustering/ari_modality': 0.3,
                                    'caption_image/CIDEr': 0.2 * i + 0.05 * rng.standard_normal(),
                                    'caption_text/CIDEr': 1.0})
            results[f'{name} | seed {seed}'] = dict(
                variant=name, seed=seed, alpha_target=0.5 if '0.5' in name else 0.0,
                work_dir=None, metrics=metrics)
    return results


@pytest.mark.parametrize('pool', report.POOLS)
def test_r_squared_matches_scipy_linregress(pool):
    results = _synthetic_results()
    r2 = report.r_squared(results, pool)
    runs = [e['metrics'] for e in results.values()
            if pool == 'all runs' or not e['variant'].startswith('posthoc')]
    assert len(runs) == (10 if pool == 'all runs' else 8)
    for task in report.TASKS:
        for key in GAP_KEYS:
            fit = stats.linregress([m[f'gap/{key}'] for m in runs], [m[task] for m in runs])
            assert r2[task][key] == pytest.approx(fit.rvalue**2, abs=1e-10)


def test_aggregate_and_reductions():
    results = _synthetic_results()
    summary = report.aggregate(results)
    values = [results[f'TPC-CMA alpha=0.5 | seed {s}']['metrics']['zero_shot/top1'] for s in (0, 1)]
    mean, std = summary['TPC-CMA alpha=0.5']['metrics']['zero_shot/top1']
    assert mean == pytest.approx(np.mean(values)) and std == pytest.approx(np.std(values))
    reduced = report.reductions(summary)
    before = summary['original']['metrics']['gap/raw'][0]
    after = summary['TPC-CMA alpha=0.5']['metrics']['gap/raw'][0]
    assert reduced['TPC-CMA alpha=0.5']['raw'] == pytest.approx(100 * (1 - after / before))
    assert reduced['original']['raw'] == pytest.approx(0.0)


def test_write_report(tmp_path):
    report.write_report(_synthetic_results(), dict(seeds=[0, 1]), str(tmp_path), 'cmd')
    table = (tmp_path / 'results.md').read_text()
    assert 'TPC-CMA alpha=0.5' in table and 'Beside the paper' in table
    assert all(description in table for description in report.POOLS.values())
    assert json.loads((tmp_path / 'results.json').read_text())['command'] == 'cmd'
    assert (tmp_path / 'compromise_curve.png').stat().st_size > 0
    assert (tmp_path / 'gap_predictiveness.png').stat().st_size > 0


def test_parallel_runs_equal_sequential_ones_and_cached_runs_resume(tmp_path):
    """--jobs 2 runs, then two runs dropped from the cache are redone in one process."""
    work = tmp_path / 'work'
    tiny = ['--quick', '--work-dir', str(work), '--pretrain-iters', '3', '--finetune-iters', '3',
            '--decoder-iters', '3', '--caption-train', '64', '--caption-test', '16',
            '--alphas', '0.5', '--const-alphas', '0.5']
    env = dict(os.environ, OMP_NUM_THREADS='1')

    def reproduce_run(*extra):
        done = subprocess.run([sys.executable, '-W', 'ignore', 'tools/reproduce.py', *tiny, *extra],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return json.loads((work / 'results.json').read_text())

    parallel = reproduce_run('--jobs', '2')
    variants = {'original', 'posthoc mean-centering', 'posthoc gap shift',
                'contrastive fine-tuning', 'CMA const alpha=0.5', 'TPC-CMA alpha=0.5'}
    assert set(parallel) == {f'{v} | seed 0' for v in variants}
    redo = ['posthoc mean-centering | seed 0', 'TPC-CMA alpha=0.5 | seed 0']
    (work / 'results.json').write_text(json.dumps(
        {k: v for k, v in parallel.items() if k not in redo}))
    sequential = reproduce_run('--jobs', '1')
    assert set(sequential) == set(parallel)
    for key in redo:
        got, want = sequential[key]['metrics'], parallel[key]['metrics']
        assert got.keys() == want.keys() and 'caption_image/CIDEr' in got
        for name, value in want.items():
            assert got[name] == pytest.approx(value, rel=1e-6, abs=1e-9), (key, name)
    report_md = (work / 'report' / 'results.md').read_text()
    assert 'TPC-CMA alpha=0.5' in report_md and 'R²' in report_md


def test_cached_runs_of_other_settings_are_refused():
    _, quick = reproduce.parse_args(['--quick'])
    _, full = reproduce.parse_args([])
    cached = {'original | seed 0': dict(variant='original', protocol=reproduce.protocol(full))}
    reproduce.check_cache(cached, full, 'results.json')  # same settings: resumes
    with pytest.raises(ValueError, match='other settings.*--work-dir'):
        reproduce.check_cache(cached, quick, 'results.json')
    with pytest.raises(ValueError, match='other settings'):
        reproduce.check_cache({'original | seed 0': dict(variant='original')}, full, 'r.json')
    args, _ = reproduce.parse_args(['--quick'])
    assert args.work_dir == 'work_dirs/reproduce_quick'
