import json

import numpy as np
import pytest
from scipy import stats

from tool_runner import load_tool
from tpc_cma_lab.study import POOL_TASKS, write_pool_report
from tpc_cma_lab.study.pool import bootstrap_r_squared, pool_r_squared
from tpc_cma_mm.evaluation.functional.gaps import GAP_KEYS


def test_r_squared_equals_scipy_linregress_and_the_interval_holds_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = 0.8 * x + rng.normal(scale=0.5, size=40)
    out = bootstrap_r_squared(x, y, num_resamples=500)
    assert out['r2'] == pytest.approx(stats.linregress(x, y).rvalue ** 2)
    assert out['r'] == pytest.approx(stats.linregress(x, y).rvalue) and out['r'] > 0
    assert bootstrap_r_squared(x, -y, num_resamples=10)['r'] == pytest.approx(-out['r'])
    assert out['low'] < out['r2'] < out['high'] and out['resamples_used'] == 500


def test_interval_is_the_percentiles_of_each_resample_s_corrcoef():
    """The resamples are scored at once (study/pool.py); each must be np.corrcoef's R² of
    its draw, and a draw with a constant side must be left out."""
    rng = np.random.default_rng(3)
    x, y = np.array([0.0, 0.0, 0.0, 1.0, 2.0]), rng.normal(size=5)
    out = bootstrap_r_squared(x, y, num_resamples=300, seed=5)
    draws = np.random.default_rng(5).integers(len(x), size=(300, len(x)))
    values = [np.corrcoef(x[d], y[d])[0, 1] ** 2 for d in draws if np.ptp(x[d]) > 0]
    assert out['resamples_used'] == len(values) < 300
    assert [out['low'], out['high']] == pytest.approx(np.percentile(values, [2.5, 97.5]),
                                                      rel=1e-12, abs=1e-15)


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


def _pool_results():
    rng = np.random.default_rng(2)
    results = {}
    for m in range(4):
        runs = [('pretrain', None, dict(name=f'm{m}', iters=10 * (m + 1))),
                ('finetune', f'm{m}', dict(loss='contrastive')),
                ('posthoc', f'm{m}', dict(posthoc='GapShift')),
                ('wise', f'm{m}', dict(loss='contrastive', coefficient=0.5))]
        for kind, pretrained, spec in runs:
            metrics = {f'gap/{k}': float(rng.normal()) for k in GAP_KEYS}
            metrics.update({task: float(rng.normal()) for task in POOL_TASKS})
            if kind == 'posthoc' or (kind == 'finetune' and m == 0):
                del metrics['caption_image/CIDEr']
            results[f'{kind} | {pretrained} | {spec}'] = dict(
                kind=kind, pretrained=pretrained, spec=spec, metrics=metrics)
    return results


def _cells(report: str, task: str, subset: str = 'every run') -> list:
    lines = report.split(f'**{task}** ({subset})')[1].splitlines()
    return [c.strip() for c in lines[4].strip('|').split('|')]


def test_pool_report_is_bootstrap_r_squared_on_the_runs_that_have_the_task(tmp_path):
    results = _pool_results()
    with pytest.raises(KeyError, match='only_with_task'):
        pool_r_squared(results, 'caption_image/CIDEr', ['gap/centroid'])
    report = open(write_pool_report(results, str(tmp_path), 'cmd')).read()
    for task in POOL_TASKS:
        for subset, kinds in (('every run', ('pretrain', 'finetune', 'posthoc')),
                              ('pretrained models only', ('pretrain', ))):
            kept = [e['metrics'] for e in results.values()
                    if e['kind'] in kinds and task in e['metrics']]
            expected = [bootstrap_r_squared([m[f'gap/{k}'] for m in kept],
                                            [m[task] for m in kept], num_resamples=2000, seed=0)
                        for k in GAP_KEYS]
            assert _cells(report, task, subset) == [
                f'{r["r2"]:.2f} [{r["low"]:.2f}, {r["high"]:.2f}] ({"+" if r["r"] > 0 else "−"})'
                for r in expected]
    # 12 runs (4 WiSE-FT mixes out); 5 lack CIDEr: 4 GapShift and one fine-tune.
    assert '**clustering/ari_class** (every run): 12 runs.' in report
    assert '**clustering/ari_class** (pretrained models only): 4 runs.' in report
    assert ('**caption_image/CIDEr** (every run): 7 runs; 5 without caption_image/CIDEr '
            'left out: ') in report
    assert report.count('posthoc | m') == 4  # named in the CIDEr table's line only
    assert (tmp_path / 'pool_ari.png').stat().st_size > 0
    next(e for e in results.values() if e['kind'] == 'pretrain')['metrics'].pop('gap/mmd')
    with pytest.raises(KeyError, match='gap/mmd is missing from 1 runs'):
        write_pool_report(results, str(tmp_path), 'cmd')


def test_cli_captioning_protocol_and_pool_report(tmp_path):
    tool = load_tool('tools/experiments.py')
    configs = ['--pretrain-config', 'configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py',
               '--finetune-config',
               'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py']
    args = tool.parse_args(['pool', '--caption', '--decoder-iters', '7'] + configs)
    assert (args.caption, args.decoder_iters, args.caption_train, args.caption_test) == \
        (True, 7, 3000, 300)
    results = tmp_path / 'pool.json'
    results.write_text(json.dumps(_pool_results()))
    tool.main(configs + ['--results', str(results), '--pool-report', str(tmp_path / 'out')])
    report = (tmp_path / 'out' / 'pool.md').read_text()
    assert f'Command: `python tools/experiments.py {" ".join(configs)}' in report
    assert report == open(write_pool_report(_pool_results(), str(tmp_path / 'api'),
                                            report.split('`')[1])).read()


def test_reports_never_replace_other_content_or_write_through_a_link(tmp_path):
    """Before, --report / --pool-report rewrote pool.md / study.md whatever they held,
    in place and through a symbolic link."""
    configs = ['--pretrain-config', 'configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py',
               '--finetune-config',
               'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py']
    results = tmp_path / 'pool.json'
    results.write_text(json.dumps(_pool_results()))
    out, notes = tmp_path / 'out', tmp_path / 'notes.md'
    out.mkdir()
    (out / 'pool.md').write_text('my notes')
    command = configs + ['--results', str(results), '--pool-report', str(out)]
    with pytest.raises(SystemExit, match='pool.md.*Nothing was written.*--overwrite'):
        load_tool('tools/experiments.py').main(command)
    assert sorted(p.name for p in out.iterdir()) == ['pool.md']
    notes.write_text('precious')
    (out / 'pool.md').unlink()
    (out / 'pool.md').symlink_to(notes)
    with pytest.raises(SystemExit, match='symbolic link'):
        load_tool('tools/experiments.py').main(command + ['--overwrite'])
    assert notes.read_text() == 'precious' and (out / 'pool.md').is_symlink()
