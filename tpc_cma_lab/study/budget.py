"""The budget table of a study's results: one fine-tuning at several iteration counts, its
seeds' centroid reduction and held-out zero-shot beside contrastive fine-tuning at the same
budgets (docs/method.md, "Budget at the paper's alpha")::

    print('\\n'.join(budget_table(read_json('results/experiments/budget_alpha/merged.json'),
                                  loss='tpc', alpha=0.05)))
"""
from typing import Dict, List

import numpy as np

from tpc_cma_mm.evaluation.functional.gaps import gap_reduction

__all__ = ['budget_rows', 'budget_table']


def budget_rows(results: Dict[str, dict], loss: str, alpha: float) -> List[dict]:
    """Per iteration count where ``loss`` at ``alpha`` ran: its seeds' centroid reduction (%)
    against the pretrained model, held-out and seen-shape zero-shot, and contrastive
    fine-tuning's at the same count (None where it did not run)."""
    original = [e for e in results.values() if e['kind'] == 'pretrain']
    if len(original) != 1:
        raise ValueError(f'A budget table needs one pretrained model in the results, found '
                         f'{len(original)}: give the results file of one budget study.')
    before = original[0]['metrics']['gap/centroid']
    runs: Dict[tuple, list] = {}
    for entry in results.values():
        spec = entry['spec']
        if entry['kind'] == 'finetune':
            runs.setdefault((spec['iters'], spec['loss'], spec['alpha']), []).append(
                (spec.get('seed', 0), entry['metrics']))

    def scores(found):
        found = [m for _, m in sorted(found, key=lambda pair: pair[0])]
        return dict(cut=[gap_reduction(dict(centroid=before),
                                       dict(centroid=m['gap/centroid']))['centroid']
                         for m in found],
                    held_out=[m['zero_shot_held_out/top1'] for m in found],
                    seen=[m['zero_shot_seen/top1'] for m in found])

    return [dict(iters=iters, method=scores(runs[(iters, loss, alpha)]),
                 contrastive=scores(runs[(iters, 'contrastive', 0.0)])
                 if (iters, 'contrastive', 0.0) in runs else None)
            for iters in sorted({k[0] for k in runs if k[1:] == (loss, alpha)})]


def _mean_std(values: List[float]) -> str:
    return f'{np.mean(values):.1f} ± {np.std(values):.1f}'


def budget_table(results: Dict[str, dict], loss: str = 'tpc', alpha: float = 0.05) -> List[str]:
    """:func:`budget_rows` as markdown lines (mean ± std over seeds, each seed's reduction)."""
    lines = [f'| iterations | {loss} {alpha:g}: centroid reduction % (per seed) | held-out '
             'zero-shot % | seen shapes % | contrastive: centroid reduction % | held-out % | '
             'held-out net of contrastive (points) |', '|---|---|---|---|---|---|---|']
    for row in budget_rows(results, loss, alpha):
        method, plain = row['method'], row['contrastive']
        cells = [str(row['iters']),
                 f'{_mean_std(method["cut"])} ({" / ".join(f"{c:.1f}" for c in method["cut"])})',
                 _mean_std(method['held_out']), _mean_std(method['seen'])]
        cells += ['-', '-', '-'] if plain is None else [
            _mean_std(plain['cut']), _mean_std(plain['held_out']),
            f'{np.mean(method["held_out"]) - np.mean(plain["held_out"]):+.1f}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines
