"""tools/check_data.py on a fabricated data root: counts, schemas, missing and corrupt images."""
import os

import pytest
from mmpretrain.datasets import CIFAR10

from real_scale.fabricate import write_cifar10, write_coco, write_image_folder, write_karpathy
from tool_runner import run_tool
from tpc_cma_mm.apis.check_data import check_data

SMALL = {'coco/karpathy_train_images': 3, 'coco/karpathy_val_images': 2,
         'coco/karpathy_test_images': 1, 'coco/single_label_val_images': 2,
         'cifar10/train': 10, 'cifar10/test': 2, 'cifar10/classes': 10,
         'imagenet/val': 1000, 'imagenet/classes': 1000}


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.setattr(CIFAR10, 'train_list', [[n, None] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, 'test_list', [[n, None] for n, _ in CIFAR10.test_list])
    write_karpathy(str(tmp_path / 'coco'), splits=('train', 'restval', 'train', 'val', 'val',
                                                   'test'))
    write_coco(str(tmp_path / 'coco'), [[1], [3, 7], [7]])
    write_cifar10(str(tmp_path / 'cifar10'), per_batch=2)
    write_image_folder(str(tmp_path / 'imagenet' / 'val'), [f'n{i:08d}' for i in range(1000)],
                       per_class=1)
    return tmp_path


def test_a_complete_root_passes_with_its_counts(data_root):
    report = check_data(str(data_root), only=('coco', 'cifar10', 'imagenet'), decode=None,
                        expected=SMALL)
    assert all(not outcome['problems'] for outcome in report.values()), report
    coco = report['coco']['results']
    assert coco['coco/karpathy_train_images'] == 3 and coco['coco/karpathy_train_captions'] == 6
    assert coco['coco/karpathy_val_decoded'] == 2 and coco['coco/single_label_classes'] == 2
    assert report['imagenet']['results']['imagenet/decoded'] == 1000


def test_missing_corrupt_and_miscounted_data_are_reported(data_root):
    val = sorted((data_root / 'coco' / 'val2014').glob('COCO_val2014_0000005*.jpg'))
    os.remove(val[3])  # a Karpathy val image
    val[4].write_bytes(b'not a jpeg')
    report = check_data(str(data_root), only=('coco', 'cifar10'), decode=None,
                        expected=dict(SMALL, **{'cifar10/test': 10000}))
    problems = '\n'.join(report['coco']['problems'])
    assert f'missing image {val[3]}' in problems and f'cannot decode {val[4]}' in problems
    assert report['cifar10']['problems'] == ['cifar10/test: found 2, expected 10000']
    report = check_data(str(data_root / 'nowhere'), only=('cifar100', ))
    assert 'cifar-100-python.tar.gz' in report['cifar100']['problems'][0]



def test_the_tool_prints_problems_and_exits_1(tmp_path):
    done = run_tool('tools/check_data.py', tmp_path, '--only', 'cifar10')
    assert done.returncode == 1, done.stderr
    assert '== cifar10: PROBLEMS' in done.stdout and 'cifar-10-python.tar.gz' in done.stdout
