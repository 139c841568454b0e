"""The paper's claims, each judged on a reproduction's summary: what holds, with its numbers.

A verdict is ``dict(claim, criterion, ours, holds, winner, margin)``: ``holds`` is
True, False, ``'tie'`` (the margin is within the spread) or None (the runs needed are
missing); ``winner`` names the best of several competitors where a claim ranks them,
``'tie'`` when another is within the spread of the best, else None; ``margin`` says what the
decision rests on (:mod:`.margins`: a difference counts only beyond twice its spread over
seeds, pretraining seeds included where measured). The quick mode must tell the full
mode's story: :func:`tpc_cma_lab.verdict_table.compare_verdicts` lists where two
reports' verdicts differ (docs/results.md, "The quick mode tells the same story")::

    from tpc_cma_lab.margins import pretraining_floor
    from tpc_cma_lab.verdicts import claim_verdicts
    full = claim_verdicts(summary, reduced, zero_shot, r2, pretraining_floor(settings))
"""
from typing import Dict, List, Optional, Tuple, Union

from .margins import (TIE, Estimate, change_estimate, estimate, outcome,
                      reduction_estimate)
from .report_text import PAPER

__all__ = ['C3_PREFIX', 'CONVEX_TPC', 'PLAIN_FINETUNING', 'claim_verdicts']

TPC, CONST = 'TPC-CMA alpha={}', 'CMA const alpha={}'
# TPC-CMA with the other combination form (combine='convex'; the method config's is
# 'grad_share'): shown beside the magnitude verdicts, which judge the config's own form.
CONVEX_TPC = 'convex-form TPC-CMA alpha={}'
C3_PREFIX = 'posthoc C3 centring + noise'
PLAIN_FINETUNING = 'contrastive fine-tuning'
GAPS = ('centroid', 'distribution', 'raw')


def _mean(summary: dict, name: str, key: str) -> Optional[float]:
    value = summary.get(name, {}).get('metrics', {}).get(key)
    return None if value is None else value[0]


def _verdict(claim: str, criterion: str, ours: str = 'runs missing', holds=None,
             winner: Optional[str] = None, margin: str = '') -> dict:
    return dict(claim=claim, criterion=criterion, ours=ours, holds=holds, winner=winner,
                margin=margin)


def _holds(signs: List[int]) -> Union[bool, str]:
    """All clearly in the claim's favour (+1): True; one clearly against (-1): False; else tie."""
    return False if -1 in signs else (True if all(s == 1 for s in signs) else TIE)


def _gaps_fall(summary: dict, floor: dict) -> dict:
    claim = 'as alpha_target rises, the gap falls'
    criterion = ('TPC-CMA runs in order of alpha_target: centroid, distribution and raw gap '
                 'never rise beyond the spread, and fall beyond it from the first to the last')
    tpc = sorted((s['alpha_target'], n) for n, s in summary.items() if n.startswith('TPC-CMA'))
    if len(tpc) < 2:
        return _verdict(claim, criterion)
    chains = {k: [estimate(summary, n, f'gap/{k}', floor) for _, n in tpc] for k in GAPS}
    if any(e is None for chain in chains.values() for e in chain):
        return _verdict(claim, criterion)
    ours = '; '.join(f'{k} ' + ' -> '.join(f'{e.value:.3f}' for e in chain)
                     for k, chain in chains.items())
    steps = [outcome(a, b) for chain in chains.values() for a, b in zip(chain, chain[1:])]
    overall = [outcome(chain[0], chain[-1]) for chain in chains.values()]
    # A step within the spread is no rise; only a clear rise refutes the claim.
    signs = [s for s, _ in steps if s == -1] + [s for s, _ in overall]
    return _verdict(claim, criterion, f'alpha {tpc[0][0]:g} .. {tpc[-1][0]:g}: {ours}',
                    _holds(signs), margin='first to last: ' + '; '.join(
                        f'{k} {text}' for k, (_, text) in zip(chains, overall)))


def _magnitude(summary: dict, reduced: dict, alpha: float, floor: dict) -> dict:
    paper = -PAPER[alpha]['gap']
    claim = f'alpha_target {alpha} closes the gap by {paper:.1f} %'
    criterion = (f'TPC-CMA {alpha} (the method config\'s combination form; the convex form '
                 f'beside it where run): centroid reduction at least half the paper\'s '
                 f'({paper / 2:.1f} %)')
    cut = reduction_estimate(summary, reduced, TPC.format(alpha), 'centroid', floor)
    if cut is None:
        return _verdict(claim, criterion)
    sign, text = outcome(cut, paper / 2)
    ours = f'centroid -{cut.value:.1f} %'
    convex = reduction_estimate(summary, reduced, CONVEX_TPC.format(alpha), 'centroid', floor)
    if convex is not None:
        beside = {1: 'above', -1: 'below', 0: 'within the spread of'}[
            outcome(convex, paper / 2)[0]]
        ours += f'; the convex form -{convex.value:.1f} % ({beside} half the paper\'s)'
    return _verdict(claim, criterion, ours, _holds([sign]), margin=text)


def _changed(zero_shot: dict, name: str) -> bool:
    change = zero_shot.get(name, {}).get('change_relative')
    return change is not None and change == change


def _zero_shot_cost(summary: dict, zero_shot: dict, floor: dict) -> dict:
    claim = f'alpha_target 0.05 costs a little zero-shot accuracy ({PAPER[0.05]["accuracy"]} %)'
    criterion = ('TPC-CMA 0.05: mean zero-shot top-1 on the accuracy axis (classes '
                 'fine-tuning never saw) falls, by less than 10 % relative')
    name = TPC.format(0.05)
    if not _changed(zero_shot, name):
        return _verdict(claim, criterion)
    cut = change_estimate(summary, zero_shot, name, floor)
    (above_zero, text), (small, _) = outcome(cut, 0.0), outcome(cut, -10.0)
    return _verdict(claim, criterion, f'{cut.value:+.2f} % relative',
                    _holds([-above_zero, small]), margin=text)


def _alignment_cost(summary: dict, zero_shot: dict, floor: dict) -> dict:
    claim = 'the cost is the alignment\'s, not fine-tuning\'s'
    criterion = ('TPC-CMA 0.05 below contrastive fine-tuning at the same budget on the '
                 'accuracy axis (relative change against the original)')
    name = TPC.format(0.05)
    if not (_changed(zero_shot, name) and _changed(zero_shot, PLAIN_FINETUNING)):
        return _verdict(claim, criterion)
    ours, plain = (change_estimate(summary, zero_shot, n, floor) for n in (name, PLAIN_FINETUNING))
    sign, text = outcome(plain, ours)
    return _verdict(claim, criterion, f'TPC-CMA 0.05 {ours.value:+.2f} %, contrastive '
                    f'fine-tuning {plain.value:+.2f} %', _holds([sign]), margin=text)


def _rises(summary: dict, key: str, label: str, paper: str, floor: dict) -> dict:
    claim, name = f'alpha_target 0.5 raises {label} ({paper})', TPC.format(0.5)
    before, after = (estimate(summary, n, key, floor) for n in ('original', name))
    criterion = f'TPC-CMA 0.5 above the original in {key}'
    if before is None or after is None:
        return _verdict(claim, criterion)
    sign, text = outcome(after, before)
    return _verdict(claim, criterion, f'{before.value:.3f} -> {after.value:.3f}',
                    _holds([sign]), margin=text)


def _posthoc_centroid_only(summary: dict, reduced: dict, floor: dict) -> dict:
    claim = 'post-hoc mean-centering removes the centroid gap only'
    criterion = 'centroid reduced by > 50 %, distribution gap reduced by < 10 %'
    name = 'posthoc mean-centering'
    cuts = {k: reduction_estimate(summary, reduced, name, k, floor)
            for k in ('centroid', 'distribution')}
    if None in cuts.values():
        return _verdict(claim, criterion)
    (centroid, text), (distribution, _) = (outcome(cuts['centroid'], 50.0),
                                           outcome(cuts['distribution'], 10.0))
    return _verdict(claim, criterion,
                    f'centroid -{cuts["centroid"].value:.1f} %, '
                    f'distribution {-cuts["distribution"].value:+.1f} %',
                    _holds([centroid, -distribution]), margin=f'centroid {text}')


def _best(estimates: Dict[str, Estimate]) -> Tuple[str, str]:
    """The clear winner, or :data:`TIE` when another is within the spread of the best; with
    the margin to the first such (else to the runner-up)."""
    ranked = sorted(estimates, key=lambda n: estimates[n].value, reverse=True)
    beaten = {n: outcome(estimates[ranked[0]], estimates[n]) for n in ranked[1:]}
    tied = [n for n in ranked[1:] if beaten[n][0] <= 0]
    shown = tied[0] if tied else ranked[1]
    return (TIE if tied else ranked[0]), f'{ranked[0]} over {shown}: {beaten[shown][1]}'


def _tpc_against_const(summary: dict, reduced: dict, floor: dict) -> dict:
    claim = 'TPC-CMA against constant-alpha CMA at the same alpha (0.5)'
    criterion = 'winner: the larger centroid reduction'
    cuts = {n: reduction_estimate(summary, reduced, n, 'centroid', floor)
            for n in (TPC.format(0.5), CONST.format(0.5))}
    if None in cuts.values():
        return _verdict(claim, criterion)
    ours = ', '.join(f'{n} -{c.value:.1f} %' for n, c in cuts.items())
    winner, text = _best(cuts)
    return _verdict(claim, criterion, ours, winner=winner, margin=text)


def _r_squared(r2: dict, difference: Optional[dict]) -> dict:
    claim = (f'the distribution gap predicts joint clustering (R² {PAPER["r2"]["distribution"]}), '
             f'the raw gap less ({PAPER["r2"]["raw"]})')
    criterion = ('all runs (the other pools beside): R² of ARI vs class on distribution > on '
                 'raw beyond the 95 % interval of their difference over resampled variants; '
                 'winner: the best key')

    def fit(pool):
        """(R² per key, the best key, its text) of one pool, or Nones."""
        per_key = r2.get(pool, {}).get('clustering/ari_class')
        if not per_key or 'distribution' not in per_key or 'raw' not in per_key:
            return None, None, None
        best = max((k for k, v in per_key.items() if v == v), key=per_key.get)
        return per_key, best, (f'distribution {per_key["distribution"]:.3f}, raw '
                               f'{per_key["raw"]:.3f}, best {best} {per_key[best]:.3f}')

    per_key, best, ours = fit('all runs')
    if per_key is None or difference is None:
        return _verdict(claim, criterion)
    # The verdict rests on one subset; the others are shown beside it.
    beside = [f'{pool}: {fit(pool)[2]}' for pool in r2
              if pool != 'all runs' and fit(pool)[2] is not None]
    low, high = difference['interval']
    holds = True if low > 0 else (False if high < 0 else TIE)
    return _verdict(claim, criterion, '; '.join([f'all runs: {ours}'] + beside), holds, best,
                    margin=f'R² distribution - raw {difference["difference"]:+.3f}, 95 % '
                           f'interval [{low:+.3f}, {high:+.3f}] over '
                           f'{difference["resamples"]} resamples of the '
                           f'{difference["clusters"]} variants (equal points as one)')


def _best_captioner(summary: dict, floor: dict) -> dict:
    claim = 'captioning from images: TPC-CMA 0.5 against the post-hoc baselines'
    criterion = 'winner: the highest CIDEr from images among TPC-CMA 0.5, mean-centering and C3'
    names = [n for n in summary if n == TPC.format(0.5) or n == 'posthoc mean-centering'
             or n.startswith(C3_PREFIX)]
    scores = {n: estimate(summary, n, 'caption_image/CIDEr', floor) for n in names}
    scores = {n: e for n, e in scores.items() if e is not None}
    if len(scores) < 2:
        return _verdict(claim, criterion)
    ours = ', '.join(f'{n} {e.value:.3f}' for n, e in scores.items())
    winner, text = _best(scores)
    return _verdict(claim, criterion, ours, winner=winner, margin=text)


def claim_verdicts(summary: dict, reduced: dict, zero_shot: dict, r2: dict,
                   floor: Optional[dict] = None,
                   r2_difference: Optional[dict] = None) -> Dict[str, dict]:
    """claim id -> verdict, in the paper's order (ids are stable across reports).

    ``floor``: metric -> std over pretraining seeds for the report's protocol
    (:func:`.margins.pretraining_floor`); without it a spread is the seeds' alone.
    ``r2_difference``: :func:`.r2_difference.r_squared_difference` of the runs; without it
    the R² claim is not judged.
    """
    floor = floor or {}
    return dict(
        gaps_fall=_gaps_fall(summary, floor),
        magnitude_0_05=_magnitude(summary, reduced, 0.05, floor),
        magnitude_0_5=_magnitude(summary, reduced, 0.5, floor),
        zero_shot_cost=_zero_shot_cost(summary, zero_shot, floor),
        alignment_cost=_alignment_cost(summary, zero_shot, floor),
        ari_rises=_rises(summary, 'clustering/ari_class', 'ARI vs class',
                         '{} -> {}'.format(*PAPER[0.5]['ari']), floor),
        cider_rises=_rises(summary, 'caption_image/CIDEr', 'CIDEr from images',
                           f'+{PAPER[0.5]["cider"]} %', floor),
        posthoc_centroid_only=_posthoc_centroid_only(summary, reduced, floor),
        tpc_against_const=_tpc_against_const(summary, reduced, floor),
        r_squared=_r_squared(r2, r2_difference),
        best_captioner=_best_captioner(summary, floor))
