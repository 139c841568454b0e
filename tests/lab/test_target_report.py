"""The reproduction report's gap-target section (tpc_cma_lab.target_report) and its rows."""
import os.path as osp

import pytest
from mmengine.config import Config

from tpc_cma_lab import reproduce
from tpc_cma_lab.engine import run_config
from tpc_cma_lab.report import analyse
from tpc_cma_lab.target_report import (GAP_TARGETS, main_runs, target_rows, target_table,
                                       target_verdict)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _run(variant, seed, centroid, tower=None, target=None, section=GAP_TARGETS):
    return dict(variant=variant, seed=seed, alpha_target=0.0, section=section, tower=tower,
                gap_target=target, work_dir=None, metrics={'gap/centroid': centroid},
                extra_metrics={})


def _results(convnext_after=(0.42, 0.38)):
    runs = [_run('original', 0, 1.0, section='main'), _run('original', 1, 1.0, section='main'),
            _run('TPC-CMA alpha=0.5', 0, 0.3, section='main')]
    runs += [_run('gap target centroid 50 %', s, c, target=0.5)
             for s, c in ((1, 0.52), (0, 0.47))]
    runs += [_run('ConvNeXt: original', 0, 0.8, tower='ConvNeXt')]
    runs += [_run('ConvNeXt: gap target centroid 50 %', s, c, tower='ConvNeXt', target=0.5)
             for s, c in enumerate(convnext_after)]
    return {f'{r["variant"]} | seed {r["seed"]}': r for r in runs}


def test_each_run_is_measured_against_its_own_towers_original():
    rows = target_rows(_results())
    assert [(r['tower'], r['target']) for r in rows] == [('method config', 50.0),
                                                        ('ConvNeXt', 50.0)]
    # Seed order; 1 - after / before, in %.
    assert rows[0]['achieved'] == pytest.approx([53.0, 48.0])
    assert rows[1]['achieved'] == pytest.approx([47.5, 52.5])
    assert rows[1]['mean'] == pytest.approx(50.0) and rows[1]['std'] == pytest.approx(2.5)
    assert rows[0]['within'] and rows[1]['within']
    verdict = target_verdict(rows)
    assert verdict['holds'] is True and verdict['margin'] == \
        'largest miss 3.0 points (method config, 50 %)'
    assert set(main_runs(_results())) == {'original | seed 0', 'original | seed 1',
                                          'TPC-CMA alpha=0.5 | seed 0'}


def test_a_run_beyond_the_tolerance_fails_the_verdict_and_is_marked():
    rows = target_rows(_results(convnext_after=(0.44, 0.35)))  # 45 and 56.25 %
    assert not rows[1]['within'] and rows[0]['within']
    verdict = target_verdict(rows)
    assert verdict['holds'] is False and 'largest miss 6.2 points (ConvNeXt, 50 %)' in \
        verdict['margin']
    assert '| ConvNeXt | 50 % | 45.0 / 56.2 | 50.6 ± 5.6 | **no** |' in target_table(rows)


def test_no_target_runs_is_not_judged_and_a_missing_original_is_named():
    assert target_verdict([])['holds'] is None and target_table([]) == []
    results = _results()
    del results['ConvNeXt: original | seed 0']
    with pytest.raises(ValueError, match='ConvNeXt tower but not its original'):
        target_rows(results)


def test_the_gap_target_section_stays_out_of_the_claims_tables():
    """The report's summary, R² and claims see the paper's runs only."""
    results = _results()
    main, summary, *_, targets, verdicts = analyse(results, dict(seeds=[0, 1]))
    assert set(summary) == {'original', 'TPC-CMA alpha=0.5'} and main == main_runs(results)
    assert verdicts['gap_targets'] == target_verdict(targets)


def test_target_rows_ask_the_curriculum_for_a_reduction_on_each_tower():
    settings = dict(reproduce.MODES['quick'], finetune_iters=30, threads=1)
    variants = reproduce.variants(settings)
    main = variants['gap target centroid 50 %']
    other = variants['ConvNeXt: gap target centroid 50 %']
    assert (main.section, main.tower, other.tower) == (GAP_TARGETS, None, 'ConvNeXt')
    assert not variants['ConvNeXt: original'].trained
    assert variants['original'].section == 'main' and main.captioning is None
    tower = reproduce.TARGET_TOWERS['ConvNeXt']['config']
    for config, variant in ((reproduce.TINY_METHOD, main), (tower, other)):
        cfg = Config.fromfile(osp.join(REPO, config))
        job = reproduce.Job(config=cfg.filename, work_dir='w', settings=settings,
                            original='o.pth', variant=variant.name, seed=0)
        run = run_config(reproduce.variant_run(job, cfg, variant), cfg)
        hook = [h for h in run.custom_hooks if h['type'] == 'TPCCurriculumHook'][0]
        assert hook['target'] == dict(key='centroid', reduction=0.5)
        assert 'alpha_target' not in hook and tuple(hook['phases']) == (0.1, 0.5, 0.4)
        # Fine-tuned on the seen classes, as every row of the report.
        assert len(run.train_dataloader.dataset.shapes) == 4
    assert run.model.vision_backbone.type == 'ConvNeXt'
