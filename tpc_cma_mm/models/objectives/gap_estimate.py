"""The modality gap of the data, estimated from one training batch of pairs.

A batch of ``B`` pairs drawn from the training set gives the differences
``d_i = x_i - y_i``; the gaps of ``evaluation/functional/gaps.py`` on the full
set of ``N`` pairs are ``centroid^2 = ||mean d||^2`` and ``distribution^2 =
mean ||d_i - mean d||^2`` (population covariances). The batch's plug-in values
are biased: with ``s^2 = mean_i ||d_i - dbar||^2`` over the batch and pairs
drawn independently,

* ``E ||dbar||^2 = centroid^2 + distribution^2 / B``: the batch centroid gap
  is too large by about the spread over the batch size;
* ``E s^2 = (B - 1) / B * distribution^2``: the batch spread is too small.

So ``centroid^2 ~ ||dbar||^2 - s^2 / (B - 1)`` and ``distribution^2 ~ s^2 B /
(B - 1)`` are unbiased (for a batch drawn without replacement from ``N``
pairs, as a shuffling sampler does, the centroid estimate is low by
``distribution^2 / (N - 1)``, negligible for a training set). Both are
estimates of squares and the centroid one can fall below 0 on a single batch:
a running average of them is what gives the gap (``sqrt`` of the average),
tested against the full-set formula in ``tests/models/test_gap_estimate.py``.
"""
from typing import Dict

import torch

__all__ = ['GAP_ESTIMATE_KEYS', 'batch_gap_squares', 'gap_from_squares']

# The gap keys a training batch estimates (docs/spec.md's names).
GAP_ESTIMATE_KEYS = ('centroid', 'distribution', 'raw')


@torch.no_grad()
def batch_gap_squares(img_embeds: torch.Tensor,
                      text_embeds: torch.Tensor) -> Dict[str, float]:
    """Unbiased estimates of ``centroid^2``, ``distribution^2`` and ``raw^2``
    (their sum) from one batch of ``B >= 2`` pairs, in float64."""
    diff = img_embeds.detach().double() - text_embeds.detach().double()
    num = diff.shape[0]
    if num < 2:
        raise ValueError(f'the gap estimate needs a batch of at least 2 pairs, got {num}')
    mean = diff.mean(0)
    spread = (diff - mean).pow(2).sum(1).mean()
    centroid_sq = float(mean.pow(2).sum() - spread / (num - 1))
    distribution_sq = float(spread * num / (num - 1))
    return dict(centroid=centroid_sq, distribution=distribution_sq,
                raw=centroid_sq + distribution_sq)


def gap_from_squares(square: float) -> float:
    """The gap from an averaged squared estimate (0 where noise made it negative)."""
    return max(square, 0.0) ** 0.5
