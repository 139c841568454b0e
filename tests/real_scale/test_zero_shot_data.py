"""Zero-shot data: restricted CIFAR unpickling, vocabularies matched by name, COCO single-label."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest
from mmpretrain.datasets import CIFAR10
from mmpretrain.datasets.categories import CIFAR100_CATEGORIES, IMAGENET_CATEGORIES

from real_scale.fabricate import write_cifar10, write_coco
from tpc_cma_mm.datasets import (CocoSingleLabelCaptions, SafeCIFAR10, load_vocabulary,
                                 safe_unpickle, zero_shot_prompts)


@pytest.fixture
def cifar_without_md5(monkeypatch):
    # The fabricated batches cannot match the real files' md5 sums.
    monkeypatch.setattr(CIFAR10, 'train_list', [[n, None] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, 'test_list', [[n, None] for n, _ in CIFAR10.test_list])


def test_safe_cifar10_reads_the_batches_as_written(tmp_path, cifar_without_md5):
    written = write_cifar10(str(tmp_path))
    for split, names in (('train', [f'data_batch_{i}' for i in range(1, 6)]),
                         ('test', ['test_batch'])):
        dataset = SafeCIFAR10(data_root=str(tmp_path), split=split)
        expected = np.vstack([written[n][0] for n in names]).reshape(-1, 3, 32, 32)
        labels = sum((written[n][1] for n in names), [])
        assert len(dataset) == len(labels)
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            # the batches hold RGB planes; items are BGR, as image files load
            assert np.array_equal(info['img'], expected[i].transpose(1, 2, 0)[..., ::-1])
            assert info['gt_label'] == labels[i]
        assert dataset.metainfo['classes'][0] == 'airplane'


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_restricted_unpickler_refuses_code(tmp_path):
    payload = pickle.dumps({'data': _Payload(str(tmp_path / 'ran'))}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match='Refusing to load io.open'):
        safe_unpickle(payload)
    assert not (tmp_path / 'ran').exists()
    pickle.loads(payload)  # what mmpretrain's CIFAR10 does: the payload runs
    assert (tmp_path / 'ran').exists()
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    loaded = safe_unpickle(pickle.dumps({'data': array, 'labels': [1, 2], 'b': b'x'}, protocol=2))
    assert np.array_equal(loaded['data'], array) and loaded['labels'] == [1, 2]


def test_missing_cifar_files_name_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match='cifar-10-python.tar.gz'):
        SafeCIFAR10(data_root=str(tmp_path), split='test')


def test_vocabularies_follow_the_metainfo_order():
    names, templates = zero_shot_prompts(CIFAR100_CATEGORIES, benchmark='cifar100')
    assert names[1] == 'aquarium fish' and len(names) == 100 and len(templates) == 18
    assert IMAGENET_CATEGORIES.count('crane') == 2  # names repeat: compared by position
    imagenet, imagenet_templates = zero_shot_prompts(IMAGENET_CATEGORIES, benchmark='imagenet')
    assert imagenet[0] == 'tench' and len(imagenet) == 1000 and len(imagenet_templates) == 80
    vocabulary, _ = load_vocabulary('cifar10')
    assert [name for name, _ in vocabulary] == list(CIFAR10.METAINFO['classes'])


def test_class_mismatch_is_refused():
    classes = list(CIFAR10.METAINFO['classes'])
    swapped = [classes[1], classes[0], *classes[2:]]
    with pytest.raises(ValueError, match="label 0 is 'automobile' in the data set but 'airplane'"):
        zero_shot_prompts(swapped, benchmark='cifar10')
    with pytest.raises(ValueError, match="11 classes.*label 10 is 'extra'"):
        zero_shot_prompts(classes + ['extra'], benchmark='cifar10')
    with pytest.raises(ValueError, match='no prompt name'):
        zero_shot_prompts(['a', 'b'], classnames={'a': 'x'}, templates=['{}'])
    with pytest.raises(ValueError, match='twice'):
        zero_shot_prompts(['a', 'a'], templates=['{}'])
    with pytest.raises(ValueError, match='exactly one'):
        zero_shot_prompts(['a_b'], templates=['no placeholder'])
    assert zero_shot_prompts(['sea_lion'], templates=['a {}.'])[0] == ['sea lion']


def test_coco_single_label_keeps_images_of_one_category(tmp_path):
    cats = [[1], [1, 1], [3, 7], [], [7, 7, 7], [3, 1], [1]]
    write_coco(str(tmp_path), cats)
    dataset = CocoSingleLabelCaptions(
        data_root=str(tmp_path), instances_file='annotations/instances_val2014.json',
        captions_file='annotations/captions_val2014.json', img_prefix='val2014')
    # Independent reading of the raw JSON.
    with open(tmp_path / 'annotations' / 'instances_val2014.json') as f:
        raw = json.load(f)
    per_image = {}
    for ann in raw['annotations']:
        per_image.setdefault(ann['image_id'], set()).add(ann['category_id'])
    kept = sorted(i for i, c in per_image.items() if len(c) == 1)
    assert kept == [1000, 1001, 1004, 1006]
    assert dataset.metainfo['classes'] == ('category_1', 'category_7')
    items = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [it['img_id'] for it in items] == [i for i in kept for _ in range(2)]
    assert [it['gt_label'] for it in items] == [0, 0, 0, 0, 1, 1, 0, 0]
    assert all(osp.isfile(it['img_path']) for it in items)
