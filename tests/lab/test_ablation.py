"""The distribution-term ablation: each variant's run as data, the table, and a tiny end to end."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from tiny import TINY_IMAGE, TINY_PIPELINE, tiny_model_cfg
from tool_runner import run_tool
from tpc_cma_lab.ablation import (LOSS_VARIANTS, STARTING_MODEL, ablation_run, ablation_table,
                                  merge_rows, table_markdown)
from tpc_cma_lab.engine import run_config
from tpc_cma_mm.apis import embed_split, init_model
from tpc_cma_mm.evaluation.functional import gap_metrics
from tpc_cma_mm.registry import MODELS

TARGET = 'configs/tpc_cma/tpc-cma-target-c0.5_vit-tiny-p8_1xb256-300i_shapes.py'
SEEN = ['circle', 'triangle', 'cross', 'hexagon']  # the config holds the other four out


def _hook(cfg):
    return [h for h in cfg.custom_hooks if h['type'] == 'TPCCurriculumHook'][0]


@pytest.mark.parametrize('name', list(LOSS_VARIANTS))
def test_each_variant_is_the_config_with_its_loss_on_the_seen_classes(name):
    init_default_scope('tpc_cma_mm')
    base = Config.fromfile(TARGET)
    base.load_from = 'start.pth'
    cfg = run_config(ablation_run(base, name, seed=1, reduction=0.4, work_dir='w'), base)
    assert cfg.model.cma_loss == LOSS_VARIANTS[name]
    assert cfg.train_dataloader.dataset.shapes == SEEN
    assert _hook(cfg)['target'] == dict(key='centroid', reduction=0.4)
    assert (cfg.load_from, cfg.randomness.seed) == ('start.pth', 1)
    MODELS.build(cfg.model)  # the variant's loss config is valid


def test_variants_have_their_own_work_dirs_and_unknown_ones_are_refused():
    base = Config.fromfile(TARGET)
    dirs = {ablation_run(base, name, 0, 0.5, 'w').work_dir for name in LOSS_VARIANTS}
    assert len(dirs) == len(LOSS_VARIANTS)
    with pytest.raises(KeyError, match='No ablation variant'):
        ablation_run(base, 'w_cov 7', 0, 0.5, 'w')


def test_table_gives_mean_and_sample_std_over_seeds():
    def row(variant, seed, reached, value):
        return dict(variant=variant, seed=seed, reached=reached,
                    metrics={'reduction/centroid': value, 'gap/bures_unit': value / 100})
    rows = [row(STARTING_MODEL, None, None, 0.0), row('L_align', 0, 1, 49.0),
            row('L_align', 1, 0, 52.0), row('L_align', 2, 1, 51.5)]
    lines = table_markdown(rows).splitlines()
    assert lines[0] == '| variant | seeds | reached | centroid reduction % | bures_unit |'
    values = np.array([49.0, 52.0, 51.5])
    mean, std = values.mean(), float(np.sqrt(((values - values.mean()) ** 2).sum() / 2))
    assert lines[2] == '| starting model | 1 | - | 0.000 | 0.000 |'
    assert lines[3] == (f'| L_align | 3 | 2/3 | {mean:.3f} ± {std:.3f} | '
                        f'{mean / 100:.3f} ± {std / 100:.3f} |')


def _tiny(cfg: Config) -> Config:
    cfg.model = Config(dict(model=tiny_model_cfg(zero_shot=cfg.model.zero_shot,
                                                 cma_loss=dict(type='CMALoss'),
                                                 combine='grad_share'))).model
    for split in ('train', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.batch_size = 16
        loader.dataset.update(num_samples=64 if split == 'train' else 48,
                              image_size=TINY_IMAGE, pipeline=[dict(s) for s in TINY_PIPELINE])
    cfg.train_cfg.max_iters = 10
    return cfg


@pytest.mark.slow  # trains two tiny variants
def test_rows_are_the_trained_models_scores_against_the_start(tmp_path):
    init_default_scope('tpc_cma_mm')
    cfg = _tiny(Config.fromfile(TARGET))
    start = str(tmp_path / 'start.pth')
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), start)
    cfg.load_from = start
    work = str(tmp_path / 'work')
    rows = ablation_table(cfg, ['L_align', '+ MMD'], seeds=[0], reduction=0.5, work_dir=work,
                          captioning=False)
    assert [r['variant'] for r in rows] == [STARTING_MODEL, 'L_align', '+ MMD']

    def centroid(config, checkpoint):
        model = init_model(config, checkpoint)
        embeds = embed_split(model, Runner.build_dataloader(config.test_dataloader),
                             progress=False)
        return gap_metrics(embeds['img'], embeds['text'], max_mmd_samples=0)['centroid']

    before = centroid(cfg, start)
    for row in rows[1:]:
        run = ablation_run(cfg, row['variant'], 0, 0.5, work)
        after = centroid(run_config(run, cfg), osp.join(run.work_dir, 'iter_10.pth'))
        assert row['metrics']['gap/centroid'] == pytest.approx(after, rel=1e-6)
        assert row['metrics']['reduction/centroid'] == pytest.approx(
            100 * (1 - after / before), rel=1e-6)
        assert row['reached'] in (0, 1)
    # the MMD variant trained another model than L_align
    assert rows[1]['metrics']['gap/centroid'] != rows[2]['metrics']['gap/centroid']
    # a second call reuses the trained runs and gives the same rows
    again = ablation_table(cfg, ['L_align', '+ MMD'], seeds=[0], reduction=0.5, work_dir=work,
                           captioning=False)
    assert again == rows


def test_merge_keeps_one_starting_row_and_refuses_other_starts():
    def row(variant, seed, value):
        return dict(variant=variant, seed=seed, reached=1, metrics={'gap/centroid': value})
    seed0 = [row(STARTING_MODEL, None, 1.0), row('L_align', 0, 0.5), row('+ MMD', 0, 0.6)]
    seed1 = [row(STARTING_MODEL, None, 1.0), row('L_align', 1, 0.4)]
    merged = merge_rows([seed0, seed1])
    assert merged == [seed0[0], seed0[1], seed0[2], seed1[1]]
    assert merge_rows([seed0, seed0]) == seed0  # a call given twice counts once
    with pytest.raises(ValueError, match='same model'):
        merge_rows([seed0, [row(STARTING_MODEL, None, 0.9)]])
    with pytest.raises(ValueError, match='different results'):
        merge_rows([seed0, [row(STARTING_MODEL, None, 1.0), row('L_align', 0, 0.7)]])


def test_the_tool_merges_earlier_results_files(tmp_path):
    rows = [dict(variant=STARTING_MODEL, seed=None, reached=None,
                 metrics={'reduction/centroid': 0.0}),
            dict(variant='L_align', seed=0, reached=1, metrics={'reduction/centroid': 50.5})]
    first = tmp_path / 'seed0.json'
    first.write_text(json.dumps(dict(command='x', rows=rows)))
    out = tmp_path / 'table.md'
    result = run_tool('tools/ablation.py', '--merge', str(first), '--out', str(out))
    assert result.returncode == 0, result.stderr
    assert '| L_align | 1 | 1/1 | 50.500 |' in result.stdout
    assert json.loads((tmp_path / 'table.json').read_text())['rows'] == rows
    assert run_tool('tools/ablation.py', TARGET, '--merge', str(first)).returncode == 2
