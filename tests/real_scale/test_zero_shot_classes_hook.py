"""ZeroShotClassesHook: the model's zero-shot classes follow the data set's labels."""
import pytest

from tiny import tiny_model_cfg
from tiny_runner import read_scalars, run_tiny, tiny_runner_cfg
from tpc_cma_mm.datasets import SHAPES

TEMPLATES = ['a photo of a {}', 'a {}']


def _cfg(work_dir, zero_shot):
    cfg = tiny_runner_cfg(work_dir, max_iters=2, interval=2, val=True, curriculum=False,
                          model=tiny_model_cfg(zero_shot=zero_shot))
    cfg['val_evaluator'] = [dict(type='Accuracy', topk=(1, ), thrs=None, prefix='zero_shot')]
    cfg['default_hooks']['zero_shot_classes'] = dict(type='ZeroShotClassesHook')
    return cfg


def test_classes_in_another_order_are_refused(tmp_path):
    reordered = [SHAPES[1], SHAPES[0], *SHAPES[2:]]
    with pytest.raises(ValueError, match=f"label 0 is '{SHAPES[0]}' in the data set"):
        run_tiny(_cfg(tmp_path, dict(classnames=reordered, templates=TEMPLATES)))


def test_templates_only_take_the_data_set_classes(tmp_path):
    runner = run_tiny(_cfg(tmp_path / 'a', dict(templates=TEMPLATES)))
    assert runner.model.zero_shot['classnames'] == list(SHAPES)
    explicit = run_tiny(_cfg(tmp_path / 'b', dict(classnames=list(SHAPES), templates=TEMPLATES)))
    from_metainfo = read_scalars(str(tmp_path / 'a'))[('val', 0)]['zero_shot/top1']
    given = read_scalars(str(tmp_path / 'b'))[('val', 0)]['zero_shot/top1']
    assert from_metainfo == given and explicit.model.zero_shot['classnames'] == list(SHAPES)
