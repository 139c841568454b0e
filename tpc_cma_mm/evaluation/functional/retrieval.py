"""Image-to-text and text-to-image Recall@K on paired embeddings."""
from typing import Dict, Sequence

import torch

__all__ = ['retrieval_recall']


def retrieval_recall(img_embeds: torch.Tensor, text_embeds: torch.Tensor,
                     img_ids: torch.Tensor, ks: Sequence[int] = (1, 5, 10),
                     chunk: int = 1024) -> Dict[str, float]:
    """Recall@K (in %) both ways for N (image, caption) pairs.

    Rows sharing an ``img_id`` are one image with several captions: the image
    is ranked once (its first row's embedding), and image-to-text retrieval
    counts a hit when any of its captions ranks within K. Ties count against
    the query.
    """
    unique_ids, first_row = _first_occurrence(img_ids)
    owner = torch.searchsorted(unique_ids, img_ids)  # image index of each text
    images = img_embeds[first_row].float()
    texts = text_embeds.float()
    i2t_rank = torch.empty(len(unique_ids), dtype=torch.long)
    t2i_rank = torch.empty(len(texts), dtype=torch.long)
    for start in range(0, len(images), chunk):
        sim = images[start:start + chunk] @ texts.t()  # (chunk, N)
        rows = torch.arange(start, start + sim.shape[0])
        is_positive = owner.unsqueeze(0) == rows.unsqueeze(1)
        best_positive = sim.masked_fill(~is_positive, float('-inf')).max(1).values
        i2t_rank[rows] = (sim > best_positive.unsqueeze(1)).sum(1)
    for start in range(0, len(texts), chunk):
        sim = texts[start:start + chunk] @ images.t()  # (chunk, U)
        cols = owner[start:start + chunk]
        positive = sim.gather(1, cols.unsqueeze(1))
        t2i_rank[start:start + sim.shape[0]] = (sim > positive).sum(1)
    out = {}
    for k in ks:
        out[f'i2t_R@{k}'] = 100.0 * (i2t_rank < k).float().mean().item()
        out[f't2i_R@{k}'] = 100.0 * (t2i_rank < k).float().mean().item()
    return out


def _first_occurrence(ids: torch.Tensor):
    unique_ids, inverse = torch.unique(ids, sorted=True, return_inverse=True)
    positions = torch.arange(len(ids))
    first = torch.full((len(unique_ids), ), len(ids), dtype=torch.long)
    first.scatter_reduce_(0, inverse, positions, reduce='amin')
    return unique_ids, first
