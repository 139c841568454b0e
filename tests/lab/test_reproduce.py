"""The reproduction (tpc_cma_lab.reproduce, tools/reproduce.py): planning, caches, report."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from scipy import stats

from tool_runner import run_tool
from tpc_cma_lab import report, reproduce
from tpc_cma_lab.engine import run_config
from tpc_cma_lab.report_text import POOLS, TASKS
from tpc_cma_mm.apis import rescale_schedule
from tpc_cma_mm.apis.outputs import OutputExistsError
from tpc_cma_mm.evaluation.functional.gaps import GAP_KEYS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_rescale_schedule_scales_every_scheduler_boundary():
    cfg = Config.fromfile(osp.join(REPO, reproduce.TINY_METHOD))
    rescale_schedule(cfg, 30)
    assert cfg.train_cfg.max_iters == 30 and cfg.default_hooks.checkpoint.interval == 30
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 2)  # 20 of 300 -> 2 of 30
    assert (cosine.begin, cosine.end) == (2, 30)


def test_variants_differ_only_where_the_baseline_says():
    cfg = Config.fromfile(osp.join(REPO, reproduce.TINY_METHOD))
    settings = dict(alphas=[0.1, 0.5], const_alphas=[0.5], c3_noise_std=0.2, finetune_iters=30,
                    threads=1)
    variants = reproduce.variants(settings)
    assert not variants['original'].trained
    assert variants['posthoc mean-centering'].posthoc == 'MeanCentering'
    # Captioning: C3 is mean-centering plus noise on the decoder's training embeddings;
    # the gap shift is not captioned; every other variant captions its own embeddings.
    c3 = variants['posthoc C3 centring + noise 0.2']
    assert (c3.trained, c3.posthoc, c3.alpha_target, c3.captioning) == (
        False, 'MeanCentering', 0.0, dict(center=True, noise_std=0.2))
    assert variants['posthoc mean-centering'].captioning == dict(center=True)
    assert variants['posthoc gap shift'].captioning is None
    assert variants['TPC-CMA alpha=0.5'].captioning == variants['original'].captioning \
        == dict(center=False)

    def config(name):
        job = reproduce.Job(config=cfg.filename, work_dir='w', settings=settings,
                            original='o.pth', variant=name, seed=0)
        return run_config(reproduce.variant_run(job, cfg, variants[name]), cfg)

    finetune = config('contrastive fine-tuning')
    assert finetune.model.cma_loss is None
    assert all(h['type'] != 'TPCCurriculumHook' for h in finetune.custom_hooks)
    const = config('CMA const alpha=0.5')
    assert const.model.alpha == 0.5 and const.model.cma_loss is not None
    assert all(h['type'] != 'TPCCurriculumHook' for h in const.custom_hooks)
    for alpha in (0.1, 0.5):
        tpc = config(f'TPC-CMA alpha={alpha}')
        hooks = [h for h in tpc.custom_hooks if h['type'] == 'TPCCurriculumHook']
        assert hooks[0]['alpha_target'] == alpha
        assert (tpc.load_from, tpc.train_cfg.max_iters, tpc.randomness.seed) == ('o.pth', 30, 0)
    # The source config is left untouched.
    assert [h for h in cfg.custom_hooks if h['type'] == 'TPCCurriculumHook'][0]['alpha_target'] == 0.05
    # Every variant fine-tunes on the shapes the config does not hold out, in class order.
    held_out = cfg.reproduce.held_out_classes
    seen = [c for c in cfg.model.zero_shot.classnames if c not in held_out]
    assert len(seen) == 4 and cfg.train_dataloader.dataset.get('shapes') is None
    for name in ('contrastive fine-tuning', 'CMA const alpha=0.5', 'TPC-CMA alpha=0.5'):
        assert config(name).train_dataloader.dataset.shapes == seen


def test_held_out_classes_need_a_training_set_that_can_leave_them_out():
    cfg = Config.fromfile(osp.join(REPO, reproduce.TINY_METHOD))
    cfg.train_dataloader.dataset = dict(type='CocoCaptions', data_root='d')
    job = reproduce.Job(config=cfg.filename, work_dir='w', settings=dict(
        finetune_iters=3, threads=1), original='o.pth', variant='TPC-CMA alpha=0.5', seed=0)
    variant = reproduce.variants(dict(alphas=[0.5], const_alphas=[], c3_noise_std=0.1))
    with pytest.raises(ValueError, match="held_out_classes needs a training set.*'CocoCaptions'"):
        reproduce.variant_run(job, cfg, variant['TPC-CMA alpha=0.5'])


def _synthetic_results():
    rng = np.random.default_rng(0)
    results = {}
    for i, name in enumerate(['original', 'posthoc mean-centering', 'TPC-CMA alpha=0.05',
                              'TPC-CMA alpha=0.5', 'CMA const alpha=0.5']):
        for seed in (0, 1):
            gaps = {f'gap/{k}': 1.0 - 0.1 * i + 0.01 * rng.standard_normal() for k in GAP_KEYS}
            metrics = dict(gaps, **{'zero_shot/top1': 80 - i + rng.standard_normal(),
                                    'retrieval/i2t_R1': 10.0,
                                    'clustering/ari_class': 0.1 * i + 0.02 * rng.standard_normal(),
                                    'clustering/ari_modality': 0.3,
                                    'caption_image/CIDEr': 0.2 * i + 0.05 * rng.standard_normal(),
                                    'caption_text/CIDEr': 1.0})
            results[f'{name} | seed {seed}'] = dict(
                variant=name, seed=seed, alpha_target=0.5 if '0.5' in name else 0.0,
                work_dir=None, metrics=metrics)
    return results


def test_the_report_does_not_depend_on_which_job_finished_first():
    """Parallel jobs finish in any order; the report's sums over runs (R², means) follow
    the plan's order, so two reproductions with bit-identical runs give one report."""
    results = _synthetic_results()
    planned = list(results)
    finished = dict(reversed(list(results.items())))
    assert list(reproduce.in_plan_order(finished, planned)) == planned
    assert list(reproduce.in_plan_order(dict(finished, extra=1), planned)) == planned + ['extra']
    for pool in POOLS:
        assert report.r_squared(reproduce.in_plan_order(finished, planned), pool) == \
            report.r_squared(results, pool)


@pytest.mark.parametrize('pool', POOLS)
def test_r_squared_matches_scipy_linregress(pool):
    results = _synthetic_results()
    r2 = report.r_squared(results, pool)
    runs = [e['metrics'] for e in results.values()
            if pool == 'all runs' or not e['variant'].startswith('posthoc')]
    assert len(runs) == (10 if pool == 'all runs' else 8)
    tasks = [task for task in TASKS if task in runs[0]]
    assert set(r2) == set(tasks) and len(tasks) == 2
    for task in tasks:
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
    assert all(description in table for description in POOLS.values())
    written = json.loads((tmp_path / 'results.json').read_text())
    assert written['command'] == 'cmd'
    # Every claim's verdict is in the JSON and in the table, one row each.
    assert set(written['verdicts']) >= {'gaps_fall', 'r_squared', 'tpc_against_const'}
    for verdict in written['verdicts'].values():
        assert f"| {verdict['claim']} | {verdict['criterion']} | {verdict['ours']} |" in table
    assert (tmp_path / 'compromise_curve.png').stat().st_size > 0
    assert (tmp_path / 'gap_predictiveness.png').stat().st_size > 0


TINY = ['--quick', '--pretrain-iters', '3', '--finetune-iters', '3', '--decoder-iters', '3',
        '--caption-train', '64', '--caption-test', '16', '--alphas', '0.5', '--const-alphas', '0.5',
        '--convex-alphas', '0.5']


def _small_configs(folder) -> list:
    """``--config`` and ``--pretrain-config`` of the tiny ones with 1,000 of the 10,000 train
    samples, batches of 64 and 200 of the 1,000 val and test samples: every training and
    every captioning draws the train split, every run validates on the val split and every
    job embeds the test split, and the test below proves how runs are parallelised,
    cached, resumed and refused, which no split size changes."""
    smaller = ('train_dataloader = dict(batch_size=64, dataset=dict(num_samples=1000))\n'
               'val_dataloader = dict(dataset=dict(num_samples=200))\n'
               'test_dataloader = dict(dataset=dict(num_samples=200))\n')
    args = []
    for option, config in (('--config', reproduce.TINY_METHOD),
                           ('--pretrain-config', reproduce.TINY_PRETRAIN)):
        path = folder / osp.basename(config)
        path.write_text(f'_base_ = [{osp.join(REPO, config)!r}]\n{smaller}')
        args += [option, str(path)]
    return args


def _reproduce_run(work, *extra, returncode=0):
    """``python tools/reproduce.py`` run by its ``main(argv)`` in this process
    (tests/tool_runner.py): six subprocesses paid the torch + mmpretrain import six times
    and proved nothing more; ``--jobs 2``'s workers are still spawned processes."""
    done = run_tool('tools/reproduce.py', *TINY, '--work-dir', work, *extra)
    assert done.returncode == returncode, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow  # tools/reproduce.py with 2 worker processes, then resumed
def test_parallel_runs_equal_sequential_ones_and_cached_runs_resume(tmp_path, monkeypatch):
    """--jobs 2 runs, then two runs dropped from the cache are redone in one process;
    then the work dir refuses another config, and a corrupt cache is named."""
    monkeypatch.chdir(REPO)  # where the tool ran as a subprocess
    monkeypatch.setenv('OMP_NUM_THREADS', '1')  # for the spawned workers
    work = tmp_path / 'work'
    configs = _small_configs(tmp_path)
    done = _reproduce_run(work, *configs, '--jobs', '2', '--threads', '1')
    assert 'to go' in done.stdout  # one progress line per job with an ETA
    # The training-time estimate comes first, before the pretraining.
    assert done.stdout.index('[time]') < done.stdout.index('[pretrain]')
    assert 'per training step on cpu' in done.stdout
    parallel = json.loads((work / 'results.json').read_text())
    variants = {'original', 'posthoc mean-centering', 'posthoc gap shift',
                f'posthoc C3 centring + noise {reproduce.MODES["quick"]["c3_noise_std"]:g}',
                'contrastive fine-tuning', 'CMA const alpha=0.5', 'TPC-CMA alpha=0.5',
                'convex-form TPC-CMA alpha=0.5', 'gap target centroid 50 %', 'ConvNeXt: original',
                'ConvNeXt: gap target centroid 50 %'}
    assert set(parallel) == {f'{v} | seed 0' for v in variants}
    # The other tower's rows ran its own config from its own pretrained model.
    assert parallel['ConvNeXt: gap target centroid 50 % | seed 0']['tower'] == 'ConvNeXt'
    assert (work / 'pretrain_ConvNeXt').is_dir()
    redo = ['posthoc mean-centering | seed 0', 'TPC-CMA alpha=0.5 | seed 0',
            'ConvNeXt: gap target centroid 50 % | seed 0']
    (work / 'results.json').write_text(json.dumps(
        {k: v for k, v in parallel.items() if k not in redo}))
    # Another command than the one that wrote the report: refused up front ...
    refused = _reproduce_run(work, *configs, '--jobs', '1', '--threads', '1', returncode=1)
    assert 'OutputExistsError' in refused.stderr and '--overwrite' in refused.stderr
    # The last jobs of a resumed run at another thread count would give other numbers:
    # refused, naming the thread count ...
    refused = _reproduce_run(work, *configs, '--jobs', '1', '--threads', '2', '--overwrite',
                             returncode=1)
    assert '"threads": 2' in refused.stderr and '--work-dir' in refused.stderr
    # ... and at the recorded one, in this process instead of a worker, bit-identical.
    _reproduce_run(work, *configs, '--jobs', '1', '--threads', '1', '--overwrite')
    sequential = json.loads((work / 'results.json').read_text())
    assert set(sequential) == set(parallel)
    for key in redo:
        got, want = sequential[key]['metrics'], parallel[key]['metrics']
        assert got.keys() == want.keys() and ('caption_image/CIDEr' in got) == (
            'gap target' not in key)  # the gap-target rows are not captioned
        assert got == want, key
    environment = json.loads((work / 'report' / 'results.json').read_text())[
        'settings']['environment']
    assert environment['threads'] == 1 and environment['libraries']['Pillow']
    assert len(environment['original_checkpoint']['content_sha256']) == 64
    assert len(environment['tower_checkpoints']['ConvNeXt']['content_sha256']) == 64
    report_md = (work / 'report' / 'results.md').read_text()
    assert 'TPC-CMA alpha=0.5' in report_md and 'R²' in report_md
    assert '| ConvNeXt | 50 % |' in report_md and '| method config | 50 % |' in report_md

    # Another --config in the same work dir used to report the old numbers
    # ("6 of 6 runs cached"); now it is refused.
    other = tmp_path / 'other.py'  # the same config but the learning rate
    other.write_text(f"_base_ = [{configs[1]!r}]\n"
                     "optim_wrapper = dict(optimizer=dict(lr=1e-3))\n")
    refused = _reproduce_run(work, *configs, '--jobs', '1', '--threads', '1', '--config',
                             str(other), '--overwrite', returncode=1)
    assert 'other settings' in refused.stderr and '--work-dir' in refused.stderr

    (work / 'results.json').write_text('{"original | seed 0": {"vari')  # cut short
    refused = _reproduce_run(work, *configs, '--jobs', '1', '--threads', '1', '--overwrite',
                             returncode=1)
    assert 'not valid JSON' in refused.stderr and 'JSONDecodeError' not in \
        refused.stderr.strip().splitlines()[-1]


def _settings(mode, config='a', original='b', threads=1, code='1234abcd1234abcd'):
    return dict(reproduce.MODES[mode], config=config, original=original, threads=threads,
                libraries=dict(torch='2.14.1'), code=code)


def test_cached_runs_of_other_settings_or_configs_are_refused(tmp_path):
    full = _settings('full')
    cached = {'original | seed 0': dict(variant='original', protocol=reproduce.protocol(full))}
    reproduce.check_cache(cached, full, 'results.json')  # same settings: resumes
    # Another thread count gives other numbers (docs/results.md, "Reproducing the
    # numbers"): its runs are not mixed in either.
    for other in (_settings('quick'), _settings('full', config='c'),
                  _settings('full', original='d'), _settings('full', threads=2),
                  _settings('full', code='5678abcd5678abcd')):
        with pytest.raises(ValueError, match='other settings.*--work-dir'):
            reproduce.check_cache(cached, other, 'results.json')
    with pytest.raises(ValueError, match='other settings'):
        reproduce.check_cache({'original | seed 0': dict(variant='original')}, full, 'r.json')
    # The work dir's checkpoints and embeddings are guarded the same way.
    reproduce.check_work_dir(str(tmp_path), full)
    reproduce.check_work_dir(str(tmp_path), full)
    with pytest.raises(ValueError, match='another protocol'):
        reproduce.check_work_dir(str(tmp_path), _settings('full', config='c'))
    with pytest.raises(ValueError, match='another protocol'):
        reproduce.check_work_dir(str(tmp_path), _settings('full', threads=2))


def test_fingerprints_follow_config_content_not_file_name(tmp_path):
    base = osp.join(REPO, reproduce.TINY_METHOD)
    same, changed = tmp_path / 'same.py', tmp_path / 'changed.py'
    same.write_text(f'_base_ = [{base!r}]\n')
    changed.write_text(f'_base_ = [{base!r}]\noptim_wrapper = dict(optimizer=dict(lr=1e-3))\n')
    pretrain = Config.fromfile(osp.join(REPO, reproduce.TINY_PRETRAIN))
    prints = [reproduce.fingerprints(Config.fromfile(p), pretrain, None)
              for p in (base, same, changed)]
    assert prints[0] == prints[1] and prints[0]['config'] != prints[2]['config']
    ckpt = tmp_path / 'w.pth'
    ckpt.write_bytes(b'weights')
    assert reproduce.fingerprints(Config.fromfile(base), None, str(ckpt))['original'] \
        .startswith('checkpoint ')


@pytest.mark.slow  # writes the whole report, figures included, three times
def test_report_refuses_to_replace_other_content(tmp_path):
    results = _synthetic_results()
    report.write_report(results, dict(seeds=[0, 1]), str(tmp_path), 'cmd')
    report.write_report(results, dict(seeds=[0, 1]), str(tmp_path), 'cmd')  # same bytes
    before = (tmp_path / 'results.json').read_bytes()
    with pytest.raises(OutputExistsError, match='--overwrite'):
        report.write_report(results, dict(seeds=[0]), str(tmp_path), 'other cmd')
    assert (tmp_path / 'results.json').read_bytes() == before
    report.write_report(results, dict(seeds=[0]), str(tmp_path), 'other cmd', overwrite=True)
    assert json.loads((tmp_path / 'results.json').read_text())['command'] == 'other cmd'


def test_extra_metrics_pass_through_table_and_json(tmp_path):
    results = _synthetic_results()
    for i, entry in enumerate(results.values()):
        entry['extra_metrics'] = {'probe/mean': 0.5 + 0.01 * i}
    summary = report.aggregate(results)
    seeds = [results[f'original | seed {s}']['extra_metrics']['probe/mean'] for s in (0, 1)]
    assert summary['original']['extra_metrics']['probe/mean'] == pytest.approx(
        (np.mean(seeds), np.std(seeds)))
    report.write_report(results, dict(seeds=[0, 1]), str(tmp_path), 'cmd')
    header = next(line for line in (tmp_path / 'results.md').read_text().splitlines()
                  if line.startswith('| variant'))
    assert 'probe/mean' in header
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert 'probe/mean' in saved['summary']['original']['extra_metrics']


def test_fingerprint_follows_the_extra_set_files_content(tmp_path):
    base = osp.join(REPO, reproduce.TINY_METHOD)
    sets = tmp_path / 'sets.py'
    method = tmp_path / 'method.py'
    method.write_text(f'_base_ = [{base!r}]\nreproduce = dict(extra_set_files=[{str(sets)!r}])\n')
    prints = []
    for batch in (4, 8):
        sets.write_text('val_cfg = dict(extra_sets=dict(a=dict(dataloader=dict('
                        f'batch_size={batch}))))\n')
        prints.append(reproduce.fingerprints(Config.fromfile(str(method)), None,
                                             str(sets))['config'])
    assert prints[0] != prints[1]


def test_b16_config_reproduction_sets_and_decoder_exist():
    from tpc_cma_lab.reproduce.benchmarks import extra_sets
    cwd = os.getcwd()
    os.chdir(REPO)  # the paths are relative to the working directory, as load_from is
    try:
        cfg = Config.fromfile('configs/cma_clip_b16.py')
        assert osp.isfile(cfg.reproduce.decoder_config)
        sets = extra_sets(cfg)
    finally:
        os.chdir(cwd)
    assert set(sets) == {'cifar10', 'coco_single_label'}
    assert sets['cifar10']['zero_shot'] == dict(benchmark='cifar10')
    assert sets['coco_single_label']['evaluator']['type'] == 'JointClusteringMetric'


def _log(folder, steps, value, mtime):
    """A LocalVisBackend scalars.json with alpha = value + step / 100 at ``steps``."""
    folder.mkdir(parents=True)
    path = folder / 'vis_data' / 'scalars.json'
    path.parent.mkdir()
    path.write_text(''.join(json.dumps(dict(step=s, alpha=value + s / 100)) + '\n'
                            for s in steps))
    os.utime(path, (mtime, mtime))


def test_curriculum_curves_after_a_resume_are_deduplicated_and_ordered(tmp_path):
    """A resumed run logs iterations 5-6 again into a new folder; before, curriculum.png
    drew both copies, out of order."""
    from tpc_cma_lab.figures import training_curves
    _log(tmp_path / 'run' / '20261207_100000', range(1, 7), 0.0, mtime=1_000)
    _log(tmp_path / 'run' / '20261207_090000', range(5, 9), 1.0, mtime=2_000)  # resumed: newer
    alpha = training_curves(str(tmp_path / 'run'))['alpha']
    assert [s for s, _ in alpha] == list(range(1, 9))
    assert [v for _, v in alpha] == pytest.approx(
        [s / 100 for s in range(1, 5)] + [1.0 + s / 100 for s in range(5, 9)])


@pytest.mark.slow  # renders the whole report
def test_report_reads_run_logs_only_inside_the_reproduction_work_dir(tmp_path):
    """A results.json naming a work_dir elsewhere made the report read there."""
    results = _synthetic_results()
    elsewhere = tmp_path / 'elsewhere'
    _log(elsewhere / 'log', range(1, 4), 0.0, mtime=1_000)
    for entry in results.values():
        if entry['variant'] == 'TPC-CMA alpha=0.5':
            entry['work_dir'] = str(elsewhere)
    work, out = tmp_path / 'reproduce', tmp_path / 'report'
    with pytest.raises(ValueError, match=f"work_dir '{elsewhere}'.*outside.*Nothing was written"):
        report.write_report(results, dict(seeds=[0, 1]), str(out), 'cmd', work_dir=str(work))
    assert not out.exists()
    inside = work / 'tpc_seed0'
    _log(inside / 'log', range(1, 4), 0.0, mtime=1_000)
    for entry in results.values():
        if entry['variant'] == 'TPC-CMA alpha=0.5':
            entry['work_dir'] = str(inside)
    report.write_report(results, dict(seeds=[0, 1]), str(out), 'cmd', work_dir=str(work))
    assert (out / 'curriculum.png').stat().st_size > 0


def test_a_training_run_logs_to_its_work_dir_not_the_console(tmp_path, capsys):
    """The main job printed ~4,400 lines (each run's config, hook table and iteration
    logs); the console now keeps the reproduction's own lines and each run's whole log
    is in its work dir."""
    from tiny_runner import tiny_runner_cfg
    from tpc_cma_lab.engine import Run, train
    from tpc_cma_mm.apis.fingerprint import config_digest
    cfg = Config(tiny_runner_cfg(tmp_path / 'unused', max_iters=3, curriculum=False,
                                 log_level='INFO'))  # the shipped configs' level
    ckpt, _ = train(Run(config='tiny', config_digest=config_digest(cfg),
                        work_dir=str(tmp_path / 'run'), iters=3), cfg)
    assert osp.isfile(ckpt)
    assert 'Iter(train)' not in capsys.readouterr().out
    logs = [osp.join(root, name) for root, _, names in os.walk(tmp_path / 'run')
            for name in names if name.endswith('.log')]
    assert len(logs) == 1
    text = open(logs[0]).read()
    assert 'Iter(train) [3/3]' in text and 'Config:' in text
