"""Distribution terms a CMA loss can add to its own (``CMALoss(extra_terms=[...])``).

With its default weights CMA's centroid and residual terms sum to the mean squared
paired distance, Wang & Isola's alignment loss, and its covariance term is about 1 %
of the loss (docs/method.md, "The distribution term"). These terms act on the
distributions rather than on the pairs; the ablation there decides whether any of
them earns a place in the default. Each is a module ``forward(img, text) -> scalar``
on the (gathered, L2-normalised) batch, with a ``weight`` and a ``name`` that
``CMALoss`` logs as ``cma_<name>``.
"""
import math

import torch
from torch import nn

from tpc_cma_mm.registry import MODELS

__all__ = ['DistributionTerm', 'MMDAlignment', 'PairCentroidUniformity', 'SharedPriorMoments',
           'check_number']


def check_number(owner: str, key: str, value, positive: bool = False, hint: str = '') -> float:
    """``value`` as a float if it is a finite non-negative (or positive) number, else a
    ValueError naming ``owner.key`` (and ``hint``, the fix)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or value < 0 or (positive and value == 0):
        bound = 'positive' if positive else 'non-negative'
        raise ValueError(f'{owner}.{key} must be a finite {bound} number, got {value!r}'
                         + (f'; {hint}' if hint else ''))
    return float(value)


def _pairwise_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared distances by differences (finite gradient also at distance 0)."""
    return (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)


def _off_diagonal(square: torch.Tensor) -> torch.Tensor:
    n = square.shape[0]
    return square[~torch.eye(n, dtype=torch.bool, device=square.device)]


class DistributionTerm(nn.Module):
    """A weighted term of ``CMALoss``; subclasses set ``name`` and ``forward``."""
    name = ''

    def __init__(self, weight: float = 1.0):
        super().__init__()
        self.weight = check_number(type(self).__name__, 'weight', weight)

    @staticmethod
    def check_inputs(img: torch.Tensor, text: torch.Tensor) -> None:
        if img.shape != text.shape or img.dim() != 2 or img.shape[0] < 2:
            raise ValueError('a distribution term needs two (N, d) tensors of one shape with '
                             f'N >= 2, got {tuple(img.shape)} and {tuple(text.shape)}')


@MODELS.register_module()
class PairCentroidUniformity(DistributionTerm):
    """Uniformity of the pair centroids ``m_i = (x_i + y_i) / 2``:
    ``log mean_{i != j} exp(-t ||m_i - m_j||^2)``.

    The uniformity loss of Wang & Isola (ICML 2020) applied to the points where a pair
    meets, as ModGap (ICLR 2026) pairs an alignment term with uniformity: pulling the
    pairs together must not pull the classes together. Lower is more uniform; the
    value is negative.

    Example config::

        cma_loss=dict(type='CMALoss',
                      extra_terms=[dict(type='PairCentroidUniformity', weight=1.0, t=2.0)])
    """
    name = 'unif'

    def __init__(self, weight: float = 1.0, t: float = 2.0):
        super().__init__(weight)
        self.t = check_number('PairCentroidUniformity', 't', t, positive=True)

    def forward(self, img: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        self.check_inputs(img, text)
        centroids = (img + text) / 2
        exponents = _off_diagonal(_pairwise_sq(centroids, centroids)).mul(-self.t)
        return torch.logsumexp(exponents, 0) - math.log(exponents.numel())


@MODELS.register_module()
class SharedPriorMoments(DistributionTerm):
    """Both modalities pulled to one prior, the uniform distribution on the unit sphere
    (mean 0, covariance ``I / d``), by its first two moments:
    ``||mu_x||^2 + ||mu_y||^2 + ||S_x - I/d||_F^2 + ||S_y - I/d||_F^2`` (population
    covariances about the batch means).

    CLIP-Refine's RaFA (Yamaguchi et al., CVPR 2025) pulls each pair towards one
    random vector ``r`` drawn from a prior. On unit-norm embeddings that pull has no
    expected direction: ``E_r ||z - r||^2 = 1 + E||r||^2`` whatever the direction of
    ``z`` when ``E r = 0``, so its expected gradient is radial and normalisation
    removes it. This term keeps the aim, one shared isotropic distribution for both
    modalities, deterministically.

    Example config::

        cma_loss=dict(type='CMALoss', extra_terms=[dict(type='SharedPriorMoments')])
    """
    name = 'prior'

    def forward(self, img: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        self.check_inputs(img, text)
        num, dim = img.shape
        target = torch.eye(dim, dtype=img.dtype, device=img.device) / dim
        total = img.new_zeros(())
        for embeds in (img, text):
            mean = embeds.mean(0)
            centred = embeds - mean
            total = total + mean.pow(2).sum() + (centred.t() @ centred / num - target).pow(2).sum()
        return total


@MODELS.register_module()
class MMDAlignment(DistributionTerm):
    """Squared maximum mean discrepancy between the image and the text embeddings, RBF
    kernel, the unbiased U-statistic for paired samples (the i = j terms left out, as
    ``evaluation/functional/gaps.py``'s ``mmd_rbf``), bandwidth by the median heuristic
    on the pooled first ``median_points`` rows of each modality, as ``mmd_rbf`` (held
    fixed within the step: no gradient through it).

    Example config::

        cma_loss=dict(type='CMALoss', extra_terms=[dict(type='MMDAlignment', weight=1.0)])
    """
    name = 'mmd'

    def __init__(self, weight: float = 1.0, median_points: int = 1000):
        super().__init__(weight)
        if isinstance(median_points, bool) or not isinstance(median_points, int) \
                or median_points < 2:
            raise ValueError(f'MMDAlignment.median_points must be an int >= 2, got '
                             f'{median_points!r}')
        self.median_points = median_points

    def forward(self, img: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        self.check_inputs(img, text)
        num = img.shape[0]
        with torch.no_grad():
            head = torch.cat([img[:self.median_points], text[:self.median_points]])
            upper = torch.triu_indices(len(head), len(head), offset=1, device=head.device)
            # quantile 0.5 averages the two middle values, as numpy's median does
            bandwidth_sq = torch.quantile(_pairwise_sq(head, head)[upper[0], upper[1]], 0.5)
        gamma = 1.0 / (2.0 * bandwidth_sq.clamp(min=1e-12))
        k_xx = _off_diagonal(_pairwise_sq(img, img).mul(-gamma).exp()).sum()
        k_yy = _off_diagonal(_pairwise_sq(text, text).mul(-gamma).exp()).sum()
        k_xy = _off_diagonal(_pairwise_sq(img, text).mul(-gamma).exp()).sum()
        return (k_xx + k_yy - 2 * k_xy) / (num * (num - 1))
