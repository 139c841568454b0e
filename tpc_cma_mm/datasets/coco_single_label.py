"""COCO images whose objects all belong to one category, with their captions."""
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset
from pycocotools.coco import COCO

from tpc_cma_mm.registry import DATASETS
from .annotation_files import path_inside, read_json_object, require_field, require_list
from .pipeline import build_pipeline

__all__ = ['CocoSingleLabelCaptions']

INSTANCES_FORMAT = ('COCO\'s {"images": [{"id", "file_name"}], "annotations": '
                    '[{"id", "image_id", "category_id"}], "categories": [{"id", "name"}]}')
CAPTIONS_FORMAT = ('COCO\'s {"images": [{"id", "file_name"}], "annotations": '
                   '[{"id", "image_id", "caption"}]}')


def _read_coco(path: str, what: str, expected: str, fields: dict) -> COCO:
    """A pycocotools index of ``path``, after checking every entry it and this data set read.

    ``fields``: list name -> {field: type}. pycocotools itself indexes without
    checks (a truncated file, a missing field or a category id that is not in
    ``categories`` surface later as a bare ``KeyError`` without the file).
    """
    data = read_json_object(path, what, expected)
    ids = {}
    for key, wanted in fields.items():
        entries = require_list(data, key, path, what, expected)
        for index, entry in enumerate(entries):
            where = f'{path}: {key}[{index}]'
            if type(entry.get('id')) is int:  # bool is an int subclass
                where += f' (id {entry["id"]})'
            for name, kind in wanted.items():
                require_field(entry, name, kind, where, f'expected {expected}.')
        ids[key] = {entry['id'] for entry in entries}
    for index, ann in enumerate(data['annotations']):
        where = f'{path}: annotations[{index}] (id {ann["id"]})'
        if ann['image_id'] not in ids['images']:
            raise ValueError(f'{where}: image_id {ann["image_id"]} is not in "images".')
        if 'categories' in ids and ann['category_id'] not in ids['categories']:
            raise ValueError(f'{where}: category_id {ann["category_id"]} is not in '
                             '"categories".')
        if 'caption' in ann and not ann['caption'].strip():
            raise ValueError(f'{where}: the caption is empty; each caption annotation '
                             'needs a non-empty "caption" string: fix or delete it.')
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    return coco


@DATASETS.register_module()
class CocoSingleLabelCaptions(BaseDataset):
    """Joint-clustering data with real labels: single-category COCO images.

    An image is kept when it has at least one instance annotation and all its
    instances share one category (the protocol of prior work on the modality
    gap); its label is that category. ``metainfo['classes']`` lists only the
    categories present, in category-id order, so k = number of classes is the
    number of categories present. Each (image, caption) pair is an item
    sharing ``img_id`` (the COCO image id), as retrieval and the gap metrics
    expect. Both files are checked entry by entry (a malformed one is refused
    naming the file, the entry and what was expected), then indexed with
    pycocotools.

    Example config (COCO 2014 val)::

        dataset = dict(type='CocoSingleLabelCaptions', data_root='data/coco',
                       instances_file='annotations/instances_val2014.json',
                       captions_file='annotations/captions_val2014.json',
                       img_prefix='val2014', pipeline=test_pipeline)

    Args:
        data_root (str): COCO folder.
        instances_file (str): ``instances_*.json``, relative to ``data_root``.
        captions_file (str): ``captions_*.json`` of the same images.
        img_prefix (str): Image folder relative to ``data_root``.
        max_images (int, optional): Keep the first n single-label images (by
            id), for a quicker validation.
    """

    def __init__(self, data_root: str, instances_file: str, captions_file: str,
                 img_prefix: str, pipeline: Sequence = (), max_images: Optional[int] = None,
                 **kwargs):
        self.instances_file = osp.join(data_root, instances_file)
        self.captions_file = osp.join(data_root, captions_file)
        self.img_prefix = osp.join(data_root, img_prefix)
        self.max_images = max_images
        for path in (self.instances_file, self.captions_file):
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{path} is missing: extract annotations_trainval2014.zip from '
                    'https://cocodataset.org/#download into data_root (docs/real_scale.md).')
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file='', pipeline=build_pipeline(pipeline),
                         serialize_data=False, **kwargs)

    def load_data_list(self) -> List[dict]:
        instances = _read_coco(self.instances_file, 'COCO instances file', INSTANCES_FORMAT, dict(
            images=dict(id=int, file_name=str), categories=dict(id=int, name=str),
            annotations=dict(id=int, image_id=int, category_id=int)))
        captions = _read_coco(self.captions_file, 'COCO captions file', CAPTIONS_FORMAT, dict(
            images=dict(id=int, file_name=str),
            annotations=dict(id=int, image_id=int, caption=str)))
        single = {}
        for img_id in sorted(instances.getImgIds()):
            categories = {a['category_id'] for a in instances.imgToAnns[img_id]}
            if len(categories) == 1:
                single[img_id] = categories.pop()
        if self.max_images is not None:
            single = dict(list(single.items())[:self.max_images])
        missing = [i for i in single if not captions.imgToAnns.get(i)]
        if missing:
            raise ValueError(f'{self.captions_file} has no captions for images {missing[:5]} '
                             f'of {self.instances_file}: use the files of the same split.')
        present = sorted(set(single.values()))
        if not present:
            raise ValueError(f'{self.instances_file} has no image whose instances all '
                             'belong to one category.')
        self._metainfo['classes'] = tuple(instances.cats[c]['name'] for c in present)
        label_of = {c: i for i, c in enumerate(present)}
        data_list = []
        for img_id, category in single.items():
            img_path = path_inside(self.img_prefix, (instances.imgs[img_id]['file_name'], ),
                                   f'{self.instances_file}: image {img_id}')
            for ann in captions.imgToAnns[img_id]:
                data_list.append(dict(img_path=img_path, text=ann['caption'].strip(),
                                      img_id=img_id, gt_label=label_of[category]))
        return data_list
