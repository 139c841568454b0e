"""Check the data a real-scale run needs, in minutes, before a long run.

Each check builds the data set class the configs use (so the schema checks are
the ones training applies), counts images and captions per split against the
published counts, and opens images to catch missing or undecodable files.
Layout under ``data_root`` (the configs' defaults): ``coco/``, ``cifar10/``,
``cifar100/``, ``imagenet/`` (docs/real_scale.md).
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from mmengine.utils import ProgressBar
from PIL import Image

from tpc_cma_mm.datasets import (CocoKarpathyCaptions, CocoSingleLabelCaptions, SafeCIFAR10,
                                 SafeCIFAR100)

__all__ = ['EXPECTED', 'check_data', 'CHECKS']

# Published counts (docs/real_scale.md cites where each is published).
EXPECTED = {
    'coco/karpathy_train_images': 113287, 'coco/karpathy_val_images': 5000,
    'coco/karpathy_test_images': 5000, 'coco/single_label_val_images': None,
    'cifar10/train': 50000, 'cifar10/test': 10000, 'cifar10/classes': 10,
    'cifar100/train': 50000, 'cifar100/test': 10000, 'cifar100/classes': 100,
    'imagenet/val': 50000, 'imagenet/classes': 1000,
}


def _decode(paths: Sequence[str], limit: Optional[int], problems: List[str]) -> int:
    """Open ``limit`` images spread over ``paths`` (all if None); record failures."""
    paths = sorted(set(paths))
    missing = [p for p in paths if not osp.isfile(p)]
    problems += [f'missing image {p}' for p in missing[:20]]
    if len(missing) > 20:
        problems.append(f'... and {len(missing) - 20} more missing images')
    present = [p for p in paths if p not in set(missing)]
    if limit is not None and len(present) > limit:
        present = [present[i] for i in np.linspace(0, len(present) - 1, limit).astype(int)]
    bar = ProgressBar(len(present)) if len(present) > 100 else None
    for path in present:
        try:
            with Image.open(path) as image:
                image.convert('RGB')
        except Exception as error:  # any decoder error names a bad file
            problems.append(f'cannot decode {path}: {error}')
        if bar:
            bar.update()
    return len(present)


def _count(results: dict, key: str, value: int, expected: Dict, problems: List[str]) -> None:
    results[key] = value
    want = expected.get(key)
    if want is not None and value != want:
        problems.append(f'{key}: found {value}, expected {want}')


def check_coco(root: str, expected: Dict, decode: Optional[int]) -> dict:
    results, problems = {}, []
    for split in ('train', 'val', 'test'):
        dataset = CocoKarpathyCaptions(data_root=root, ann_file='annotations/dataset_coco.json',
                                       split=split)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        _count(results, f'coco/karpathy_{split}_images', len({i['img_id'] for i in infos}),
               expected, problems)
        results[f'coco/karpathy_{split}_captions'] = len(infos)
        results[f'coco/karpathy_{split}_decoded'] = _decode(
            [i['img_path'] for i in infos], decode, problems)
    single = CocoSingleLabelCaptions(data_root=root,
                                     instances_file='annotations/instances_val2014.json',
                                     captions_file='annotations/captions_val2014.json',
                                     img_prefix='val2014')
    infos = [single.get_data_info(i) for i in range(len(single))]
    _count(results, 'coco/single_label_val_images', len({i['img_id'] for i in infos}),
           expected, problems)
    results['coco/single_label_classes'] = len(single.metainfo['classes'])
    results['coco/single_label_decoded'] = _decode([i['img_path'] for i in infos], decode,
                                                   problems)
    return dict(results=results, problems=problems)


def _check_cifar(dataset_cls, name: str) -> Callable:
    def check(root: str, expected: Dict, decode: Optional[int]) -> dict:
        results, problems = {}, []
        for split in ('train', 'test'):
            dataset = dataset_cls(data_root=root, split=split)
            _count(results, f'{name}/{split}', len(dataset), expected, problems)
        _count(results, f'{name}/classes', len(dataset.metainfo['classes']), expected, problems)
        return dict(results=results, problems=problems)
    return check


def check_imagenet(root: str, expected: Dict, decode: Optional[int]) -> dict:
    from mmpretrain.datasets import ImageNet
    results, problems = {}, []
    dataset = ImageNet(data_root=root, split='val')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    _count(results, 'imagenet/val', len(infos), expected, problems)
    _count(results, 'imagenet/classes', len({i['gt_label'] for i in infos}), expected, problems)
    results['imagenet/decoded'] = _decode([i['img_path'] for i in infos], decode, problems)
    return dict(results=results, problems=problems)


CHECKS = {'coco': check_coco, 'cifar10': _check_cifar(SafeCIFAR10, 'cifar10'),
          'cifar100': _check_cifar(SafeCIFAR100, 'cifar100'), 'imagenet': check_imagenet}


def check_data(data_root: str, only: Sequence[str] = tuple(CHECKS),
               decode: Optional[int] = 500, expected: Optional[Dict] = None) -> dict:
    """``{name: dict(results, problems)}`` for each data set in ``only``.

    A data set whose files are missing or malformed reports the loader's error
    (which names the file and the fix) as its problem. ``decode`` images per
    split are opened (``None``: all).
    """
    unknown = set(only) - set(CHECKS)
    if unknown:
        raise ValueError(f'Unknown data sets {sorted(unknown)}: choose from {list(CHECKS)}.')
    expected = EXPECTED if expected is None else expected
    report = {}
    for name in only:
        try:
            report[name] = CHECKS[name](osp.join(data_root, name), expected, decode)
        except (AssertionError, OSError, ValueError, KeyError, RuntimeError) as error:
            # mmpretrain checks folder layouts with assert: reported like the rest.
            report[name] = dict(results={}, problems=[f'{type(error).__name__}: {error}'])
    return report
