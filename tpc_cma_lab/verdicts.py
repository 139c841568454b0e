"""The paper's claims, each judged on a reproduction's summary: what holds, with its numbers.

A verdict is ``dict(claim, criterion, ours, holds, winner)``: ``holds`` is True,
False or None (the runs needed are missing); ``winner`` names the best of
several competitors where a claim ranks them, else None. The quick mode must
tell the full mode's story: :func:`compare_verdicts` lists where two reports'
verdicts differ (docs/results.md, "Quick mode")::

    from tpc_cma_lab.verdicts import claim_verdicts, compare_verdicts
    full = claim_verdicts(summary, reduced, zero_shot, r2)
    compare_verdicts(quick_verdicts, full)   # [] when they tell the same story
"""
from typing import Dict, List, Optional

from .report_text import PAPER

__all__ = ['C3_PREFIX', 'claim_verdicts', 'compare_verdicts', 'verdict_table']

TPC, CONST = 'TPC-CMA alpha={}', 'CMA const alpha={}'
C3_PREFIX = 'posthoc C3 centring + noise'
GAPS = ('centroid', 'distribution', 'raw')


def _mean(summary: dict, name: str, key: str) -> Optional[float]:
    value = summary.get(name, {}).get('metrics', {}).get(key)
    return None if value is None else value[0]


def _verdict(claim: str, criterion: str, ours: str = 'runs missing', holds=None,
             winner: Optional[str] = None) -> dict:
    return dict(claim=claim, criterion=criterion, ours=ours, holds=holds, winner=winner)


def _gaps_fall(summary: dict) -> dict:
    claim = 'as alpha_target rises, the gap falls'
    criterion = 'TPC-CMA runs in order of alpha_target: centroid, distribution and raw gap never rise'
    tpc = sorted((s['alpha_target'], n) for n, s in summary.items() if n.startswith('TPC-CMA'))
    if len(tpc) < 2:
        return _verdict(claim, criterion)
    chains = {k: [summary[n]['metrics'][f'gap/{k}'][0] for _, n in tpc] for k in GAPS}
    ours = '; '.join(f'{k} ' + ' -> '.join(f'{v:.3f}' for v in values)
                     for k, values in chains.items())
    holds = all(b <= a for values in chains.values() for a, b in zip(values, values[1:]))
    return _verdict(claim, criterion, f'alpha {tpc[0][0]:g} .. {tpc[-1][0]:g}: {ours}', holds)


def _magnitude(reduced: dict, alpha: float) -> dict:
    paper = -PAPER[alpha]['gap']
    claim = f'alpha_target {alpha} closes the gap by {paper:.1f} %'
    criterion = f'TPC-CMA {alpha}: centroid reduction at least half the paper\'s ({paper / 2:.1f} %)'
    cut = reduced.get(TPC.format(alpha), {}).get('centroid')
    if cut is None:
        return _verdict(claim, criterion)
    return _verdict(claim, criterion, f'centroid -{cut:.1f} %', cut >= paper / 2)


def _zero_shot_cost(zero_shot: dict) -> dict:
    claim = f'alpha_target 0.05 costs a little zero-shot accuracy ({PAPER[0.05]["accuracy"]} %)'
    criterion = 'TPC-CMA 0.05: mean zero-shot top-1 falls, by less than 10 % relative'
    change = zero_shot.get(TPC.format(0.05), {}).get('change_relative')
    if change is None:
        return _verdict(claim, criterion)
    return _verdict(claim, criterion, f'{change:+.2f} % relative', -10 < change < 0)


def _rises(summary: dict, key: str, label: str, paper: str) -> dict:
    claim, name = f'alpha_target 0.5 raises {label} ({paper})', TPC.format(0.5)
    before, after = _mean(summary, 'original', key), _mean(summary, name, key)
    criterion = f'TPC-CMA 0.5 above the original in {key}'
    if before is None or after is None:
        return _verdict(claim, criterion)
    return _verdict(claim, criterion, f'{before:.3f} -> {after:.3f}', after > before)


def _posthoc_centroid_only(reduced: dict) -> dict:
    claim = 'post-hoc mean-centering removes the centroid gap only'
    criterion = 'centroid reduced by > 50 %, distribution gap reduced by < 10 %'
    cut = reduced.get('posthoc mean-centering')
    if not cut:
        return _verdict(claim, criterion)
    return _verdict(claim, criterion,
                    f'centroid -{cut["centroid"]:.1f} %, distribution {-cut["distribution"]:+.1f} %',
                    cut['centroid'] > 50 and cut['distribution'] < 10)


def _tpc_against_const(reduced: dict) -> dict:
    claim = 'TPC-CMA against constant-alpha CMA at the same alpha (0.5)'
    criterion = 'winner: the larger centroid reduction'
    names = [TPC.format(0.5), CONST.format(0.5)]
    if not all(n in reduced for n in names):
        return _verdict(claim, criterion)
    cuts = {n: reduced[n]['centroid'] for n in names}
    ours = ', '.join(f'{n} -{c:.1f} %' for n, c in cuts.items())
    return _verdict(claim, criterion, ours, winner=max(cuts, key=cuts.get))


def _r_squared(r2: dict) -> dict:
    claim = (f'the distribution gap predicts joint clustering (R² {PAPER["r2"]["distribution"]}), '
             f'the raw gap less ({PAPER["r2"]["raw"]})')
    criterion = 'all runs: R² of ARI vs class on distribution > on raw; winner: the best key'
    per_key = r2.get('all runs', {}).get('clustering/ari_class')
    if not per_key or 'distribution' not in per_key or 'raw' not in per_key:
        return _verdict(claim, criterion)
    best = max((k for k, v in per_key.items() if v == v), key=per_key.get)
    ours = (f'distribution {per_key["distribution"]:.3f}, raw {per_key["raw"]:.3f}, '
            f'best {best} {per_key[best]:.3f}')
    return _verdict(claim, criterion, ours, per_key['distribution'] > per_key['raw'], best)


def _best_captioner(summary: dict) -> dict:
    claim = 'captioning from images: TPC-CMA 0.5 against the post-hoc baselines'
    criterion = 'winner: the highest CIDEr from images among TPC-CMA 0.5, mean-centering and C3'
    names = [n for n in summary if n == TPC.format(0.5) or n == 'posthoc mean-centering'
             or n.startswith(C3_PREFIX)]
    scores = {n: _mean(summary, n, 'caption_image/CIDEr') for n in names}
    scores = {n: v for n, v in scores.items() if v is not None}
    if len(scores) < 2:
        return _verdict(claim, criterion)
    ours = ', '.join(f'{n} {v:.3f}' for n, v in scores.items())
    return _verdict(claim, criterion, ours, winner=max(scores, key=scores.get))


def claim_verdicts(summary: dict, reduced: dict, zero_shot: dict, r2: dict) -> Dict[str, dict]:
    """claim id -> verdict, in the paper's order (ids are stable across reports)."""
    return dict(
        gaps_fall=_gaps_fall(summary),
        magnitude_0_05=_magnitude(reduced, 0.05),
        magnitude_0_5=_magnitude(reduced, 0.5),
        zero_shot_cost=_zero_shot_cost(zero_shot),
        ari_rises=_rises(summary, 'clustering/ari_class', 'ARI vs class',
                         '{} -> {}'.format(*PAPER[0.5]['ari'])),
        cider_rises=_rises(summary, 'caption_image/CIDEr', 'CIDEr from images',
                           f'+{PAPER[0.5]["cider"]} %'),
        posthoc_centroid_only=_posthoc_centroid_only(reduced),
        tpc_against_const=_tpc_against_const(reduced),
        r_squared=_r_squared(r2),
        best_captioner=_best_captioner(summary))


def _judged(verdict: Optional[dict]) -> bool:
    return verdict is not None and (verdict['holds'] is not None or verdict['winner'] is not None)


def compare_verdicts(quick: Dict[str, dict], full: Dict[str, dict]) -> List[str]:
    """Where two reports disagree: a differing ``holds`` or ``winner``, or a claim only one
    of them could judge. Empty when they tell the same story."""
    out = []
    for claim_id in sorted(set(quick) | set(full)):
        a, b = quick.get(claim_id), full.get(claim_id)
        if not (_judged(a) and _judged(b)):
            if _judged(a) or _judged(b):
                out.append(f'{claim_id}: judged by one report only (quick: '
                           f'{a and a["ours"]}; full: {b and b["ours"]})')
            continue
        for field in ('holds', 'winner'):
            if a[field] != b[field]:
                out.append(f'{claim_id}: {field} {a[field]!r} (quick: {a["ours"]}) vs '
                           f'{b[field]!r} (full: {b["ours"]})')
    return out


def verdict_table(verdicts: Dict[str, dict]) -> List[str]:
    """The verdicts as markdown lines."""
    def word(v):
        if v['winner'] is not None:
            return f'winner: {v["winner"]}' + ('' if v['holds'] is None else
                                               f'; {"yes" if v["holds"] else "**no**"}')
        return {True: 'yes', False: '**no**', None: 'not judged'}[v['holds']]

    lines = ['', '**Verdict per claim** (the criterion is ours; the paper gives numbers only):', '',
             '| claim | criterion | ours | verdict |', '|---|---|---|---|']
    lines += [f'| {v["claim"]} | {v["criterion"]} | {v["ours"]} | {word(v)} |'
              for v in verdicts.values()]
    return lines
