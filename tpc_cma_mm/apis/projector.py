"""TensorBoard projector data of a split's two embedding clouds, to explore the gap by eye.

Written by TensorBoard's own writer (``SummaryWriter.add_embedding``) into a
temporary folder and returned as ``relative path -> bytes``, so the caller
writes it with its other outputs (never over other content)::

    files = projector_files(embed_split(model, loader, keep_images=500), rgb_images=True)
    # tensorboard --logdir <out>/projector   ->   PROJECTOR tab

One row per distinct image (its first pair's caption and class) and one per
caption: ``metadata.tsv`` has the columns modality, class, img_id, caption;
the sprite shows the image for an image row and a grey tile for a text row.
"""
import os
import os.path as osp
import tempfile
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = ['PROJECTOR_DIR', 'projector_files']

PROJECTOR_DIR = 'projector'
TEXT_TILE = 0.5  # grey: a text row has no picture


def _cell(value: object) -> str:
    return ' '.join(str(value).split())  # a tab or newline would break the TSV


def projector_files(embeds: dict, rgb_images: bool, classes: Optional[Sequence[str]] = None,
                    sprite_size: int = 32, tag: str = 'gap') -> Dict[str, bytes]:
    """Projector files of the first ``len(embeds['images'])`` pairs of ``embeds``.

    Args:
        embeds: :func:`~tpc_cma_mm.apis.embed_split`'s output with ``keep_images`` > 0.
        rgb_images: whether the kept (packed, uint8) images are RGB; False for BGR
            (the data preprocessor's ``to_rgb`` swaps them for the model).
        classes: names of the labels (their numbers otherwise).
        sprite_size: side of a sprite thumbnail in pixels.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError("The projector is written by TensorBoard: pip install -e '.[tb]' "
                          '(or tensorboard).') from err
    if embeds.get('images') is None:
        raise ValueError('projector_files needs images: embed the split with keep_images > 0.')
    images = embeds['images'].float() / 255
    images = images if rgb_images else images.flip(1)
    pairs = len(images)
    first_row = {}
    for row, img_id in enumerate(embeds['img_ids'][:pairs].tolist()):
        first_row.setdefault(img_id, row)
    image_rows = list(first_row.values())
    text_rows = list(range(pairs))

    def meta(modality, row):
        label = int(embeds['labels'][row])
        name = classes[label] if classes and 0 <= label < len(classes) else label
        return [modality, _cell(name), int(embeds['img_ids'][row]),
                _cell(embeds['texts'][row] or '')]

    matrix = torch.cat([embeds['img'][image_rows], embeds['text'][text_rows]])
    metadata = ([meta('image', r) for r in image_rows] + [meta('text', r) for r in text_rows])
    thumbnails = F.interpolate(images[image_rows], size=(sprite_size, sprite_size),
                               mode='bilinear', align_corners=False, antialias=True)
    tiles = torch.cat([thumbnails.clamp(0, 1),
                       torch.full((len(text_rows), 3, sprite_size, sprite_size), TEXT_TILE)])
    files = {}
    with tempfile.TemporaryDirectory() as folder:
        with SummaryWriter(folder) as writer:
            writer.add_embedding(matrix, metadata=metadata, label_img=tiles, tag=tag,
                                 metadata_header=['modality', 'class', 'img_id', 'caption'])
        for root, _, names in os.walk(folder):
            for name in names:
                if name.startswith('events.out.tfevents'):
                    continue  # an empty event file with a host / time name: not needed
                path = osp.join(root, name)
                with open(path, 'rb') as f:
                    files[osp.join(PROJECTOR_DIR, osp.relpath(path, folder))] = f.read()
    return files
