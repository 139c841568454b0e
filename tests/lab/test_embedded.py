"""The untrained variants share one load and one embedding of the original model
(tpc_cma_lab/reproduce/embedded.py): each variant's numbers equal a fresh load's, bit for bit."""
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tiny import TINY_PIPELINE
from tpc_cma_lab import reproduce
from tpc_cma_lab.reproduce import embedded
from tpc_cma_mm.registry import MODELS

pytestmark = pytest.mark.slow  # four variants scored twice, three caption decoders each time

# The method config's untrained variants, which score one checkpoint (another tower's
# original is another model).
UNTRAINED = [v for v in reproduce.variants(reproduce.MODES['quick']).values()
             if not v.trained and v.tower is None]
SETTINGS = dict(decoder_iters=2, caption_train=32, caption_test=8)


def _config() -> Config:
    """The tiny method config on small splits, with a zero-shot and a clustering extra set."""
    cfg = Config.fromfile(reproduce.TINY_METHOD)
    cfg.train_dataloader.dataset.num_samples = 200
    cfg.test_dataloader.dataset.num_samples = 48
    pipeline = [dict(step, context_length=cfg.model.context_length)
                if step['type'] == 'TokenizeCaption' else step for step in TINY_PIPELINE]
    data = dict(batch_size=16, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(type='ShapeCaptions', split='val', num_samples=32, seed=0,
                             pipeline=pipeline))
    cfg.val_cfg = dict(type='MultiValLoop', extra_sets=dict(
        shapes=dict(dataloader=data, zero_shot=dict(templates=['a {}.']),
                    evaluator=dict(type='ZeroShotAccuracy', topk=(1, ), prefix='zs_shapes')),
        pairs=dict(dataloader=data, evaluator=dict(type='JointClusteringMetric', seeds=(0, ),
                                                   n_init=2, prefix='pairs'))))
    return cfg


def _save_weights(cfg, path, seed):
    init_default_scope('tpc_cma_mm')
    torch.manual_seed(seed)
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, str(path))


def _score(cfg, ckpt, out_dir, keep):
    """Every untrained variant's (metrics, extra metrics), each after run_job's seeding."""
    scores = []
    for variant in UNTRAINED:
        torch.manual_seed(0)
        captioning = None if variant.captioning is None else dict(variant.captioning)
        scores.append(reproduce.evaluate(cfg, ckpt, variant.posthoc, SETTINGS, str(out_dir),
                                         False, captioning, keep=keep)[:2])
    return scores


def test_untrained_variants_share_one_load_with_a_fresh_load_s_numbers(tmp_path, monkeypatch):
    cfg, ckpt = _config(), tmp_path / 'original.pth'
    _save_weights(cfg, ckpt, seed=0)
    loads = []
    load = embedded.init_model
    monkeypatch.setattr(embedded, 'init_model', lambda *a, **k: loads.append(1) or load(*a, **k))
    embedded.release()
    fresh = _score(cfg, str(ckpt), tmp_path / 'fresh', keep=False)
    assert len(loads) == len(UNTRAINED) == 4
    shared = _score(cfg, str(ckpt), tmp_path / 'shared', keep=True)
    assert len(loads) == 5  # one load for the four variants
    # repr: exact digits, and NaN equal to NaN
    assert repr(shared) == repr(fresh)
    metrics = fresh[0][0]
    for key in ('gap/centroid', 'zero_shot_held_out/top1', 'zs_shapes/top1', 'pairs/ari_class',
                'caption_image/CIDEr'):
        assert key in metrics, key  # every kind of score was compared
    assert fresh[0] != fresh[1]  # the variants' fixes apply to the shared embeddings

    # Other weights written to the same path are another model, not the kept one.
    _save_weights(cfg, ckpt, seed=1)
    stat = os.stat(ckpt)
    os.utime(ckpt, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    other = reproduce.evaluate(cfg, str(ckpt), None, SETTINGS, str(tmp_path / 'other'),
                               False, None, keep=True)[0]
    assert len(loads) == 6 and other['gap/centroid'] != metrics['gap/centroid']
    embedded.release()
