"""COCO images whose objects all belong to one category, with their captions."""
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset
from pycocotools.coco import COCO

from tpc_cma_mm.registry import DATASETS
from .pipeline import build_pipeline

__all__ = ['CocoSingleLabelCaptions']


@DATASETS.register_module()
class CocoSingleLabelCaptions(BaseDataset):
    """Joint-clustering data with real labels: single-category COCO images.

    An image is kept when it has at least one instance annotation and all its
    instances share one category (the protocol of prior work on the modality
    gap); its label is that category. ``metainfo['classes']`` lists only the
    categories present, in category-id order, so k = number of classes is the
    number of categories present. Each (image, caption) pair is an item
    sharing ``img_id`` (the COCO image id), as retrieval and the gap metrics
    expect. Both files are read with pycocotools.

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
        instances, captions = COCO(self.instances_file), COCO(self.captions_file)
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
            img_path = osp.join(self.img_prefix, instances.imgs[img_id]['file_name'])
            for ann in captions.imgToAnns[img_id]:
                data_list.append(dict(img_path=img_path, text=ann['caption'].strip(),
                                      img_id=img_id, gt_label=label_of[category]))
        return data_list
