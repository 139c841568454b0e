"""tpc_cma_mm.apis.runner: the options of tools/train.py and tools/test.py on a Config."""
import pytest
from mmengine.config import Config

from tpc_cma_mm.apis.runner import (add_tensorboard, disable_validation, enable_auto_scale_lr,
                                    set_dataloader_options, set_test_amp)


def loaders(**train):
    return Config(dict(train_dataloader=dict(num_workers=2, **train),
                       val_dataloader=dict(num_workers=0), test_dataloader=None,
                       val_cfg=dict(type='ValLoop'), val_evaluator=dict(type='Accuracy'),
                       test_cfg=dict(type='TestLoop')))


def test_persistent_workers_without_workers_is_refused_with_the_fix():
    cfg = loaders(persistent_workers=True)
    cfg.train_dataloader.num_workers = 0  # e.g. --cfg-options ...num_workers=0 on COCO
    with pytest.raises(ValueError, match='train_dataloader.*--no-persistent-workers'):
        set_dataloader_options(cfg)
    set_dataloader_options(cfg, pin_memory=False, persistent_workers=False)
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.pin_memory is False and cfg.test_dataloader is None


def test_auto_scale_lr_needs_a_base_batch_size():
    cfg = loaders()
    with pytest.raises(ValueError, match='base_batch_size'):
        enable_auto_scale_lr(cfg)
    cfg.auto_scale_lr = dict(base_batch_size=256)
    enable_auto_scale_lr(cfg)
    assert cfg.auto_scale_lr == dict(base_batch_size=256, enable=True)


def test_no_validate_test_amp_and_tensorboard():
    cfg = loaders()
    disable_validation(cfg)
    assert cfg.val_cfg is None and cfg.val_dataloader is None and cfg.val_evaluator is None
    set_test_amp(cfg)
    assert cfg.test_cfg == dict(type='TestLoop', fp16=True)
    pytest.importorskip('tensorboard')
    add_tensorboard(cfg)
    add_tensorboard(cfg)  # once only
    assert [b['type'] for b in cfg.visualizer.vis_backends] == ['LocalVisBackend',
                                                                 'TensorboardVisBackend']
