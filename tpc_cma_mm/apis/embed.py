"""Embed a split: the one loop that runs a model over a data set in 'tensor' mode.

Each image is embedded once by the model itself (``DualEncoder.embed`` with the
batch's data samples), the same step the validation and test loops run.

The gap report, the captioning protocol and the reproduction all embed
through :func:`embed_split`; a progress bar with an ETA shows on stderr.
"""
from typing import Union

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from tpc_cma_mm.registry import DATASETS

__all__ = ['embed_split']


def _as_loader(data: Union[DataLoader, Dataset, dict], batch_size: int) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, dict):
        with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
            data = DATASETS.build(data)
    return DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=pseudo_collate)


@torch.no_grad()
def embed_split(model, data: Union[DataLoader, Dataset, dict], batch_size: int = 256,
                keep_images: int = 0, progress: bool = True, desc: str = 'embedding') -> dict:
    """Image and text embeddings of every item of ``data``, in order.

    Args:
        model: A ``DualEncoder`` (any model whose tensor mode embeds images and
            texts apart, returning ``img_embeds`` and ``text_embeds``); it is put in
            eval mode. An image repeated in consecutive rows (one row per caption,
            same ``img_id`` and pixels) goes through the image tower once, as in
            validation and testing (``models/distinct_images.py``).
        data: A data loader, or a data set (object or config) read in order
            with ``batch_size``. Items need an image and ``text_tokens``.
        keep_images: Packed input images of the first few items to keep.
        progress: Show a progress bar with an ETA.

    Returns:
        ``dict(img, text)`` float32 ``(N, d)`` embeddings, ``tokens``, ``labels``
        (``gt_label`` or -1), ``img_ids`` (the item's ``img_id`` or its index),
        ``texts`` (the captions, ``None`` where an item has none) and ``images``
        (``(keep_images, C, H, W)`` or ``None``).
    """
    loader = _as_loader(data, batch_size)
    model.eval()
    rows = dict(img=[], text=[], tokens=[], labels=[], img_ids=[], texts=[], images=[])
    for batch in tqdm(loader, desc=desc, unit='batch', disable=not progress):
        if len(rows['images']) < keep_images:
            rows['images'] += [img.clone() for img in batch['inputs']]
        packed = model.data_preprocessor(batch, False)
        if 'text_tokens' not in packed:
            raise KeyError('The split has no text_tokens: its pipeline needs TokenizeCaption '
                           "and PackInputs(algorithm_keys=['text', 'text_tokens', 'img_id']).")
        # each distinct image (img_id and pixels) through the image tower once
        out = model(packed['inputs'], packed['data_samples'], text_tokens=packed['text_tokens'],
                    mode='tensor')
        rows['img'].append(out['img_embeds'].float().cpu())
        rows['text'].append(out['text_embeds'].float().cpu())
        rows['tokens'].append(packed['text_tokens'].cpu())
        for sample in packed['data_samples']:
            label = sample.get('gt_label')
            rows['labels'].append(int(label[0]) if label is not None else -1)
            rows['img_ids'].append(int(sample.get('img_id', len(rows['img_ids']))))
            text = sample.get('text')
            rows['texts'].append(None if text is None else str(text))
    return dict(img=torch.cat(rows['img']), text=torch.cat(rows['text']),
                tokens=torch.cat(rows['tokens']), labels=torch.tensor(rows['labels']),
                img_ids=torch.tensor(rows['img_ids']), texts=rows['texts'],
                images=torch.stack(rows['images'][:keep_images]) if keep_images else None)
