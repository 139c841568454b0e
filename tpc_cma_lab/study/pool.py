"""R² of a task on a gap key across a pool of models, with a bootstrap confidence interval."""
from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = ['bootstrap_r_squared', 'pool_entries', 'pool_r_squared']


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float('nan')
    return float(np.corrcoef(x, y)[0, 1])


def _resampled_r_squared(x: np.ndarray, y: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """R² of every resample (a row of ``draws``), NaN where its x or y is constant.

    A simple linear regression's R² is the squared Pearson correlation; np.corrcoef's
    formula (centred products over the root of the centred squares), on every resample at
    once: one np.corrcoef call per resample made a pool report's 2000 x keys x tasks
    resamples cost minutes. It agrees with np.corrcoef to rounding.
    """
    xs, ys = x[draws], y[draws]
    constant = (np.ptp(xs, axis=1) == 0) | (np.ptp(ys, axis=1) == 0)
    xs = xs - xs.mean(axis=1, keepdims=True)
    ys = ys - ys.mean(axis=1, keepdims=True)
    with np.errstate(invalid='ignore', divide='ignore'):
        r = np.clip((xs * ys).sum(1) / np.sqrt((xs * xs).sum(1) * (ys * ys).sum(1)), -1, 1)
    return np.where(constant, np.nan, r ** 2)


def bootstrap_r_squared(x: Sequence[float], y: Sequence[float], num_resamples: int = 2000,
                        level: float = 0.95, seed: int = 0) -> Dict[str, float]:
    """R² of ``y ~ a x + b``, the percentile bootstrap interval over resampled models,
    and ``r``, the signed correlation (a task that *rises* with a gap has r > 0: the
    R² alone would not tell a predictor of the claimed direction from its opposite).

    Resamples in which x or y is constant have no R² and are left out of the
    interval; ``resamples_used`` says how many remained.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f'bootstrap_r_squared needs two 1-d sequences of one length >= 3 '
                         f'(one value per model), got shapes {x.shape} and {y.shape}.')
    if not 0 < level < 1:
        raise ValueError(f'bootstrap_r_squared level must lie in (0, 1), got {level}')
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(x), size=(num_resamples, len(x)))
    values = _resampled_r_squared(x, y, draws)
    values = values[~np.isnan(values)]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, ) * 2
    r = _correlation(x, y)
    return dict(r2=r ** 2, r=r, low=float(low), high=float(high),
                resamples_used=int(len(values)))


def pool_entries(results: Dict[str, dict], task: str) -> Tuple[Dict[str, dict], List[str]]:
    """The pool's runs (every entry but WiSE-FT mixes) that have ``task``, and the keys of
    those left out for lacking it (e.g. GapShift has no CIDEr)."""
    pool = {k: e for k, e in results.items() if e['kind'] != 'wise'}
    left_out = sorted(k for k, e in pool.items() if task not in e['metrics'])
    return {k: e for k, e in pool.items() if task in e['metrics']}, left_out


def pool_r_squared(results: Dict[str, dict], task: str, gap_keys: Sequence[str],
                   only_with_task: bool = False, **kwargs) -> Dict[str, Dict[str, float]]:
    """``{gap key: bootstrap_r_squared}`` of ``task`` over every model in a study's results.

    A run without ``task`` raises, unless ``only_with_task``: then the runs that have it
    are used (``pool_entries`` names those left out) and each result says ``runs``.
    """
    pool, left_out = pool_entries(results, task)
    if left_out and not only_with_task:
        raise KeyError(f'pool_r_squared: {task!r} is missing from {len(left_out)} runs '
                       f'({left_out[:3]}...); pass only_with_task=True to leave them out.')
    metrics = [entry['metrics'] for entry in pool.values()]
    missing = [k for k in gap_keys if any(k not in m for m in metrics)]
    if missing:
        raise KeyError(f'pool_r_squared: keys {missing} are missing from some runs.')
    return {key: dict(bootstrap_r_squared([m[key] for m in metrics],
                                          [m[task] for m in metrics], **kwargs),
                      runs=len(metrics)) for key in gap_keys}
