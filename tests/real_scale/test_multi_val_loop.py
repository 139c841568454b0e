"""MultiValLoop: main set + zero-shot sets with their own prefixes, checked against numpy."""
import pytest
from mmpretrain.datasets import CIFAR10

from real_scale.fabricate import write_cifar10, write_image_folder
from real_scale.independent import numpy_zero_shot
from tiny import TINY_IMAGE
from tiny_runner import read_scalars, run_tiny, tiny_runner_cfg
from tpc_cma_mm.datasets import load_vocabulary

IMAGE_PIPELINE = [dict(type='ResizeEdge', scale=TINY_IMAGE, edge='short'),
                  dict(type='CenterCrop', crop_size=TINY_IMAGE), dict(type='PackInputs')]
FOLDER_CLASSES = ['sea_lion', 'tabby_cat', 'zebra']


def _loader(dataset):
    return dict(batch_size=5, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dataset)


def _extra_sets(tmp_path):
    return dict(
        cifar10=dict(
            dataloader=_loader(dict(type='SafeCIFAR10', data_root=str(tmp_path / 'cifar'),
                                    split='test', pipeline=IMAGE_PIPELINE)),
            evaluator=dict(type='Accuracy', topk=(1, 5), thrs=None, prefix='zero_shot_cifar10'),
            zero_shot=dict(benchmark='cifar10')),
        folder=dict(
            dataloader=_loader(dict(type='CustomDataset', data_root=str(tmp_path / 'folder'),
                                    pipeline=[dict(type='LoadImageFromFile'), *IMAGE_PIPELINE])),
            evaluator=dict(type='Accuracy', topk=(1, ), thrs=None, prefix='zero_shot_folder'),
            zero_shot=dict(templates=['a photo of a {}.', 'a {}'])))


@pytest.fixture
def data(tmp_path, monkeypatch):
    # Fabricated batches cannot match the real md5 sums.
    monkeypatch.setattr(CIFAR10, 'train_list', [[n, None] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, 'test_list', [[n, None] for n, _ in CIFAR10.test_list])
    write_cifar10(str(tmp_path / 'cifar'), per_batch=12)
    write_image_folder(str(tmp_path / 'folder'), FOLDER_CLASSES, per_class=3)
    return tmp_path


def test_multi_val_loop_scores_every_set_like_numpy(data):
    cfg = tiny_runner_cfg(data / 'work', max_iters=2, interval=2, val=True, curriculum=False)
    cfg['val_evaluator'].append(dict(type='ModalityGapMetric'))
    cfg['val_cfg'] = dict(type='MultiValLoop', extra_sets=_extra_sets(data))
    runner = run_tiny(cfg)
    logged = read_scalars(str(data / 'work'))[('val', 0)]
    model = runner.model.eval()
    assert model.zero_shot is None  # restored after the zero-shot sets
    names, templates = load_vocabulary('cifar10')
    sets = _extra_sets(data)
    expected = numpy_zero_shot(model, sets['cifar10']['dataloader']['dataset'],
                                [p for _, p in names], templates, (1, 5))
    folder = numpy_zero_shot(model, sets['folder']['dataloader']['dataset'],
                              ['sea lion', 'tabby cat', 'zebra'], ['a photo of a {}.', 'a {}'],
                              (1, ))
    assert logged['zero_shot_cifar10/top1'] == pytest.approx(expected[1], abs=1e-4)  # float32 in mmpretrain; one image is 8.3 %
    assert logged['zero_shot_cifar10/top5'] == pytest.approx(expected[5], abs=1e-4)  # float32 in mmpretrain; one image is 8.3 %
    assert logged['zero_shot_folder/top1'] == pytest.approx(folder[1], abs=1e-4)  # float32 in mmpretrain; one image is 8.3 %
    assert 'gap/centroid' in logged and 'retrieval/i2t_R1' in logged
    # The same validation again (as after a resume) gives the same numbers.
    again = runner.val_loop.run()
    assert again['zero_shot_cifar10/top1'] == pytest.approx(expected[1], abs=1e-4)  # float32 in mmpretrain; one image is 8.3 %


def test_prefix_clash_is_refused(data):
    cfg = tiny_runner_cfg(data / 'work', max_iters=2, interval=2, val=True, curriculum=False)
    # A second caption set with the default retrieval prefix would overwrite the first.
    cfg['val_cfg'] = dict(type='MultiValLoop', extra_sets=dict(again=dict(
        dataloader=cfg['val_dataloader'], evaluator=dict(type='CrossModalRetrieval'))))
    with pytest.raises(ValueError, match='distinct prefix'):
        run_tiny(cfg)


def test_a_set_without_classes_for_zero_shot_is_refused(data):
    cfg = tiny_runner_cfg(data / 'work', max_iters=2, interval=2, val=True, curriculum=False)
    cfg['val_cfg'] = dict(type='MultiValLoop', extra_sets=dict(bad=dict(
        dataloader=cfg['val_dataloader'], evaluator=dict(type='Accuracy'),
        zero_shot=dict(benchmark='cifar10'))))
    with pytest.raises(ValueError, match="no metainfo\\['classes'\\]|label 0"):
        run_tiny(cfg)
