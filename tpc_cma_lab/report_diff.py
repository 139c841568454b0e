"""Two reproduction reports' runs side by side: how far each metric lies apart, and where
their verdicts differ (docs/results.md, "Reproducing the numbers").

Made for a rerun elsewhere (another CPU, thread count or library version): the runs both
reports record under one key are compared metric by metric::

    from tpc_cma_lab.report_diff import run_differences, differences_table
    diffs = run_differences(old['runs'], new['runs'], metrics=('gap/', 'zero_shot'))
    print('\\n'.join(differences_table(diffs)))
"""
import math
from typing import Dict, List, Optional, Sequence

__all__ = ['differences_table', 'run_differences']


def _chosen(name: str, prefixes: Optional[Sequence[str]]) -> bool:
    return prefixes is None or any(name.startswith(p) for p in prefixes)


def run_differences(a: Dict[str, dict], b: Dict[str, dict],
                    metrics: Optional[Sequence[str]] = None,
                    variants: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    """metric -> ``dict(runs, max_abs, mean_abs, scale, worst)`` over the runs both ``a`` and
    ``b`` (``results.json``'s ``runs``) record: the largest and mean absolute difference, the
    mean absolute value (its scale) and the run of the largest. ``metrics``: name prefixes
    to keep (None: all); ``variants``: variant names to keep (None: all). A metric that is
    NaN in either run is left out of that run's comparison."""
    if not set(a) & set(b):
        raise ValueError('The two reports share no run (keys "variant | seed N"): nothing to '
                         'compare. Give two reports of the same protocol.')
    pairs: Dict[str, list] = {}
    for key in sorted(set(a) & set(b)):
        if variants is not None and a[key]['variant'] not in variants:
            continue
        left, right = a[key]['metrics'], b[key]['metrics']
        for name in sorted(set(left) & set(right)):
            x, y = left[name], right[name]
            if _chosen(name, metrics) and not (math.isnan(x) or math.isnan(y)):
                pairs.setdefault(name, []).append((abs(x - y), key, abs(x) + abs(y)))
    return {name: dict(runs=len(found), max_abs=max(found)[0],
                       mean_abs=sum(d for d, _, _ in found) / len(found),
                       scale=sum(s for _, _, s in found) / (2 * len(found)),
                       worst=max(found)[1])
            for name, found in pairs.items()}


def differences_table(diffs: Dict[str, dict]) -> List[str]:
    """The differences as markdown lines, one row per metric."""
    lines = ['| metric | runs | max abs difference | mean abs difference | mean abs value | '
             'largest at |', '|---|---|---|---|---|---|']
    lines += [f'| {name} | {d["runs"]} | {d["max_abs"]:.4g} | {d["mean_abs"]:.4g} | '
              f'{d["scale"]:.4g} | {d["worst"]} |' for name, d in diffs.items()]
    return lines
