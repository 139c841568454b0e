"""Every leaf config parses, imports the plugin strictly and builds; the mixed-tower configs train."""
import glob
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from tpc_cma_mm.registry import DATASETS, HOOKS, MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
LEAF_CONFIGS = sorted(
    path for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in path)
MIXED_TOWERS = ['configs/tpc_cma/tpc-cma-a0.05_resnet-tiny_1xb256-1k_shapes.py',
                'configs/tpc_cma/tpc-cma-a0.05_convnext-tiny_1xb256-1k_shapes.py']


def test_every_kind_of_leaf_config_is_found():
    names = {osp.relpath(p, REPO) for p in LEAF_CONFIGS}
    assert {'configs/cma_clip_b16.py', 'configs/tpc_cma/tpc-cma-a0.5_vit-base-p16_1xb256-5k_coco.py', *MIXED_TOWERS} <= names


@pytest.mark.parametrize('path', LEAF_CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_leaf_config_builds(path, monkeypatch):
    from tpc_cma_mm.engine.hooks import curriculum_checks
    warned = []
    monkeypatch.setattr(curriculum_checks, 'print_log', lambda msg, **kw: warned.append(msg))
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'tpc_cma_mm'
    assert cfg.custom_imports == dict(imports=['tpc_cma_mm'], allow_failed_imports=False)
    # ViT-B/16 and ViT-L/14 on the meta device (names and shapes only); the tiny
    # backbones compute values while building (drop-path rates) and build for real.
    name = osp.basename(path)
    real_scale = name == 'cma_clip_b16.py' or 'vit-base' in name or 'vit-large' in name
    with torch.device('meta' if real_scale else 'cpu'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
        for hook_cfg in cfg.get('custom_hooks', []):  # hooks validate their values when built
            hook = HOOKS.build(hook_cfg)
            if hook_cfg['type'] == 'TPCCurriculumHook':  # and against the model and budget:
                # no knob the model's combination ignores, no phase the budget skips
                hook.before_train(SimpleNamespace(model=model, iter=0, logger=None,
                                                  max_iters=cfg.train_cfg.max_iters))
                # nor a warned one (grad_share's constant cap, a phase the budget rounds away)
                assert warned == []


@pytest.mark.parametrize('path', MIXED_TOWERS)
def test_mixed_tower_config_takes_a_training_step(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, num_samples=4))
    data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]), training=True)
    model.objective.set_schedule(alpha=0.5)
    losses = model(**data, mode='loss')
    sum(value for key, value in losses.items() if 'loss' in key).backward()
    assert torch.isfinite(losses['loss_cma']) and losses['loss_cma'] > 0
    grads = [p.grad for p in model.visual.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


# Top-level keys mmengine's Runner reads. Any other top-level variable would be a
# decoy: it is substituted into the dicts at parse time, so overriding it with
# --cfg-options changes nothing (docs/pitfalls.md, "Config variables are substituted").
# Pipelines are the mmpretrain convention for the lists the data loaders share.
RUNNER_KEYS = {
    'model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
    'test_evaluator', 'train_cfg', 'val_cfg', 'test_cfg', 'optim_wrapper',
    'param_scheduler', 'default_hooks', 'custom_hooks', 'default_scope', 'custom_imports',
    'env_cfg', 'visualizer', 'log_processor', 'log_level', 'load_from', 'resume',
    'randomness', 'runner_type', 'strategy', 'work_dir', 'auto_scale_lr', 'launcher'}
PIPELINES = {'pipeline', 'train_pipeline', 'test_pipeline'}


@pytest.mark.parametrize('path', LEAF_CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_leaf_config_has_no_decoy_variables(path):
    cfg = Config.fromfile(path)
    # reproduce: read by tools/reproduce.py (tpc_cma_lab/reproduce/benchmarks.py);
    # read_base: the import every new-style config starts with (configs/new_style/).
    decoys = set(cfg.keys()) - RUNNER_KEYS - PIPELINES - {'zero_shot', 'reproduce', 'read_base'}
    assert not decoys, f'{osp.relpath(path, REPO)}: top-level variables {sorted(decoys)}'


def test_documented_overrides_take_effect():
    """The overrides the config headers tell users about change what is built."""
    tpc = osp.join(REPO, 'configs/tpc_cma/tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py')
    cfg = Config.fromfile(tpc)
    cfg.merge_from_dict({'custom_hooks.0.alpha_target': 0.3})
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
        hook = HOOKS.build(cfg.custom_hooks[0])
    assert type(hook).__name__ == 'TPCCurriculumHook' and hook.alpha_target == 0.3

    coco = Config.fromfile(osp.join(REPO, 'configs/cma_clip_b16.py'))
    coco.merge_from_dict({f'{split}_dataloader.dataset.data_root': '/elsewhere'
                          for split in ('train', 'val', 'test')})
    assert {coco[f'{split}_dataloader'].dataset.data_root
            for split in ('train', 'val', 'test')} == {'/elsewhere'}
    assert coco.custom_hooks[0].type == 'TPCCurriculumHook'

    shapes = Config.fromfile(osp.join(REPO, 'configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py'))
    shapes.merge_from_dict({'train_dataloader.dataset.seed': 1})
    dataset = DATASETS.build(dict(shapes.train_dataloader.dataset, num_samples=8))
    reference = DATASETS.build(dict(shapes.train_dataloader.dataset, seed=1, num_samples=8))
    seed0 = DATASETS.build(dict(shapes.train_dataloader.dataset, seed=0, num_samples=8))
    texts = [dataset.get_data_info(i)['text'] for i in range(8)]
    assert texts == [reference.get_data_info(i)['text'] for i in range(8)]
    assert texts != [seed0.get_data_info(i)['text'] for i in range(8)]


def test_metafiles_name_existing_configs():
    import yaml
    for folder in ('clip', 'tpc_cma'):
        with open(osp.join(REPO, 'configs', folder, 'metafile.yml')) as f:
            meta = yaml.safe_load(f)
        listed = {m['Config'] for m in meta['Models']}
        on_disk = {osp.relpath(p, REPO) for p in LEAF_CONFIGS
                   if osp.dirname(osp.relpath(p, REPO)) == f'configs/{folder}'}
        assert listed == on_disk, f'configs/{folder}/metafile.yml and the folder differ'


def test_metafile_metric_names_are_logged_keys():
    """Each metafile metric is named as the Runner logs it: the keys of the
    reproduction's recorded runs (results/reproduction/quick/results.json)."""
    import json

    import yaml
    with open(osp.join(REPO, 'results', 'reproduction', 'quick', 'results.json')) as f:
        logged = set(json.load(f)['summary']['original']['metrics'])
    for folder in ('clip', 'tpc_cma'):
        with open(osp.join(REPO, 'configs', folder, 'metafile.yml')) as f:
            meta = yaml.safe_load(f)
        for model in meta['Models']:
            for result in model['Results'] or []:
                assert set(result['Metrics']) <= logged, (model['Name'], result['Metrics'])


def test_the_new_style_config_equals_its_old_style_twin():
    new = Config.fromfile(osp.join(
        REPO, 'configs/new_style/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py')).to_dict()
    old = Config.fromfile(osp.join(
        REPO, 'configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py')).to_dict()
    assert new == old
