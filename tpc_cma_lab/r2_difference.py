"""How sure the reproduction's R² verdict is: R²(distribution) - R²(raw) of one task over a
pool of runs, with an interval that resamples *variants*.

The seeds of one variant share its model and its post-hoc fix, so the interval is a cluster
bootstrap (each drawn variant brings all of its seeds; ``tpc_cma_lab/study/pool_stats.py``),
and variants whose runs coincide in every gap key and the task (C3 scores mean-centering's
embeddings) count as one cluster. The verdict is a tie when the interval holds zero::

    found = r_squared_difference(results)   # None with fewer than 3 runs
    found['difference'], found['interval']
"""
from typing import Dict, Optional, Sequence

import numpy as np

from .report_text import in_pool
from .study.pool_stats import (cluster_draws, correlation, draw_r_squared, duplicate_points,
                               percentile_interval)

__all__ = ['LEVEL', 'RESAMPLES', 'r_squared_difference']

RESAMPLES, LEVEL, SEED = 2000, 0.95, 0


def r_squared_difference(results: Dict[str, dict], task: str = 'clustering/ari_class',
                         keys: Sequence[str] = ('distribution', 'raw'),
                         pool: str = 'all runs') -> Optional[dict]:
    """``dict(difference, interval, resamples, clusters)``: R² of ``task`` on the first gap
    key minus on the second over the runs of ``pool``, and its central :data:`LEVEL`
    interval over :data:`RESAMPLES` cluster-bootstrap resamples of the variants."""
    names = [f'gap/{k}' for k in keys]
    runs = [e for e in results.values() if in_pool(e, pool)
            and all(n in e['metrics'] for n in [task] + names)]
    if len(runs) < 3:
        return None
    y = np.array([e['metrics'][task] for e in runs])
    first, second = (np.array([e['metrics'][n] for e in runs]) for n in names)
    variants = [e['variant'] for e in runs]
    for kept, merged in duplicate_points(np.array(
            [[e['metrics'][n] for n in names] + [e['metrics'][task]] for e in runs])).items():
        for row in merged:
            variants = [variants[kept] if v == variants[row] else v for v in variants]
    draws = cluster_draws(variants, RESAMPLES, SEED)
    differences = draw_r_squared(first, y, draws) - draw_r_squared(second, y, draws)
    return dict(difference=correlation(first, y) ** 2 - correlation(second, y) ** 2,
                interval=percentile_interval(differences, LEVEL), resamples=RESAMPLES,
                clusters=len(set(variants)))
