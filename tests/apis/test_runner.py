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


FINETUNE = 'configs/clip/clip_vit-tiny-p8_1xb256-300i_shapes-ft.py'


def _before_run_of_every_hook(cfg):
    from tpc_cma_mm.apis.runner import build_runner
    runner = build_runner(cfg)
    for hook in runner.hooks:
        if type(hook).__name__ == 'RequireFilesHook':
            hook.before_run(runner)
    return runner


@pytest.mark.parametrize('override', [dict(load_from=None),
                                      {'default_hooks.require_files': None}])
def test_a_shipped_finetune_config_starts_without_its_weights(tmp_path, override):
    """Starting a shipped fine-tune config elsewhere: either the weights are dropped
    (load_from=None) or the file check is (default_hooks.require_files=None)."""
    from tpc_cma_mm.apis.runner import load_run_config
    cfg = load_run_config(FINETUNE, str(tmp_path), cfg_options=override)
    runner = _before_run_of_every_hook(cfg)
    names = {type(h).__name__ for h in runner.hooks}
    assert ('RequireFilesHook' in names) == ('load_from' in override)
    assert {'AtomicCheckpointHook', 'LoggerHook', 'ParamSchedulerHook'} <= names  # the rest stay


def test_the_shipped_file_check_still_names_a_missing_file(tmp_path):
    from tpc_cma_mm.apis.runner import load_run_config
    cfg = load_run_config(FINETUNE, str(tmp_path),
                          cfg_options=dict(load_from=str(tmp_path / 'nope.pth')))
    with pytest.raises(FileNotFoundError, match='load_from=.*nope.pth.*tiny pretrained'):
        _before_run_of_every_hook(cfg)


COCO = 'configs/_base_/datasets/coco_karpathy.py'


def test_a_top_level_data_root_is_refused_naming_the_keys_to_override(tmp_path):
    from tpc_cma_mm.apis.runner import load_run_config
    with pytest.raises(ValueError, match=r'data_root=\.\.\. changes nothing.*'
                       r'train_dataloader\.dataset\.data_root=\.\.\. '
                       r'val_dataloader\.dataset\.data_root=\.\.\.'):
        load_run_config(COCO, str(tmp_path), cfg_options=dict(data_root='/mine'))
    cfg = load_run_config(COCO, str(tmp_path), cfg_options={
        'train_dataloader.dataset.data_root': '/mine', 'load_from': None})
    assert cfg.train_dataloader.dataset.data_root == '/mine'


def test_a_copied_config_variable_is_refused(tmp_path):
    from tpc_cma_mm.apis.runner import load_run_config
    path = tmp_path / 'cfg.py'
    path.write_text("lr = 0.1\noptim_wrapper = dict(optimizer=dict(type='SGD', lr=lr))\n"
                    "custom_hooks = [dict(type='EMAHook', momentum=lr)]\n")
    with pytest.raises(ValueError, match=r"lr=0\.1 is a config variable.*"
                       r"optim_wrapper\.optimizer\.lr=\.\.\. "
                       r'custom_hooks\.0\.momentum=\.\.\.'):
        load_run_config(str(path), str(tmp_path), cfg_options=dict(lr=0.2))
    cfg = load_run_config(str(path), str(tmp_path), cfg_options={'custom_hooks.0.momentum': 0.2})
    assert cfg.custom_hooks[0].momentum == 0.2
