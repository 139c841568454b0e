"""Tiny files in the exact formats of the real data: CIFAR-10 batches, an image folder,
COCO 2014 and Karpathy's dataset_coco.json (the tests and the benchmarks fabricate with it)."""
import json
import os
import os.path as osp
import pickle

import numpy as np
from PIL import Image

CIFAR10_BATCHES = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']


def write_cifar10(root: str, per_batch: int = 6, seed: int = 0, classes=None) -> dict:
    """cifar-10-batches-py as the tarball holds it: latin1 python-2 style pickled dicts
    with a uint8 (N, 3072) array and a list of labels. Returns {batch name: (data, labels)}."""
    rng = np.random.default_rng(seed)
    folder = osp.join(root, 'cifar-10-batches-py')
    os.makedirs(folder, exist_ok=True)
    classes = classes or ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
                          'horse', 'ship', 'truck']
    written = {}
    for name in CIFAR10_BATCHES:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, 10, size=per_batch)]
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'batch_label': f'{name} of 6', 'labels': labels, 'data': data,
                         'filenames': [f'img_{i}.png' for i in range(per_batch)]}, f, protocol=2)
        written[name] = (data, labels)
    with open(osp.join(folder, 'batches.meta'), 'wb') as f:
        pickle.dump({'num_cases_per_batch': per_batch, 'label_names': classes,
                     'num_vis': 3072}, f, protocol=2)
    return written


def write_jpeg(path: str, seed: int, size=(40, 32)) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)).save(
        path, format='JPEG', quality=90)


def write_image_folder(root: str, classes, per_class: int = 2) -> None:
    """An ImageNet / CustomDataset style folder: root/<class>/<file>.JPEG."""
    for c, name in enumerate(classes):
        for i in range(per_class):
            write_jpeg(osp.join(root, name, f'{name}_{i}.JPEG'), seed=100 * c + i)


def write_coco(root: str, image_categories, split: str = 'val2014',
               captions_per_image: int = 2) -> None:
    """COCO 2014 images, instances_<split>.json and captions_<split>.json.

    ``image_categories``: per image, the category ids of its instances."""
    categories = [dict(id=i, name=f'category_{i}', supercategory='thing') for i in (1, 3, 7)]
    images, instances, captions = [], [], []
    for index, cats in enumerate(image_categories):
        img_id = 1000 + index
        file_name = f'COCO_{split}_{img_id:012d}.jpg'
        write_jpeg(osp.join(root, split, file_name), seed=img_id)
        images.append(dict(id=img_id, file_name=file_name, width=40, height=32))
        for cat in cats:
            instances.append(dict(id=len(instances) + 1, image_id=img_id, category_id=cat,
                                  bbox=[1, 1, 10, 10], area=100.0, iscrowd=0,
                                  segmentation=[[1, 1, 11, 1, 11, 11]]))
        for j in range(captions_per_image):
            captions.append(dict(id=len(captions) + 1, image_id=img_id,
                                 caption=f'A picture number {index} of things, take {j}.'))
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    info = dict(description='fabricated', version='1.0', year=2014)
    with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
        json.dump(dict(info=info, images=images, annotations=instances,
                       categories=categories, licenses=[]), f)
    with open(osp.join(root, 'annotations', f'captions_{split}.json'), 'w') as f:
        json.dump(dict(info=info, images=images, annotations=captions, licenses=[]), f)


def write_karpathy(root: str, splits=('train', 'restval', 'val', 'test', 'val'),
                   captions_per_image: int = 2) -> None:
    """Karpathy's dataset_coco.json with real-looking JPEGs under root/val2014."""
    entries = []
    for index, split in enumerate(splits):
        cocoid = 500000 + index
        filename = f'COCO_val2014_{cocoid:012d}.jpg'
        write_jpeg(osp.join(root, 'val2014', filename), seed=cocoid)
        entries.append(dict(filepath='val2014', filename=filename, imgid=index, split=split,
                            cocoid=cocoid, sentids=list(range(captions_per_image)),
                            sentences=[dict(raw=f'Photo {index}, caption {j}.',
                                            tokens=['photo'], imgid=index, sentid=j)
                                       for j in range(captions_per_image)]))
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', 'dataset_coco.json'), 'w') as f:
        json.dump(dict(images=entries, dataset='coco'), f)
