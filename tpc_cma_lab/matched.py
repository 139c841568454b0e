"""Accuracy at matched gap reduction: each method's curve read off at the same reductions.

Equal ``alpha_target`` does not mean equal alignment: two methods (TPC-CMA and
constant-alpha CMA) close different shares of the gap at one alpha. Their cost
in accuracy is compared where they close the *same* share: each family's points
(its alphas, with plain contrastive fine-tuning as alpha 0 of both) are joined
in alpha order, and the accuracy axis is read off by linear interpolation at
each target reduction. A target outside a family's range is not extrapolated
(None)::

    matched = matched_accuracy(summary, reduced, zero_shot, targets=(25, 50, 75))
    matched['TPC-CMA']['50']    # mean held-out top-1 where TPC-CMA closes 50 % of the gap
"""
from typing import Dict, List, Optional, Sequence, Tuple

from .verdicts import PLAIN_FINETUNING

__all__ = ['FAMILIES', 'curve', 'matched_accuracy', 'matched_table', 'read_off']

# Name prefixes of the method families whose curves are compared.
FAMILIES = ('TPC-CMA', 'CMA const')


def curve(summary: dict, reduced: dict, zero_shot: dict, family: str,
          key: str = 'centroid') -> List[Tuple[float, float, float]]:
    """(alpha, reduction of gap ``key`` in %, accuracy-axis mean) of a family in alpha
    order, starting at contrastive fine-tuning (alpha 0) where the summary has it."""
    names = [n for n in summary if n.startswith(family)]
    if PLAIN_FINETUNING in summary:
        names.append(PLAIN_FINETUNING)
    points = [(0.0 if n == PLAIN_FINETUNING else summary[n]['alpha_target'],
               reduced[n].get(key, float('nan')), zero_shot[n]['mean']) for n in names]
    return sorted(p for p in points if p[1] == p[1] and p[2] == p[2])


def read_off(points: Sequence[Tuple[float, float, float]], target: float) -> Optional[float]:
    """The accuracy where the curve first reaches reduction ``target`` (linear between
    neighbouring alphas); None if no segment spans it."""
    for (_, x0, y0), (_, x1, y1) in zip(points, points[1:]):
        if min(x0, x1) <= target <= max(x0, x1):
            return y0 if x1 == x0 else y0 + (y1 - y0) * (target - x0) / (x1 - x0)
    return None


def matched_accuracy(summary: dict, reduced: dict, zero_shot: dict,
                     targets: Sequence[float] = (25, 50, 75),
                     key: str = 'centroid') -> Dict[str, Dict[str, Optional[float]]]:
    """family -> target reduction (as a string key, JSON's) -> accuracy there, for every
    family with at least one fine-tuned point."""
    if not zero_shot:
        return {}
    out = {}
    for family in FAMILIES:
        points = curve(summary, reduced, zero_shot, family, key)
        if len(points) >= 2:
            out[family] = {f'{t:g}': read_off(points, t) for t in targets}
    return out


def matched_table(matched: dict, axis: str, key: str = 'centroid') -> List[str]:
    """The matched accuracies as markdown lines (empty without any)."""
    if not matched:
        return []
    targets = list(next(iter(matched.values())))
    lines = ['', f'**Accuracy at matched gap reduction** ({axis}, mean over seeds, read off each '
             f'family\'s curve from contrastive fine-tuning (alpha 0) through its alphas by '
             f'linear interpolation; "-": the family\'s runs do not span that {key} '
             'reduction):', '', '| family | ' + ' | '.join(f'-{t} % {key}' for t in targets)
             + ' |', '|---|' + '---|' * len(targets)]
    for family, row in matched.items():
        lines.append(f'| {family} | ' + ' | '.join(
            '-' if row[t] is None else f'{row[t]:.1f}' for t in targets) + ' |')
    return lines
