"""Two reports' verdicts side by side, and a report's verdicts as a markdown table.

The quick mode must tell the full mode's story (docs/results.md, "The quick mode tells
the same story")::

    from tpc_cma_lab.verdict_table import compare_verdicts
    compare_verdicts(quick_verdicts, full_verdicts)   # [] when they tell the same story
"""
from typing import Dict, List, Optional, Tuple

from .margins import TIE

__all__ = ['compare_verdicts', 'verdict_table']


def _judged(verdict: Optional[dict]) -> bool:
    return verdict is not None and (verdict['holds'] is not None or verdict['winner'] is not None)


def compare_verdicts(quick: Dict[str, dict], full: Dict[str, dict],
                     labels: Tuple[str, str] = ('quick', 'full')) -> List[str]:
    """Where two reports disagree: a differing ``holds`` or ``winner``, or a claim only one
    of them could judge; ``labels`` name the two reports. Empty when they tell the same
    story."""
    first, second = labels
    out = []
    for claim_id in sorted(set(quick) | set(full)):
        a, b = quick.get(claim_id), full.get(claim_id)
        if not (_judged(a) and _judged(b)):
            if _judged(a) or _judged(b):
                out.append(f'{claim_id}: judged by one report only ({first}: '
                           f'{a and a["ours"]}; {second}: {b and b["ours"]})')
            continue
        for field in ('holds', 'winner'):
            if a[field] != b[field]:
                out.append(f'{claim_id}: {field} {a[field]!r} ({first}: {a["ours"]}) vs '
                           f'{b[field]!r} ({second}: {b["ours"]})')
    return out


def verdict_table(verdicts: Dict[str, dict]) -> List[str]:
    """The verdicts as markdown lines."""
    def holds(value):
        return {True: 'yes', False: '**no**', TIE: 'tie', None: 'not judged'}[value]

    def word(v):
        if v['winner'] is not None:
            winner = 'tie' if v['winner'] == TIE else f'winner: {v["winner"]}'
            return winner + ('' if v['holds'] is None else f'; {holds(v["holds"])}')
        return holds(v['holds'])

    lines = ['', '**Verdict per claim** (the criterion is ours; the paper gives numbers only; '
             'a difference within twice its spread is a tie: docs/results.md, "Ties"):', '',
             '| claim | criterion | ours | margin against the spread | verdict |',
             '|---|---|---|---|---|']
    lines += [f'| {v["claim"]} | {v["criterion"]} | {v["ours"]} | {v["margin"] or "-"} '
              f'| {word(v)} |' for v in verdicts.values()]
    return lines
