"""The modality-gap measures of docs/spec.md, on paired (N, d) embeddings.

``gap_metrics(img, text)`` is the one entry point for notebooks and tools;
``ModalityGapMetric`` streams the same :class:`PairedMoments` batch by batch and
calls :func:`gaps_from_moments`, so both give identical numbers.
"""
from typing import Dict, Optional

import numpy as np
import torch

from .moments import PairedMoments

__all__ = ['DISTANCE_KEYS', 'GAP_KEYS', 'SIMILARITY_KEYS', 'SPREAD_INVARIANT_KEYS',
           'bures_distance', 'bures_fidelity', 'gap_metrics', 'gap_reduction',
           'gaps_from_moments', 'mmd_rbf']

# The keys gap_metrics returns (the metric adds the 'gap/' prefix).
GAP_KEYS = ('centroid', 'raw', 'distribution', 'bures', 'cov_fro', 'mmd',
            'mean_paired_cosine', 'distribution_rel', 'centred_corr', 'centred_cosine',
            'bures_unit')
# Keys that do not change when the centred parts of both modalities are scaled
# by one factor (the spread of the embeddings; docs/spec.md, gap measures).
SPREAD_INVARIANT_KEYS = ('distribution_rel', 'centred_corr', 'centred_cosine', 'bures_unit')
# Similarities (larger is closer): no "gap reduced by X %" for these.
SIMILARITY_KEYS = ('mean_paired_cosine', 'centred_corr', 'centred_cosine')
# The gaps proper (0 = no gap): what reports reduce, plot and regress on.
DISTANCE_KEYS = tuple(k for k in GAP_KEYS if k not in SIMILARITY_KEYS)


def bures_fidelity(cov_a: torch.Tensor, cov_b: torch.Tensor) -> float:
    """``tr (A^1/2 B A^1/2)^1/2`` for symmetric PSD A, B (float64).

    Both square roots come from symmetric eigendecompositions; eigenvalues
    that rounding makes slightly negative are clipped to 0.
    """
    a, b = cov_a.double(), cov_b.double()
    eigvals, eigvecs = torch.linalg.eigh(a)
    sqrt_a = (eigvecs * eigvals.clamp(min=0).sqrt()) @ eigvecs.t()
    middle = sqrt_a @ b @ sqrt_a
    middle = (middle + middle.t()) / 2  # symmetric up to rounding; eigvalsh needs exact
    return float(torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum())


def _bures_from_fidelity(trace_a: float, trace_b: float, fidelity: float) -> float:
    return float(np.sqrt(max(trace_a + trace_b - 2 * fidelity, 0.0)))


def bures_distance(cov_a: torch.Tensor, cov_b: torch.Tensor) -> float:
    """sqrt(tr A + tr B - 2 tr (A^1/2 B A^1/2)^1/2) for symmetric PSD A, B."""
    return _bures_from_fidelity(float(torch.trace(cov_a.double())),
                                float(torch.trace(cov_b.double())),
                                bures_fidelity(cov_a, cov_b))


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||a_i||^2 + ||b_j||^2 - 2 <a_i, b_j>, at least 0; the (m, n) matrix is made once
    and then changed in place (each step the same operation as out of place)."""
    sq = a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1)
    return sq.sub_((a @ b.t()).mul_(2)).clamp_(min=0)


def _kernel_sum(a: torch.Tensor, b: torch.Tensor, gamma: float, block: int) -> float:
    """sum_ij k(a_i, b_j), by row blocks to keep memory at O(block * m)."""
    total = 0.0
    for start in range(0, len(a), block):
        total += float(_squared_distances(a[start:start + block], b).mul_(-gamma).exp_().sum())
    return total


def _kernel_sum_within(a: torch.Tensor, gamma: float, block: int) -> float:
    """sum_ij k(a_i, a_j): each block row against itself and the rows after it, doubled."""
    total = 0.0
    for start in range(0, len(a), block):
        rows = a[start:start + block]
        total += _kernel_sum(rows, rows, gamma, block)
        total += 2 * _kernel_sum(rows, a[start + block:], gamma, block)
    return total


def mmd_rbf(x: torch.Tensor, y: torch.Tensor, median_points: int = 1000,
            block: int = 1024) -> float:
    """MMD between two equally sized sets with an RBF kernel, median bandwidth.

    Kernel ``k(a, b) = exp(-||a - b||^2 / (2 s^2))`` where ``s^2`` is the median
    squared distance over all distinct pairs of the pooled first
    ``median_points`` rows of ``x`` and of ``y`` (the median heuristic; a cap
    keeps it O(median_points^2)). Estimator: the unbiased U-statistic of
    Gretton et al. (JMLR 2012, Lemma 6) for m paired samples,
    ``MMD^2_u = 1/(m(m-1)) sum_{i != j} [k(x_i,x_j) + k(y_i,y_j) - k(x_i,y_j) - k(x_j,y_i)]``,
    which stays unbiased when x_i and y_i are dependent (a pair) because the
    i = j terms are left out. It can fall below 0 when the sets match; the
    value returned is ``sqrt(max(MMD^2_u, 0))``.
    """
    if x.shape != y.shape or len(x) < 2:
        raise ValueError(f'mmd_rbf needs two (m, d) sets with m >= 2, got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}')
    x, y = x.double(), y.double()
    m = len(x)
    head = torch.cat([x[:median_points], y[:median_points]])
    upper = torch.triu_indices(len(head), len(head), offset=1)
    pair_sq = _squared_distances(head, head)[upper[0], upper[1]]
    bandwidth_sq = float(np.median(pair_sq.numpy()))
    if bandwidth_sq <= 0:
        return 0.0  # every point identical: the two sets coincide
    gamma = 1.0 / (2.0 * bandwidth_sq)
    paired = float(torch.exp(-gamma * (x - y).pow(2).sum(1)).sum())  # the i = j cross terms
    within = _kernel_sum_within(x, gamma, block) + _kernel_sum_within(y, gamma, block) - 2 * m
    across = _kernel_sum(x, y, gamma, block) - paired
    mmd_sq = (within - 2 * across) / (m * (m - 1))
    return float(np.sqrt(max(mmd_sq, 0.0)))


def gaps_from_moments(moments: PairedMoments, median_points: int = 1000) -> Dict[str, float]:
    """Every gap key of docs/spec.md from accumulated moments (see ``GAP_KEYS``).

    Covariances are population covariances (divided by N), as in the CMA
    loss, so that raw^2 = centroid^2 + distribution^2 holds exactly. With
    ``T_x = tr S_x``, ``T_y = tr S_y`` (the spreads) and ``F`` the Bures
    fidelity of ``S_x`` and ``S_y``, the spread-invariant keys are

    * ``distribution_rel = distribution / sqrt(T_x + T_y)``;
    * ``centred_corr = mean_i <x~_i, y~_i> / sqrt(T_x T_y)``, from the identity
      ``distribution^2 = T_x + T_y - 2 mean_i <x~_i, y~_i>``;
    * ``bures_unit``: the Bures distance of ``S_x / T_x`` and ``S_y / T_y``,
      ``sqrt(2 - 2 F / sqrt(T_x T_y))``, in ``[0, sqrt 2]``;
    * ``centred_cosine = mean_i cos(x~_i, y~_i)``: a per-pair normalisation by
      the final means, which no running sum gives, so it is the mean over the
      retained subsample (all pairs when N <= ``max_samples``).

    The MMD compares the centred subsample ``x_i - mu_x`` with ``y_i - mu_y``
    (means of all N pairs). Subsample keys are ``nan`` when the moments keep
    no subsample or fewer than two pairs were seen.
    """
    cov_img, cov_text = moments.covariances()
    count = moments.count
    trace_img, trace_text = float(torch.trace(cov_img)), float(torch.trace(cov_text))
    spread, spread_product = trace_img + trace_text, np.sqrt(trace_img * trace_text)
    distribution_sq = moments.diff_scatter_trace / count
    fidelity = bures_fidelity(cov_img, cov_text)
    nan = float('nan')
    out = dict(
        centroid=float((moments.mean_img - moments.mean_text).norm()),
        raw=float(np.sqrt(moments.diff_sq_sum / count)),
        distribution=float(np.sqrt(distribution_sq)),
        bures=_bures_from_fidelity(trace_img, trace_text, fidelity),
        cov_fro=float((cov_img - cov_text).norm()),
        mmd=nan,
        mean_paired_cosine=moments.cosine_sum / count,
        distribution_rel=float(np.sqrt(distribution_sq / spread)) if spread > 0 else nan,
        centred_corr=float((spread - distribution_sq) / (2 * spread_product))
        if spread_product > 0 else nan,
        centred_cosine=nan,
        bures_unit=_bures_from_fidelity(1.0, 1.0, fidelity / spread_product)
        if spread_product > 0 else nan)
    if moments.max_samples > 0 and count >= 2:
        sample_img, sample_text, _ = moments.subsample()
        centred_img, centred_text = sample_img - moments.mean_img, sample_text - moments.mean_text
        out['mmd'] = mmd_rbf(centred_img, centred_text, median_points)
        out['centred_cosine'] = float(
            torch.nn.functional.cosine_similarity(centred_img, centred_text, dim=1).mean())
    return out


def gap_metrics(img: torch.Tensor, text: torch.Tensor, max_mmd_samples: int = 5000,
                seed: int = 0, median_points: int = 1000,
                indices: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """All gap keys for N pairs: ``img[i]`` and ``text[i]`` are one pair.

    Args:
        img, text: ``(N, d)`` embeddings (L2-normalised for the meaning of docs/spec.md).
        max_mmd_samples (int): Pairs in the MMD's seeded subsample (0: skip MMD).
        seed (int): Seed of that subsample.
        median_points (int): Rows per modality for the median bandwidth.
        indices: Global sample index of each row (default ``arange(N)``); the
            subsample depends on these, not on the row order.
    """
    moments = PairedMoments(max_samples=max_mmd_samples, seed=seed)
    moments.update(img, text, indices)
    return gaps_from_moments(moments, median_points)


def gap_reduction(before: Dict[str, float], after: Dict[str, float]) -> Dict[str, float]:
    """``100 * (1 - G_after / G_before)`` for every gap key both share (docs/spec.md);
    similarities (``SIMILARITY_KEYS``) are left out. The keys keep ``before``'s order
    (a set intersection would order them by the hash seed, and a results file's bytes with it)."""
    out = {}
    for key in before:
        if key in SIMILARITY_KEYS or key not in after:
            continue
        out[key] = 100.0 * (1.0 - after[key] / before[key]) if before[key] else float('nan')
    return out
