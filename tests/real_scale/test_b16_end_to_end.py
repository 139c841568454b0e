"""The real B/16 config, randomly initialised, 3 iterations (one per curriculum phase),
then validation on fabricated COCO Karpathy + CIFAR-10 files, each metric compared with an independent computation."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.datasets import CIFAR10

from real_scale.fabricate import write_cifar10, write_karpathy
from real_scale.independent import embed_dataset, numpy_zero_shot
from tiny_runner import read_scalars, run_tiny
from tpc_cma_mm.datasets import load_vocabulary

pytestmark = pytest.mark.slow  # the real B/16 model end to end

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def b16_config(tmp_path):
    """configs/cma_clip_b16.py with only data folders, batch sizes, length and what the
    checkpoint holds changed."""
    cfg = Config.fromfile(osp.join(REPO, 'configs/cma_clip_b16.py'))
    loaders = {f'{split}_dataloader.{key}': value for split in ('train', 'val', 'test')
               for key, value in (('dataset.data_root', str(tmp_path / 'coco')),
                                  ('batch_size', 2), ('num_workers', 0))}
    cifar = 'val_cfg.extra_sets.cifar10.dataloader'
    cfg.merge_from_dict({
        **loaders, 'train_dataloader.persistent_workers': False,
        f'{cifar}.dataset.data_root': str(tmp_path / 'cifar'), f'{cifar}.batch_size': 4,
        f'{cifar}.num_workers': 0,
        'train_cfg.max_iters': 3, 'train_cfg.val_interval': 3,
        # Nothing here reads the optimizer's state: the checkpoint is written without it.
        'default_hooks.checkpoint.interval': 3, 'default_hooks.checkpoint.save_optimizer': False,
        'default_hooks.logger.interval': 1, 'load_from': None,
        'work_dir': str(tmp_path / 'work'),
        'env_cfg.dist_cfg.backend': 'gloo', 'log_level': 'WARNING'})
    cfg.default_hooks.pop('require_files')  # it asks for the converted OpenAI weights
    return cfg


def test_b16_config_trains_and_validates_every_evaluator(tmp_path, monkeypatch):
    monkeypatch.setattr(CIFAR10, 'test_list', [[n, None] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, 'train_list', [[n, None] for n, _ in CIFAR10.train_list])
    write_karpathy(str(tmp_path / 'coco'), splits=('train', 'restval', 'train', 'val', 'val',
                                                   'val', 'test'))
    write_cifar10(str(tmp_path / 'cifar'), per_batch=6)
    cfg = b16_config(tmp_path)
    torch.manual_seed(0)
    runner = run_tiny(cfg)
    logged = read_scalars(str(tmp_path / 'work'))[('val', 0)]
    model = runner.model.eval()

    names, templates = load_vocabulary('cifar10')
    expected = numpy_zero_shot(model, cfg.val_cfg.extra_sets.cifar10.dataloader.dataset,
                               [p for _, p in names], templates, (1, 5))
    assert logged['zero_shot_cifar10/top1'] == pytest.approx(expected[1], abs=1e-4)
    assert logged['zero_shot_cifar10/top5'] == pytest.approx(expected[5], abs=1e-4)

    _, batch, img = embed_dataset(model, cfg.val_dataloader.dataset)
    with torch.no_grad():
        text = torch.nn.functional.normalize(model.encode_text(batch['text_tokens']), dim=-1)
    text = text.double().numpy()
    assert img.shape[0] == 6  # 3 val images x 2 captions
    assert logged['gap/centroid'] == pytest.approx(
        np.linalg.norm(img.mean(0) - text.mean(0)), rel=1e-4)
    assert logged['gap/mean_paired_cosine'] == pytest.approx(
        np.mean(np.sum(img * text, axis=1)), abs=1e-4)
    # Text-to-image R@1 by brute force: a caption's own image ranked first, ties against it.
    ids = np.array([s.img_id for s in batch['data_samples']])
    unique, first = np.unique(ids, return_index=True)
    sims = text @ img[first].T
    own = sims[np.arange(len(ids)), np.searchsorted(unique, ids)]
    hits = (sims >= own[:, None]).sum(1) == 1
    assert logged['retrieval/t2i_R1'] == pytest.approx(100 * hits.mean(), abs=1e-4)
