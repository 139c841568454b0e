"""What an R² across a model pool rests on: pure functions on one value per point.

A point is one scored run; runs of one pretrained model share its pretraining and are
not independent, so the intervals resample pretrained models (a cluster bootstrap:
each drawn model brings all of its runs), and the leave-one-model-out range shows how
much one model moves the fit. A post-hoc fix scored on another variant's embeddings
repeats that variant's point; ``duplicate_points`` finds such repeats so they count once.
"""
from typing import Dict, Hashable, List, Mapping, Sequence, Tuple

import numpy as np

# The stored keys ``spread`` is recovered from.
SPREAD_KEYS = ('gap/distribution', 'gap/distribution_rel')

__all__ = ['SPREAD_KEYS', 'cluster_draws', 'correlation', 'draw_r_squared', 'duplicate_points',
           'leave_one_group_out', 'partial_correlation', 'percentile_interval',
           'permutation_p_value', 'spread']


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; nan when x or y is constant (no line to fit)."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float('nan')
    return float(np.corrcoef(x, y)[0, 1])


def duplicate_points(vectors: np.ndarray, atol: float = 1e-6) -> Dict[int, List[int]]:
    """``{row kept: [later rows merged into it]}`` for rows of ``vectors`` (points by
    keys) that equal an earlier kept row within ``atol`` in every column; rows with
    no duplicate are absent. A nan never equals anything."""
    vectors = np.asarray(vectors, dtype=float)
    kept, merged = [], {}
    for row, vector in enumerate(vectors):
        same = next((k for k in kept if np.all(np.abs(vectors[k] - vector) <= atol)), None)
        if same is None:
            kept.append(row)
        else:
            merged.setdefault(same, []).append(row)
    return merged


def cluster_draws(groups: Sequence[Hashable], num_resamples: int,
                  seed: int) -> List[np.ndarray]:
    """The point indices of each cluster-bootstrap resample: as many groups as there
    are, drawn with replacement, each bringing all of its points. With one point per
    group these are the ordinary bootstrap's draws ``rng.integers(n, size=(R, n))``."""
    names = list(dict.fromkeys(groups))
    members = [np.flatnonzero([g == name for g in groups]) for name in names]
    rng = np.random.default_rng(seed)
    return [np.concatenate([members[i] for i in draw])
            for draw in rng.integers(len(names), size=(num_resamples, len(names)))]


def draw_r_squared(x: np.ndarray, y: np.ndarray, draws: Sequence[np.ndarray]) -> np.ndarray:
    """R² of each resample (nan where x or y is constant in it).

    A simple linear regression's R² is the squared Pearson correlation. Resamples of one
    length (every bootstrap over equal groups) are scored at once with np.corrcoef's
    formula (it agrees with one np.corrcoef call per resample to rounding): one call
    each made a pool report's 2,000 resamples x keys x tasks cost minutes.
    """
    if len({len(d) for d in draws}) != 1:
        return np.array([correlation(x[d], y[d]) ** 2 for d in draws])
    xs, ys = x[np.stack(draws)], y[np.stack(draws)]
    constant = (np.ptp(xs, axis=1) == 0) | (np.ptp(ys, axis=1) == 0)
    xs = xs - xs.mean(axis=1, keepdims=True)
    ys = ys - ys.mean(axis=1, keepdims=True)
    with np.errstate(invalid='ignore', divide='ignore'):
        r = np.clip((xs * ys).sum(1) / np.sqrt((xs * xs).sum(1) * (ys * ys).sum(1)), -1, 1)
    return np.where(constant, np.nan, r ** 2)


def percentile_interval(values: np.ndarray, level: float) -> Tuple[float, float]:
    """The central ``level`` percentile interval of the finite ``values`` (nan, nan if none)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return float('nan'), float('nan')
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def permutation_p_value(x: Sequence[float], y: Sequence[float], num_permutations: int = 2000,
                        seed: int = 0) -> float:
    """Two-sided permutation p-value of Pearson's r: the share of random pairings of
    ``y`` with ``x`` whose |r| reaches the observed |r|, counting the observed pairing
    (``(1 + hits) / (1 + num_permutations)``, never 0). nan when x or y is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    observed = correlation(x, y)
    if np.isnan(observed):
        return float('nan')
    rng = np.random.default_rng(seed)
    # r of a pairing is the mean product of the standardised values.
    zx, zy = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    permuted = rng.permuted(np.tile(zy, (num_permutations, 1)), axis=1)
    null = np.abs(permuted @ zx / len(x))
    # Rounding: a pairing equal to the observed one must count as reaching it.
    hits = int(np.sum(null >= abs(observed) * (1 - 1e-12)))
    return (1 + hits) / (1 + num_permutations)


def leave_one_group_out(x: np.ndarray, y: np.ndarray,
                        groups: Sequence[Hashable]) -> Dict[Hashable, float]:
    """``{group: R² of the points of every other group}``."""
    groups = np.asarray(groups, dtype=object)
    return {name: correlation(x[groups != name], y[groups != name]) ** 2
            for name in dict.fromkeys(groups)}


def partial_correlation(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Pearson's r of x and y with the linear effect of z taken out of both:
    ``(r_xy - r_xz r_yz) / sqrt((1 - r_xz²)(1 - r_yz²))``."""
    r_xy, r_xz, r_yz = correlation(x, y), correlation(x, z), correlation(y, z)
    return float((r_xy - r_xz * r_yz) / np.sqrt((1 - r_xz ** 2) * (1 - r_yz ** 2)))


def spread(metrics: Mapping[str, float]) -> float:
    """``sqrt(tr S_x + tr S_y)`` of a run, from its stored gap keys: ``distribution_rel``
    is ``distribution / sqrt(tr S_x + tr S_y)`` (gaps.gaps_from_moments), so the spread is
    their ratio; nan where both are 0 (no distribution gap to divide)."""
    distribution, rel = (metrics[k] for k in SPREAD_KEYS)
    return distribution / rel if rel > 0 else float('nan')
