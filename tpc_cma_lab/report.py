"""The reproduction report: aggregate over seeds, R² of each gap key, table, JSON, figures.

A run (one entry of ``results.json``) is ``dict(variant, seed, alpha_target,
protocol, work_dir, metrics, extra_metrics, captions_file)``. ``metrics`` holds the
fixed evaluators (gap keys, clustering, retrieval, zero-shot, captioning, and the
config's extra sets under their prefixes: real-scale zero-shot benchmarks, COCO
single-label clustering); ``extra_metrics`` is a free ``name -> number`` dict
(expressiveness probes, ...: see :mod:`tpc_cma_lab.reproduce.jobs`) that
:func:`aggregate` averages over seeds like the rest and the markdown table shows
as one extra column per name.
The gap keys are read from :mod:`tpc_cma_mm.evaluation.functional.gaps`.
Zero-shot benchmarks are every ``zero_shot*/top1`` metric (the test split's own
``zero_shot/top1`` and the real-scale sets' ``zero_shot_<set>/top1``);
:func:`zero_shot_change` gives their mean and its change against the original.
"""
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np

from tpc_cma_mm.apis.outputs import json_bytes, read_json, write_outputs
from tpc_cma_mm.evaluation.functional.gaps import GAP_KEYS, gap_reduction
from .margins import pretraining_floor
from .r2_difference import r_squared_difference
from .figures import compromise_figure, curriculum_figure, predictiveness_figure, training_curves
from .matched import matched_accuracy, matched_table
from .report_text import (DISTANCE_KEYS, HELD_OUT_TOP1, POOLS, TASKS, in_pool, markdown,
                          zero_shot_benchmarks)
from .target_report import main_runs, target_rows, target_table, target_verdict
from .verdict_table import verdict_table
from .verdicts import PLAIN_FINETUNING, claim_verdicts

__all__ = ['aggregate', 'analyse', 'in_pool', 'r_squared', 'reductions', 'rewrite_report',
           'write_report', 'zero_shot_change']


def _mean_std(entries: List[dict], field: str) -> Dict[str, tuple]:
    keys = set.intersection(*(set(e.get(field) or {}) for e in entries))
    return {k: (float(np.mean([e[field][k] for e in entries])),
                float(np.std([e[field][k] for e in entries]))) for k in sorted(keys)}


def aggregate(results: dict) -> Dict[str, dict]:
    """variant -> metric -> (mean, std) over seeds, in first-seen order."""
    runs = defaultdict(list)
    for entry in results.values():
        runs[entry['variant']].append(entry)
    return {variant: dict(alpha_target=entries[0]['alpha_target'], seeds=len(entries),
                          work_dirs=[e['work_dir'] for e in entries],
                          metrics=_mean_std(entries, 'metrics'),
                          extra_metrics=_mean_std(entries, 'extra_metrics'))
            for variant, entries in runs.items()}


def reductions(summary: dict) -> Dict[str, Dict[str, float]]:
    """Gap reduction (%) of each variant's mean against the original model's, in
    ``DISTANCE_KEYS`` order (so that results.json's bytes repeat)."""
    def gaps(s):
        return {k: s['metrics'][f'gap/{k}'][0] for k in DISTANCE_KEYS
                if f'gap/{k}' in s['metrics']}

    before = gaps(summary['original'])
    return {name: gap_reduction(before, gaps(s)) for name, s in summary.items()}


def zero_shot_change(summary: dict) -> Dict[str, dict]:
    """variant -> top-1 per benchmark of the accuracy axis (``zero_shot_benchmarks``), their
    mean, and the mean's change against the original's: ``change_points`` (after - before)
    and ``change_relative`` (%; negative is a drop); with a contrastive fine-tuning row,
    ``net_points`` (after - that row's: what the alignment costs beyond fine-tuning at the
    same budget). The mean is NaN for a variant that lacks a benchmark."""
    keys = zero_shot_benchmarks(summary)
    if not keys:
        return {}

    def mean(s):
        values = [s['metrics'][k][0] for k in keys if k in s['metrics']]
        return float(np.mean(values)) if len(values) == len(keys) else float('nan')

    before = mean(summary['original'])
    plain = mean(summary[PLAIN_FINETUNING]) if PLAIN_FINETUNING in summary else None
    out = {}
    for name, s in summary.items():
        after = mean(s)
        out[name] = dict(per_benchmark={k: s['metrics'][k][0] for k in keys if k in s['metrics']},
                         mean=after, change_points=after - before,
                         change_relative=100.0 * (after / before - 1.0) if before else float('nan'))
        if plain is not None:
            out[name]['net_points'] = after - plain
    return out


def r_squared(results: dict, pool: str = 'all runs') -> Dict[str, Dict[str, float]]:
    """R² of a least-squares line task ~ gap key over the (variant, seed) runs of a pool."""
    out = {}
    for task in TASKS:
        runs = [e['metrics'] for e in results.values()
                if task in e['metrics'] and in_pool(e, pool)]
        if len(runs) < 3:
            continue
        y = np.array([m[task] for m in runs])
        out[task] = {}
        for key in GAP_KEYS:
            if not all(f'gap/{key}' in m for m in runs):
                continue
            x = np.array([m[f'gap/{key}'] for m in runs])
            if not (np.isfinite(x).all() and np.isfinite(y).all()) or np.ptp(x) == 0:
                out[task][key] = float('nan')  # no line through NaN or one x (table: nan)
                continue
            residual = y - np.polyval(np.polyfit(x, y, 1), x)
            total = ((y - y.mean())**2).sum()
            out[task][key] = float(1 - (residual**2).sum() / total) if total > 0 else float('nan')
    return out


def analyse(results: dict, settings: dict) -> tuple:
    """(main runs, summary, reductions, zero-shot change, R² per pool, gap-target rows,
    verdicts) of a reproduction's runs: what the report shows, each verdict included."""
    main = main_runs(results)  # the gap-target section has its own table and verdict
    summary = aggregate(main)
    reduced = reductions(summary)
    zero_shot = zero_shot_change(summary)
    r2 = {pool: r_squared(main, pool) for pool in POOLS}
    targets = target_rows(results)
    verdicts = dict(claim_verdicts(summary, reduced, zero_shot, r2, pretraining_floor(settings),
                                   r_squared_difference(main)),
                    gap_targets=target_verdict(targets))
    return main, summary, reduced, zero_shot, r2, targets, verdicts


def _run_dir(run_dir: str, work_dir: str, variant: str) -> str:
    """``run_dir`` if it lies inside the reproduction's ``work_dir``; refused otherwise
    (an edited or moved results file would make the report read elsewhere)."""
    top = osp.realpath(work_dir)
    if osp.commonpath([osp.realpath(run_dir), top]) != top:
        raise ValueError(
            f'The results name work_dir {run_dir!r} for {variant!r}, outside the '
            f'reproduction\'s work dir {work_dir!r}; its training logs are read only from '
            'inside it. Nothing was written. Restore results.json, or run from the folder '
            'the reproduction ran in.')
    return run_dir


def write_report(results: dict, settings: dict, out_dir: str, command: str,
                 overwrite: bool = False, estimate: Optional[dict] = None,
                 work_dir: Optional[str] = None, rewritten_by: Optional[str] = None) -> None:
    """results.json, results.md and the figures in ``out_dir`` (other content refused).

    ``estimate``: the training-time estimate (:mod:`.reproduce.step_time`), reported as is.
    ``work_dir``: the reproduction's; the curriculum figure reads a run's logs only
    inside it (none without it). ``rewritten_by``: the command that rewrote the report
    from recorded runs (:func:`rewrite_report`), said in both files.
    """
    main, summary, reduced, zero_shot, r2, targets, verdicts = analyse(results, settings)
    matched = matched_accuracy(summary, reduced, zero_shot)
    benchmarks = zero_shot_benchmarks(summary)
    text = markdown(summary, reduced, zero_shot, r2, settings, command, estimate, rewritten_by)
    text += '\n'.join(matched_table(matched, ', '.join(benchmarks)) + target_table(targets)) + '\n'
    rewritten = {} if rewritten_by is None else dict(rewritten_by=rewritten_by)
    files = {
        'results.json': json_bytes(dict(command=command, **rewritten, settings=settings,
                                        summary=summary, gap_reduction=reduced,
                                        gap_targets=targets,
                                        zero_shot=zero_shot, matched_accuracy=matched,
                                        r_squared=r2, verdicts=verdicts,
                                        training_time_estimate=estimate, runs=results)),
        'results.md': (text + '\n'.join(verdict_table(verdicts)) + '\n').encode('utf-8')}
    if benchmarks:  # the held-out classes' zero-shot, else the test split's, else a set's
        files['compromise_curve.png'] = compromise_figure(summary, reduced, min(
            benchmarks, key=lambda k: (k != HELD_OUT_TOP1, k != 'zero_shot/top1', k)))
    if r2['all runs']:
        files['gap_predictiveness.png'] = predictiveness_figure(main, r2)
    tpc = [n for n in summary if n.startswith('TPC-CMA')]
    if tpc:
        name = max(tpc, key=lambda n: summary[n]['alpha_target'])
        run_dir = summary[name]['work_dirs'][0]
        curves = training_curves(_run_dir(run_dir, work_dir, name)) \
            if run_dir and work_dir else {}
        if curves:
            files['curriculum.png'] = curriculum_figure(
                curves, f'{name}, seed {settings["seeds"][0]}')
    write_outputs({osp.join(out_dir, k): v for k, v in files.items()}, overwrite)


def rewrite_report(out_dir: str, command: str, overwrite: bool = False) -> None:
    """Rewrite the report in ``out_dir`` from the runs its results.json records, with this
    code's tables and verdicts; nothing is run. The runs' command, settings and time estimate
    are kept; the curriculum figure, which needs the runs' logs, is left as it is."""
    report = read_json(osp.join(out_dir, 'results.json'), 'report')
    missing = sorted({'command', 'settings', 'runs'} - set(report if isinstance(report, dict)
                                                            else {}))
    if missing:
        raise ValueError(f'{out_dir}/results.json lacks {missing}: it is not a report of '
                         'tools/reproduce.py. Rerun the reproduction to write one.')
    write_report(report['runs'], report['settings'], out_dir, report['command'], overwrite,
                 report.get('training_time_estimate'), rewritten_by=command)
