"""The model pool's report: its models, the spread of every gap key, and R² per task.

Every run except WiSE-FT mixes counts (pool.pool_entries); a task's table uses
the runs that have that task and names those left out (GapShift has no CIDEr,
runs recorded without captions have none).
"""
import math
import os.path as osp
from typing import Dict, List

from tpc_cma_mm.evaluation.functional.gaps import GAP_KEYS
from tpc_cma_mm.apis.figures.style import MARKERS, PALETTE, paper_style, plt
from tpc_cma_mm.apis.outputs import figure_bytes, write_outputs
from .pool import pool_entries, pool_r_squared

__all__ = ['POOL_TASKS', 'write_pool_report']

POOL_TASKS = ('clustering/ari_class', 'caption_image/CIDEr', 'zero_shot_held_out/top1',
              'zero_shot/top1')
KEYS = tuple(f'gap/{k}' for k in GAP_KEYS)
BOOTSTRAP = dict(num_resamples=2000, seed=0)


def _model_name(entry: dict) -> str:
    return entry['pretrained'] or entry['spec']['name']


def _models(results: Dict[str, dict]) -> List[str]:
    pool, _ = pool_entries(results, 'gap/centroid')
    counts = {}
    for entry in pool.values():
        counts[_model_name(entry)] = counts.get(_model_name(entry), 0) + 1
    lines = ['| pretrained model | what differs (spec) | runs in the pool |', '|---|---|---|']
    for entry in sorted(pool.values(), key=_model_name):
        if entry['kind'] == 'pretrain':
            spec = ', '.join(f'{k}={v}' for k, v in sorted(entry['spec'].items()) if k != 'name')
            lines.append(f'| {entry["spec"]["name"]} | {spec} | {counts[entry["spec"]["name"]]} |')
    return lines


def _spread(results: Dict[str, dict]) -> List[str]:
    pool, _ = pool_entries(results, 'gap/centroid')
    lines = ['| key | min | max |', '|---|---|---|']
    for key in KEYS:
        lacking = [k for k, e in pool.items() if key not in e['metrics']]
        if lacking:
            raise KeyError(f'{key} is missing from {len(lacking)} runs ({lacking[:3]}...): '
                           'score them with the current gap keys before the pool report.')
        values = [e['metrics'][key] for e in pool.values()]
        lines.append(f'| {key[4:]} | {min(values):.3f} | {max(values):.3f} |')
    return lines


# The paper's R² is across models: the pretrained models alone are the closest analogue;
# every run adds the fine-tunes and post-hoc fixes, whose keys move differently.
SUBSETS = {'every run': lambda entry: True,
           'pretrained models only': lambda entry: entry['kind'] == 'pretrain'}


def _cell(fit: dict) -> str:
    sign = '' if math.isnan(fit['r']) else ('+' if fit['r'] > 0 else '−')
    return f'{fit["r2"]:.2f} [{fit["low"]:.2f}, {fit["high"]:.2f}] ({sign})'


def _task_table(results: Dict[str, dict], task: str, subset: str) -> tuple:
    results = {k: e for k, e in results.items() if SUBSETS[subset](e)}
    pool, left_out = pool_entries(results, task)
    head = f'**{task}** ({subset}): {len(pool)} runs'
    if left_out and not pool:
        head += f'; none of the {len(left_out)} has {task}, all left out'
    elif left_out:
        head += f'; {len(left_out)} without {task} left out: ' + '; '.join(left_out)
    if len(pool) < 3:
        return [head + ' (fewer than 3 runs: no R²).'], None
    r2 = pool_r_squared(results, task, KEYS, only_with_task=True, **BOOTSTRAP)
    lines = [head + '. R² [95 % bootstrap interval] (sign of the correlation: + the task '
             'rises with the key):', '',
             '| ' + ' | '.join(k[4:] for k in KEYS) + ' |', '|' + '---|' * len(KEYS),
             '| ' + ' | '.join(_cell(r2[k]) for k in KEYS) + ' |']
    return lines, r2


def _plot(results: Dict[str, dict], ari: dict, best: str) -> bytes:
    task = POOL_TASKS[0]
    pool, _ = pool_entries(results, task)
    names = sorted({_model_name(e) for e in pool.values()})
    # 8 colours: the marker tells apart models 8 apart.
    style = {n: (PALETTE[i % len(PALETTE)], MARKERS[i // len(PALETTE) % len(MARKERS)])
             for i, n in enumerate(names)}
    keys = [best] + (['gap/distribution'] if best != 'gap/distribution' else [])
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name in names:
            runs = [e['metrics'] for e in pool.values() if _model_name(e) == name]
            colour, marker = style[name]
            ax.scatter([m[key] for m in runs], [m[task] for m in runs], color=colour,
                       marker=marker, label=name)
        ax.set(title=f'{key[4:]}: R² {ari[key]["r2"]:.2f}' + (' (best)' if key == best else ''),
               xlabel=key,
               ylabel='ARI vs class')
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='center left', bbox_to_anchor=(1.0, 0.5))
    fig.suptitle('Joint-clustering ARI against a gap key, one point per run')
    fig.tight_layout()
    return figure_bytes(fig, dpi=110, bbox_inches='tight')


def write_pool_report(results: Dict[str, dict], out_dir: str, command: str,
                      overwrite: bool = False) -> str:
    """Write ``out_dir/pool.md`` (and ``pool_ari.png``; atomically, other content refused
    unless ``overwrite``); returns the markdown's path."""
    files = {}
    pool, _ = pool_entries(results, 'gap/centroid')
    num_models = len({_model_name(e) for e in pool.values()})
    lines = ['# The model pool (written by tools/experiments.py --pool-report)', '',
             f'Command: `{command}`', '',
             f'{len(pool)} runs (WiSE-FT mixes left out) of {num_models} '
             'pretrained models: each pretrained model, its fine-tunes and post-hoc fixes. '
             f'R²: squared Pearson correlation, percentile bootstrap over runs '
             f'({BOOTSTRAP["num_resamples"]} resamples, seed {BOOTSTRAP["seed"]}).', '',
             *_models(results), '', 'Spread of every gap key over the pool:', '',
             *_spread(results), '']
    ari = None
    for task in POOL_TASKS:
        for subset in SUBSETS:
            table, r2 = _task_table(results, task, subset)
            lines += table + ['']
            ari = r2 if (task, subset) == (POOL_TASKS[0], 'every run') else ari
    if ari is not None:
        best = max(KEYS, key=lambda k: -1.0 if math.isnan(ari[k]['r2']) else ari[k]['r2'])
        with paper_style():
            files['pool_ari.png'] = _plot(results, ari, best)
        lines += ['![ARI against the best key and the distribution gap](pool_ari.png)', '']
    files['pool.md'] = '\n'.join(lines).encode('utf-8')
    write_outputs({osp.join(out_dir, k): v for k, v in files.items()}, overwrite)
    return osp.join(out_dir, 'pool.md')
