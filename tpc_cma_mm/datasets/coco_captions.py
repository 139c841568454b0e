"""COCO captions with Karpathy's train / restval / val / test split."""
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from tpc_cma_mm.registry import DATASETS
from .annotation_files import path_inside, read_json_object, require_field
from .pipeline import build_pipeline

__all__ = ['CocoKarpathyCaptions']

SPLITS = {'train': ('train', 'restval'), 'val': ('val', ), 'test': ('test', )}
KARPATHY_SPLIT_VALUES = ('train', 'restval', 'val', 'test')
KARPATHY_FORMAT = '{"images": [...]} (Karpathy\'s dataset_coco.json)'
ENTRY_NEEDS = ('each entry needs filepath, filename, split and sentences[].raw (and an '
               'integer cocoid, else its index is its id)')


@DATASETS.register_module()
class CocoKarpathyCaptions(BaseDataset):
    """One item per (image, caption) pair of the Karpathy split.

    The annotation file is Karpathy's ``dataset_coco.json``::

        {"images": [{"filepath": "val2014",
                     "filename": "COCO_val2014_000000391895.jpg",
                     "split": "train" | "restval" | "val" | "test",
                     "cocoid": 391895,
                     "sentences": [{"raw": "A man with a red helmet ..."}, ...]},
                    ...]}

    Image paths are ``data_root/filepath/filename``; an entry whose
    ``filepath`` or ``filename`` is absolute or holds ``..`` is refused, so the
    file cannot send reads outside ``data_root``. ``split='train'`` takes
    train and restval (113,287 images); val and test have 5,000 images each.
    An image with k captions yields k items sharing ``img_id``, which is what
    the gap metrics (paired) and retrieval (grouped by image) expect.
    (mmpretrain's ``COCOCaption`` / ``COCORetrieval`` read LAVIS's per-split
    files instead, not Karpathy's ``dataset_coco.json``.)

    What is left out is counted and logged, never dropped silently: entries
    whose ``split`` is none of Karpathy's four values and entries without
    sentences (``dropped``: reason -> count). A malformed entry (a field
    missing or of the wrong type, an empty caption, a ``cocoid`` used twice in
    the split) is refused with its index, ``cocoid`` and field.

    ``val`` and ``test`` are evaluation splits and load in test mode: a sample
    the pipeline cannot produce (a bad image with ``on_error='skip'``) stops
    the evaluation with its index and file, instead of being replaced by
    another sample (mmengine's retry outside test mode) or left out.

    Example config::

        dataset = dict(type='CocoKarpathyCaptions', data_root='data/coco',
                       ann_file='annotations/dataset_coco.json', split='test',
                       pipeline=test_pipeline)

    Args:
        data_root (str): Folder of the ``filepath`` folders (and ``ann_file``).
        ann_file (str): Karpathy's ``dataset_coco.json``.
        split (str): ``'train'`` (train + restval), ``'val'`` or ``'test'``.
        pipeline (sequence): Transform configs.
        test_mode (bool, optional): True by default for val / test, where
            False is refused; False by default for train.
        **kwargs: Other ``BaseDataset`` arguments.
    """

    def __init__(self, data_root: str, ann_file: str, split: str = 'train',
                 pipeline: Sequence = (), test_mode: Optional[bool] = None, **kwargs):
        if split not in SPLITS:
            raise ValueError(f'CocoKarpathyCaptions split must be one of '
                             f'{list(SPLITS)}, got {split!r}')
        if test_mode is None:
            test_mode = split != 'train'
        if split != 'train' and not test_mode:
            raise ValueError(
                f"CocoKarpathyCaptions split={split!r} is an evaluation split: it needs "
                'test_mode=True (leave test_mode out), so that a bad sample stops the '
                'evaluation instead of being replaced by another one.')
        self.split = split
        self.dropped: Dict[str, int] = {}  # reason -> entries left out
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'COCO data_root {data_root!r} does not exist: download the COCO 2014 '
                'train/val images there (see README, "Real-scale runs") or set '
                'data_root in the config.')
        super().__init__(data_root=data_root, ann_file=ann_file, test_mode=test_mode,
                         pipeline=build_pipeline(pipeline), **kwargs)

    def prepare_data(self, idx: int):
        data = super().prepare_data(idx)
        if data is None and self.test_mode:
            info = self.get_data_info(idx)
            raise RuntimeError(
                f'CocoKarpathyCaptions(split={self.split!r}) item {idx} '
                f'({info["img_path"]}, cocoid {info["img_id"]}) was skipped by the pipeline '
                '(the warning above names the cause). An evaluation never substitutes or '
                'leaves out a sample: replace the file, or remove its entry from '
                f'{self.ann_file}.')
        return data

    def load_data_list(self) -> List[dict]:
        images = self._read_images()
        data_list, seen_ids, dropped = [], {}, Counter()
        for index, entry in enumerate(images):
            where = f'{self.ann_file}: images[{index}]'
            if not isinstance(entry, dict):
                raise ValueError(f'{where} is a {type(entry).__name__}, not an object with '
                                 'filepath, filename, split, cocoid and sentences.')
            where += f' (cocoid {entry.get("cocoid", "missing")})'
            split = require_field(entry, 'split', str, where, ENTRY_NEEDS)
            if split not in KARPATHY_SPLIT_VALUES:
                dropped[f'unknown split value {split!r}'] += 1
                continue
            if split not in SPLITS[self.split]:
                continue
            img_path = path_inside(self.data_root, (
                require_field(entry, 'filepath', str, where, ENTRY_NEEDS),
                require_field(entry, 'filename', str, where, ENTRY_NEEDS)), where)
            img_id = entry.get('cocoid', index)
            if isinstance(img_id, bool) or not isinstance(img_id, int):
                raise ValueError(f'{where}: "cocoid" must be an integer, got {img_id!r}.')
            if img_id in seen_ids:
                raise ValueError(
                    f'{where}: cocoid {img_id} is also images[{seen_ids[img_id]}]; '
                    'retrieval would merge the two images. Give each image its own cocoid.')
            seen_ids[img_id] = index
            captions = self._captions(entry, where)
            if not captions:
                dropped['no sentences'] += 1
                continue
            for caption in captions:
                data_list.append(dict(img_path=img_path, text=caption, img_id=img_id))
        self.dropped = dict(dropped)
        if dropped:
            reasons = ', '.join(f'{n} with {reason}' for reason, n in sorted(dropped.items()))
            print_log(f'CocoKarpathyCaptions(split={self.split!r}): left out '
                      f'{sum(dropped.values())} of {len(images)} entries of {self.ann_file}: '
                      f'{reasons}.', logger='current', level=30)
        if not data_list:
            raise ValueError(f'{self.ann_file} has no items for split {self.split!r} '
                             f'(Karpathy splits {SPLITS[self.split]}).')
        return data_list

    def _read_images(self) -> list:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'Annotation file {self.ann_file!r} not found: it must be Karpathy\'s '
                'dataset_coco.json (see README, "Real-scale runs"); set ann_file.')
        what = 'Karpathy caption file'
        images = read_json_object(self.ann_file, what, KARPATHY_FORMAT).get('images')
        if not isinstance(images, list):
            raise ValueError(f'{self.ann_file} is not a {what}: "images" is '
                             f'{type(images).__name__}, not a list; expected {KARPATHY_FORMAT}.')
        return images

    def _captions(self, entry: dict, where: str) -> List[str]:
        sentences = require_field(entry, 'sentences', list, where, ENTRY_NEEDS)
        captions = []
        for k, sentence in enumerate(sentences):
            raw = sentence.get('raw') if isinstance(sentence, dict) else None
            if not isinstance(raw, str) or not raw.strip():
                raise ValueError(
                    f'{where}: sentences[{k}].raw ({entry.get("filename")}) is an empty or '
                    f'missing caption {sentence!r}; each sentence needs a non-empty "raw" '
                    'string: fix or delete that sentence.')
            captions.append(raw)
        return captions
