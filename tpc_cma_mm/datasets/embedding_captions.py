"""Cached CLIP embeddings of captioned images, for training caption decoders.

``tpc_cma_mm.apis.cache_embeddings`` runs the (frozen) model under test over
caption data sets once and saves, per split, the image and text embeddings,
the caption tokens and texts and the image ids in one weights-only ``.pth``
file; ``EmbeddingCaptions`` serves them to a ``CaptionDecoder``.
"""
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

from tpc_cma_mm.registry import DATASETS
from tpc_cma_mm.utils import safe_torch_load

__all__ = ['EmbeddingCaptions']


@DATASETS.register_module()
class EmbeddingCaptions(Dataset):
    """Cached embeddings as items ``dict(inputs=embed, data_samples=DataSample)``.

    The data sample carries ``text_tokens``, ``gt_caption`` (list of
    references) and ``img_id``.

    Example config (train a decoder on text embeddings; score it on images)::

        train_dataloader = dict(
            batch_size=128, sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate'),
            dataset=dict(type='EmbeddingCaptions', cache_file='embeds.pth',
                         split='train', modality='text'))
        test_dataloader = dict(
            batch_size=256, sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'),
            dataset=dict(type='EmbeddingCaptions', cache_file='embeds.pth',
                         split='test', modality='image', group_by_image=True))

    Args:
        cache_file (str): Written by ``tpc_cma_mm.apis.cache_embeddings``.
        split (str): A split of the cache.
        modality (str): 'text' (each caption's text embedding) or 'image'.
        group_by_image (bool): One item per image with all its captions as
            ``gt_caption`` (for scoring); otherwise one item per caption.
            With 'text', an image's first caption gives the embedding.
        center (bool): C3 mean-centering (Zhang et al., 2024): subtract the
            modality's mean over the cache's *train* split, then renormalise.
    """

    def __init__(self, cache_file: str, split: str = 'train', modality: str = 'text',
                 group_by_image: bool = False, center: bool = False):
        if modality not in ('text', 'image'):
            raise ValueError(f"EmbeddingCaptions modality must be 'text' or 'image', "
                             f'got {modality!r}')
        cache = safe_torch_load(cache_file)
        if split not in cache:
            raise KeyError(f'{cache_file} has no split {split!r}; it has '
                           f'{sorted(k for k in cache if k != "meta")}')
        data, key = cache[split], 'img_embeds' if modality == 'image' else 'text_embeds'
        embeds = data[key]
        if center:
            mean = cache['train'][key].mean(dim=0)
            embeds = F.normalize(embeds - mean, dim=-1)
        self.split, self.modality = split, modality
        groups: Dict[int, List[int]] = {}
        for row, img_id in enumerate(data['img_ids']):
            groups.setdefault(int(img_id), []).append(row)
        if group_by_image:
            firsts = [rows[0] for rows in groups.values()]
            refs = [[data['texts'][r] for r in rows] for rows in groups.values()]
        else:
            firsts = list(range(len(data['texts'])))
            refs = [[t] for t in data['texts']]
        index = torch.tensor(firsts, dtype=torch.long)
        self.embeds, self.tokens = embeds[index], data['tokens'][index]
        self.img_ids = [int(data['img_ids'][r]) for r in firsts]
        self.references = refs

    def __len__(self) -> int:
        return len(self.img_ids)

    def __getitem__(self, index: int) -> dict:
        sample = DataSample(text_tokens=self.tokens[index], img_id=self.img_ids[index],
                            gt_caption=list(self.references[index]))
        return dict(inputs=self.embeds[index], data_samples=sample)
