"""R² of a task on a gap key across a pool of models, and what it rests on (pool_stats)."""
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from .pool_stats import (SPREAD_KEYS, cluster_draws, correlation, draw_r_squared, duplicate_points,
                         leave_one_group_out, partial_correlation, percentile_interval,
                         permutation_p_value, spread)

__all__ = ['bootstrap_r_squared', 'deduplicate', 'model_name', 'pool_entries',
           'pool_r_squared', 'r_squared_difference']


def bootstrap_r_squared(x: Sequence[float], y: Sequence[float], num_resamples: int = 2000,
                        level: float = 0.95, seed: int = 0,
                        groups: Optional[Sequence[Hashable]] = None) -> Dict[str, float]:
    """R² of ``y ~ a x + b``, the percentile bootstrap interval, and ``r``, the signed
    correlation (a task that *rises* with a gap has r > 0: the R² alone would not tell
    a predictor of the claimed direction from its opposite).

    Resamples the points, or with ``groups`` (one label per point) the groups, each
    drawn group bringing all of its points (pool_stats.cluster_draws). Resamples in
    which x or y is constant have no R² and are left out of the interval;
    ``resamples_used`` says how many remained.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f'bootstrap_r_squared needs two 1-d sequences of one length >= 3 '
                         f'(one value per model), got shapes {x.shape} and {y.shape}.')
    if not 0 < level < 1:
        raise ValueError(f'bootstrap_r_squared level must lie in (0, 1), got {level}')
    if groups is not None and len(groups) != len(x):
        raise ValueError(f'bootstrap_r_squared needs one group per point, got {len(groups)} '
                         f'groups for {len(x)} points.')
    draws = cluster_draws(range(len(x)) if groups is None else groups, num_resamples, seed)
    values = draw_r_squared(x, y, draws)
    low, high = percentile_interval(values, level)
    r = correlation(x, y)
    return dict(r2=r ** 2, r=r, low=low, high=high,
                resamples_used=int(np.isfinite(values).sum()))


def model_name(entry: dict) -> str:
    """The pretrained model a run belongs to (a pretraining is its own)."""
    return entry['pretrained'] or entry['spec']['name']


def pool_entries(results: Dict[str, dict], task: str) -> Tuple[Dict[str, dict], List[str]]:
    """The pool's runs (every entry but WiSE-FT mixes) that have ``task``, and the keys of
    those left out for lacking it (e.g. GapShift has no CIDEr)."""
    pool = {k: e for k, e in results.items() if e['kind'] != 'wise'}
    left_out = sorted(k for k, e in pool.items() if task not in e['metrics'])
    return {k: e for k, e in pool.items() if task in e['metrics']}, left_out


def deduplicate(results: Dict[str, dict], gap_keys: Sequence[str],
                atol: float = 1e-6) -> Tuple[Dict[str, dict], Dict[str, List[str]]]:
    """``results`` with every pool run whose ``gap_keys`` equal an earlier run's (within
    ``atol``; pool_stats.duplicate_points) left out, and ``{run kept: [runs merged]}``."""
    pool, _ = pool_entries(results, gap_keys[0])
    names = list(pool)
    # A missing key is nan, which equals nothing: the report names such runs itself.
    merged = duplicate_points([[pool[n]['metrics'].get(k, np.nan) for k in gap_keys]
                               for n in names], atol)
    merged = {names[k]: [names[i] for i in rows] for k, rows in merged.items()}
    dropped = {n for rows in merged.values() for n in rows}
    return {k: e for k, e in results.items() if k not in dropped}, merged


def _pool_columns(results: Dict[str, dict], task: str, keys: Sequence[str],
                  only_with_task: bool) -> Tuple[List[dict], List[str]]:
    """The metrics of the pool's runs with ``task`` (each with ``keys``) and each run's
    pretrained model."""
    pool, left_out = pool_entries(results, task)
    if left_out and not only_with_task:
        raise KeyError(f'pool_r_squared: {task!r} is missing from {len(left_out)} runs '
                       f'({left_out[:3]}...); pass only_with_task=True to leave them out.')
    metrics = [entry['metrics'] for entry in pool.values()]
    missing = [k for k in keys if any(k not in m for m in metrics)]
    if missing:
        raise KeyError(f'pool_r_squared: keys {missing} are missing from some runs.')
    return metrics, [model_name(entry) for entry in pool.values()]


def pool_r_squared(results: Dict[str, dict], task: str, gap_keys: Sequence[str],
                   only_with_task: bool = False, num_permutations: int = 2000,
                   **kwargs) -> Dict[str, Dict[str, float]]:
    """``{gap key: statistics}`` of ``task`` over every model in a study's results:
    ``bootstrap_r_squared`` resampling pretrained models (``model_name``), ``p`` (two-sided
    permutation p-value of r), ``lomo_low`` / ``lomo_high`` (the least and greatest R²
    with one pretrained model's runs left out), ``partial_r`` (r given the spread,
    pool_stats.spread: the runs need its ``SPREAD_KEYS`` too), ``runs`` and ``models``.

    A run without ``task`` raises, unless ``only_with_task``: then the runs that have it
    are used (``pool_entries`` names those left out).
    """
    needed = list(gap_keys) + [k for k in SPREAD_KEYS if k not in gap_keys]
    metrics, groups = _pool_columns(results, task, needed, only_with_task)
    y, spreads = np.array([m[task] for m in metrics]), np.array([spread(m) for m in metrics])
    out = {}
    for key in gap_keys:
        x = np.array([m[key] for m in metrics])
        lomo = np.array(list(leave_one_group_out(x, y, groups).values()))
        out[key] = dict(bootstrap_r_squared(x, y, groups=groups, **kwargs),
                        p=permutation_p_value(x, y, num_permutations, kwargs.get('seed', 0)),
                        lomo_low=float(np.nanmin(lomo)), lomo_high=float(np.nanmax(lomo)),
                        partial_r=partial_correlation(x, y, spreads),
                        runs=len(metrics), models=len(set(groups)))
    return out


def r_squared_difference(results: Dict[str, dict], task: str, key_a: str, key_b: str,
                         num_resamples: int = 2000, level: float = 0.95,
                         seed: int = 0) -> Dict[str, float]:
    """R² of ``task`` on ``key_a`` minus that on ``key_b`` over the runs with ``task``, and
    its percentile interval over the same pretrained-model resamples for both keys."""
    metrics, groups = _pool_columns(results, task, (key_a, key_b), only_with_task=True)
    y = np.array([m[task] for m in metrics])
    x_a, x_b = (np.array([m[k] for m in metrics]) for k in (key_a, key_b))
    draws = cluster_draws(groups, num_resamples, seed)
    low, high = percentile_interval(draw_r_squared(x_a, y, draws) -
                                    draw_r_squared(x_b, y, draws), level)
    return dict(difference=correlation(x_a, y) ** 2 - correlation(x_b, y) ** 2,
                low=low, high=high)
