"""Every leaf config parses, imports the plugin strictly and builds; the mixed-tower configs train."""
import glob
import os.path as osp

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
MIXED_TOWERS = ['configs/tiny/clip_resnet-tiny_1x256_shapes-tpc-cma.py',
                'configs/tiny/clip_convnext-tiny_1x256_shapes-tpc-cma.py']


def test_every_kind_of_leaf_config_is_found():
    names = {osp.relpath(p, REPO) for p in LEAF_CONFIGS}
    assert {'configs/cma_clip_b16.py', 'configs/cma_clip_b16_alpha0.5.py', *MIXED_TOWERS} <= names


@pytest.mark.parametrize('path', LEAF_CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_leaf_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'tpc_cma_mm'
    assert cfg.custom_imports == dict(imports=['tpc_cma_mm'], allow_failed_imports=False)
    # ViT-B/16 and ViT-L/14 on the meta device (names and shapes only); the tiny
    # backbones compute values while building (drop-path rates) and build for real.
    real_scale = osp.basename(path).startswith('cma_clip') or '/scale/' in path
    with torch.device('meta' if real_scale else 'cpu'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
        for hook in cfg.get('custom_hooks', []):  # hooks validate their values when built
            HOOKS.build(hook)


@pytest.mark.parametrize('path', MIXED_TOWERS)
def test_mixed_tower_config_takes_a_training_step(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, num_samples=4))
    data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]), training=True)
    model.alpha = 0.5
    losses = model(**data, mode='loss')
    sum(value for key, value in losses.items() if 'loss' in key).backward()
    assert torch.isfinite(losses['loss_cma']) and losses['loss_cma'] > 0
    grads = [p.grad for p in model.visual.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
