"""Image-to-text and text-to-image Recall@K on paired embeddings."""
from typing import Dict, Sequence, Tuple

import torch

from .finite import require_finite

__all__ = ['first_occurrence', 'retrieval_recall']


def first_occurrence(ids) -> Tuple[torch.Tensor, torch.Tensor]:
    """Group rows by id: the first row of each id, and each row's group.

    Groups are numbered in the order their id first appears, so
    ``first_rows`` is ascending and ``ids[first_rows]`` lists each id once.

    Returns:
        tuple: ``first_rows`` (G,) and ``group_of_row`` (N,), both long, with
        ``first_rows[group_of_row[r]]`` the first row sharing row r's id.
    """
    ids = torch.as_tensor(ids)
    if ids.dim() != 1:
        raise ValueError(f'first_occurrence needs a 1-D tensor of ids, got shape '
                         f'{tuple(ids.shape)}')
    _, inverse = torch.unique(ids, sorted=True, return_inverse=True)
    num_groups = int(inverse.max()) + 1 if len(ids) else 0
    first = torch.full((num_groups, ), len(ids), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(ids)), reduce='amin')
    order = torch.argsort(first)  # sorted-id order -> order of first appearance
    group_of_sorted = torch.empty_like(order)
    group_of_sorted[order] = torch.arange(num_groups)
    return first[order], group_of_sorted[inverse]


def retrieval_recall(img_embeds: torch.Tensor, text_embeds: torch.Tensor,
                     img_ids: torch.Tensor, ks: Sequence[int] = (1, 5, 10),
                     chunk: int = 1024) -> Dict[str, float]:
    """Recall@K (in %) both ways for N (image, caption) pairs.

    Rows sharing an ``img_id`` are one image with several captions: the image
    is ranked once (its first row's embedding), and image-to-text retrieval
    counts a hit when any of its captions ranks within K. Ties count against
    the query (docs/spec.md, "Retrieval"): a query's rank is the number of
    wrong candidates scoring *at least* as high as its best right one, so two
    identical images (or captions) cannot both be found at rank 1.
    """
    require_finite('retrieval_recall', img=img_embeds, text=text_embeds)
    first_rows, owner = first_occurrence(img_ids)  # owner: image index of each text
    # float64, so that equal embeddings give bit-equal scores (exact ties stay ties)
    images = img_embeds[first_rows].double()
    texts = text_embeds.double()
    i2t_rank = torch.empty(len(images), dtype=torch.long)
    t2i_rank = torch.empty(len(texts), dtype=torch.long)
    for start in range(0, len(images), chunk):
        sim = images[start:start + chunk] @ texts.t()  # (chunk, N)
        rows = torch.arange(start, start + sim.shape[0])
        is_positive = owner.unsqueeze(0) == rows.unsqueeze(1)
        best_positive = sim.masked_fill(~is_positive, float('-inf')).max(1).values
        ahead = (sim >= best_positive.unsqueeze(1)) & ~is_positive
        i2t_rank[rows] = ahead.sum(1)
    for start in range(0, len(texts), chunk):
        sim = texts[start:start + chunk] @ images.t()  # (chunk, U)
        cols = owner[start:start + chunk].unsqueeze(1)
        positive = sim.gather(1, cols)
        # the positive itself satisfies >=, so one is taken off
        t2i_rank[start:start + sim.shape[0]] = (sim >= positive).sum(1) - 1
    out = {}
    for k in ks:
        out[f'i2t_R{k}'] = 100.0 * (i2t_rank < k).double().mean().item()
        out[f't2i_R{k}'] = 100.0 * (t2i_rank < k).double().mean().item()
    return out
