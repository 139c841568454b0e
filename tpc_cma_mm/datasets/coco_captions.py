"""COCO captions with Karpathy's train / restval / val / test split."""
import json
import os.path as osp
from typing import List, Sequence

from mmengine.dataset import BaseDataset

from tpc_cma_mm.registry import DATASETS
from .pipeline import build_pipeline

__all__ = ['CocoKarpathyCaptions']

SPLITS = {'train': ('train', 'restval'), 'val': ('val', ), 'test': ('test', )}


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

    Image paths are ``data_root/filepath/filename``. ``split='train'`` takes
    train and restval (113,287 images); val and test have 5,000 images each.
    An image with k captions yields k items sharing ``img_id``, which is what
    the gap metrics (paired) and retrieval (grouped by image) expect.

    Example config::

        dataset = dict(type='CocoKarpathyCaptions', data_root='data/coco',
                       ann_file='annotations/dataset_coco.json', split='test',
                       pipeline=test_pipeline)
    """

    def __init__(self, data_root: str, ann_file: str, split: str = 'train',
                 pipeline: Sequence = (), **kwargs):
        if split not in SPLITS:
            raise ValueError(f'CocoKarpathyCaptions split must be one of '
                             f'{list(SPLITS)}, got {split!r}')
        self.split = split
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'COCO data_root {data_root!r} does not exist: download the COCO 2014 '
                'train/val images there (see README, "Real-scale runs") or set '
                'data_root in the config.')
        super().__init__(data_root=data_root, ann_file=ann_file,
                         pipeline=build_pipeline(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'Annotation file {self.ann_file!r} not found: it must be Karpathy\'s '
                'dataset_coco.json (see README, "Real-scale runs"); set ann_file.')
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                images = json.load(f)['images']
            if not isinstance(images, list):
                raise TypeError(f'"images" is a {type(images).__name__}, not a list')
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
            raise ValueError(f'{self.ann_file} is not a Karpathy caption file '
                             f'(expected {{"images": [...]}}): {err}') from err
        except OSError as err:
            raise OSError(f'Cannot read annotation file {self.ann_file!r} ({err}); '
                          'check its permissions.') from err
        data_list = []
        for index, entry in enumerate(images):
            try:
                if entry['split'] not in SPLITS[self.split]:
                    continue
                img_path = osp.join(self.data_root, entry['filepath'], entry['filename'])
                img_id = entry.get('cocoid', index)
                captions = [s['raw'] for s in entry['sentences']]
            except (KeyError, TypeError) as err:
                raise ValueError(
                    f'{self.ann_file}: images[{index}] lacks {err}; each entry needs '
                    'filepath, filename, split and sentences[].raw') from err
            for k, caption in enumerate(captions):
                if not isinstance(caption, str) or not caption.strip():
                    raise ValueError(
                        f'{self.ann_file}: images[{index}].sentences[{k}].raw '
                        f'({entry.get("filename")}) is an empty caption {caption!r}; '
                        'fix or delete that sentence.')
            for caption in captions:
                data_list.append(dict(img_path=img_path, text=caption, img_id=img_id))
        if not data_list:
            raise ValueError(f'{self.ann_file} has no items for split {self.split!r} '
                             f'(Karpathy splits {SPLITS[self.split]}).')
        return data_list
