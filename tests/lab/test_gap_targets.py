"""The gap-target evidence: configs derived in each mode, and the table's rows."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from tpc_cma_lab.engine import run_config
from tpc_cma_lab.gap_targets import (curriculum_run, table_markdown, with_alpha_target,
                                     with_target)
from tpc_cma_mm.registry import HOOKS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TPC = osp.join(REPO, 'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py')


def _hook(cfg):
    hook = [h for h in cfg.custom_hooks if h['type'] == 'TPCCurriculumHook']
    assert len(hook) == 1
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
        return HOOKS.build(hook[0])  # the derived settings are valid


def test_target_and_fixed_alpha_configs_keep_the_curriculum_shape():
    base = Config.fromfile(TPC)
    target = _hook(with_target(base, 0.25, 'distribution'))
    assert target.target_cfg == dict(key='distribution', reduction=0.25)
    assert target.phases == _hook(base).phases and target.ramp == _hook(base).ramp
    fixed = _hook(with_alpha_target(with_target(base, 0.25), 0.42))
    assert fixed.target_cfg is None and fixed.alpha_target == 0.42
    assert _hook(base).alpha_target == 0.05  # the base config is not changed


def test_a_config_without_the_curriculum_is_refused():
    plain = Config.fromfile(
        osp.join(REPO, 'configs/clip/clip_vit-tiny-p8_1xb256-300i_shapes-ft.py'))
    with pytest.raises(ValueError, match='exactly one TPCCurriculumHook'):
        with_target(plain, 0.5)


def test_table_has_one_line_per_run():
    rows = [dict(config='vit', seed=0, target=50.0, key='centroid', achieved=48.25,
                 train_estimate=51.0, reached=1, limit=0, fixed_alpha=0.42, fixed_achieved=55.5),
            dict(config='vit', seed=1, target=50.0, key='centroid', achieved=30.0,
                 train_estimate=33.0, reached=0, limit=1, fixed_alpha=None, fixed_achieved=None)]
    lines = table_markdown(rows).splitlines()
    assert lines[2] == '| vit | 0 | centroid | 50 | 48.2 | 51.0 | yes | 0.42 | 55.5 |'
    assert lines[3] == '| vit | 1 | centroid | 50 | 30.0 | 33.0 | no | - | - |'


def test_each_run_is_the_config_with_its_curriculum_from_its_load_from():
    """What target_table trains (the engine's run): the mode's config of with_target /
    with_alpha_target, from the config's load_from, without validation, its own length."""
    base = Config.fromfile(TPC)
    base.load_from = 'original.pth'
    for curriculum, derived in ((dict(target=dict(key='centroid', reduction=0.5)),
                                 with_target(base, 0.5)),
                                (dict(alpha_target=0.42), with_alpha_target(base, 0.42))):
        cfg = run_config(curriculum_run(base, curriculum, 'w', seed=2, threads=1), base)
        assert cfg.custom_hooks == derived.custom_hooks
        assert (cfg.load_from, cfg.randomness.seed, cfg.train_cfg.max_iters) == \
            ('original.pth', 2, base.train_cfg.max_iters)
        assert cfg.val_dataloader is None and 'val_interval' not in cfg.train_cfg
