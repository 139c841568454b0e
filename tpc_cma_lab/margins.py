"""When a reproduction's margin is a result and when it is a tie (docs/results.md, "Ties").

Every comparative verdict compares two estimates, each a mean with a spread: the
sample std over the report's seeds (which vary fine-tuning and the decoder only:
every row comes from one pretrained model) and, where measured for the report's
protocol, the std over *pretraining* seeds (:data:`PRETRAINING_SPREAD`). The rule:
a difference counts only if it is larger than twice the spread of the difference,
``|a - b| > 2 * sqrt(spread_a**2 + spread_b**2)``; otherwise it is a tie::

    from tpc_cma_lab.margins import estimate, outcome
    a = estimate(summary, 'TPC-CMA alpha=0.5', 'caption_image/CIDEr', floor)
    b = estimate(summary, 'posthoc mean-centering', 'caption_image/CIDEr', floor)
    outcome(a, b)   # (+1, 'margin ...') when a is clearly higher, (0, ...) for a tie
"""
import math
from typing import NamedTuple, Optional, Tuple, Union

__all__ = ['MEASURED_AT', 'PRETRAINING_SPREAD', 'TIE', 'Estimate', 'change_estimate',
           'estimate', 'outcome', 'pretraining_floor', 'reduction_estimate', 'sample_std']

TIE = 'tie'
# The std over pretraining seeds 1, 2 and 3 of the model pool (results/experiments/pool.json;
# docs/results.md, "Ties" gives the command), pooled (root mean variance) over the rows whose
# protocol is the reproduction's: the pretrained model, its post-hoc fixes (mean-centering,
# gap shift) and its contrastive fine-tuning (300 iterations on the four shapes the
# reproduction fine-tunes on). Levels for metrics; for reductions and the zero-shot change,
# the std of the change against each seed's own pretrained model, in %; the zero-shot change
# is the accuracy axis's, top-1 on the held-out shapes. tests/lab/test_margins.py recomputes
# every entry.
PRETRAINING_SPREAD = {
    'gap/centroid': 0.00922, 'gap/distribution': 0.0164, 'gap/raw': 0.0113,
    'zero_shot/top1': 3.40, 'zero_shot_held_out/top1': 4.93, 'clustering/ari_class': 0.0638,
    'caption_image/CIDEr': 0.202, 'reduction/centroid': 0.572, 'reduction/distribution': 1.80,
    'reduction/raw': 0.938, 'zero_shot/change_relative': 5.01}
# The pool's protocol: a report with other settings gets no pretraining floor.
MEASURED_AT = dict(pretrain_iters=1000, finetune_iters=300, decoder_iters=300,
                   caption_train=3000, caption_test=300)


def pretraining_floor(settings: dict) -> dict:
    """:data:`PRETRAINING_SPREAD` for a report of the pool's protocol (the tiny model
    pretrained by the tool with :data:`MEASURED_AT`'s settings), else ``{}``."""
    same = all(settings.get(k) == v for k, v in MEASURED_AT.items())
    return dict(PRETRAINING_SPREAD) if same and str(
        settings.get('original', '')).startswith('config ') else {}


def sample_std(std: float, seeds: int) -> Optional[float]:
    """The sample std (n - 1) from the report's population std over ``seeds``; None for one."""
    return std * math.sqrt(seeds / (seeds - 1)) if seeds > 1 else None


class Estimate(NamedTuple):
    """A mean, its std over the report's seeds (None: one seed) and its pretraining floor
    (None: not measured for this protocol)."""
    value: float
    seed_std: Optional[float]
    floor: Optional[float]
    seeds: int

    @property
    def spread(self) -> Optional[float]:
        parts = [p for p in (self.seed_std, self.floor) if p is not None]
        return math.sqrt(sum(p * p for p in parts)) if parts else None


def estimate(summary: dict, name: str, key: str, floor: dict) -> Optional[Estimate]:
    """One row's metric as an :class:`Estimate`; None if the row or metric is missing."""
    row = summary.get(name, {})
    if key not in row.get('metrics', {}):
        return None
    mean, std = row['metrics'][key]
    return Estimate(mean, sample_std(std, row['seeds']), floor.get(key), row['seeds'])


def reduction_estimate(summary: dict, reduced: dict, name: str, key: str,
                       floor: dict) -> Optional[Estimate]:
    """A row's gap reduction (%) against the original, its seed spread carried through
    (the original's gap as a constant: it is one model)."""
    gap = estimate(summary, name, f'gap/{key}', floor)
    before = summary.get('original', {}).get('metrics', {}).get(f'gap/{key}', (0.0, 0.0))[0]
    if key not in reduced.get(name, {}) or gap is None or not before:
        return None
    seed_std = None if gap.seed_std is None else 100 * gap.seed_std / before
    return Estimate(reduced[name][key], seed_std, floor.get(f'reduction/{key}'), gap.seeds)


def change_estimate(summary: dict, zero_shot: dict, name: str, floor: dict) -> Estimate:
    """A row's relative change (%) of the mean zero-shot top-1 against the original's
    (:func:`tpc_cma_lab.report.zero_shot_change`), the benchmarks' seed spreads carried
    through as independent."""
    rows = [estimate(summary, name, k, floor) for k in zero_shot[name]['per_benchmark']]
    seed_std = None if any(e.seed_std is None for e in rows) else (
        100 * math.sqrt(sum(e.seed_std**2 for e in rows)) / len(rows)
        / zero_shot['original']['mean'])
    return Estimate(zero_shot[name]['change_relative'], seed_std,
                    floor.get('zero_shot/change_relative'), rows[0].seeds)


def _basis(estimates) -> str:
    seeds = min(e.seeds for e in estimates)
    if all(e.floor is not None for e in estimates):
        return (f'{seeds} fine-tuning seeds and the pretraining-seed floor' if seeds > 1
                else 'one seed: the pretraining-seed floor only')
    if seeds > 1:
        return f'{seeds} fine-tuning seeds only, no pretraining variation'
    return 'one seed, no floor for this protocol: no spread'


def outcome(a: Estimate, b: Union[Estimate, float]) -> Tuple[int, str]:
    """+1 if ``a`` is clearly above ``b`` (an estimate or a fixed threshold), -1 clearly
    below, 0 a tie; with the margin, twice the spread and what the spread rests on."""
    parts = [a] + ([b] if isinstance(b, Estimate) else [])
    spreads = [e.spread for e in parts]
    other = b.value if isinstance(b, Estimate) else b
    margin = a.value - other
    if any(s is None for s in spreads):
        return 0, f'margin {abs(margin):.3g}, {_basis(parts)}'
    limit = 2 * math.sqrt(sum(s * s for s in spreads))
    sign = 0 if abs(margin) <= limit else (1 if margin > 0 else -1)
    return sign, f'margin {abs(margin):.3g} vs 2 x spread {limit:.3g} ({_basis(parts)})'
