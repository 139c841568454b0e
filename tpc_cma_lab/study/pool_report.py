"""The model pool's report: its models, the range of every gap key, and R² per task
with what it rests on (pool.pool_r_squared: intervals over pretrained models, a
permutation p-value, the leave-one-model-out range, the correlation given the spread).

Every run except WiSE-FT mixes counts (pool.pool_entries), a run repeating another's
gap keys once (pool.deduplicate); a task's table uses the runs that have that task and
names those left out (GapShift has no CIDEr, runs recorded without captions have none).
"""
import math
import os.path as osp
from typing import Dict, List

from tpc_cma_mm.evaluation.functional.gaps import GAP_KEYS
from tpc_cma_mm.apis.figures.style import MARKERS, PALETTE, paper_style, plt
from tpc_cma_mm.apis.outputs import figure_bytes, write_outputs
from .pool import deduplicate, model_name, pool_entries, pool_r_squared, r_squared_difference

__all__ = ['POOL_TASKS', 'write_pool_report']

POOL_TASKS = ('clustering/ari_class', 'caption_image/CIDEr', 'zero_shot_held_out/top1',
              'zero_shot/top1')
KEYS = tuple(f'gap/{k}' for k in GAP_KEYS)
BOOTSTRAP = dict(num_resamples=2000, seed=0)
PERMUTATIONS = 2000
DUPLICATE_ATOL = 1e-6
# The claim the report weighs (docs/results.md, "The R² claim across differently
# pretrained models"): the distribution gap predicts better than the raw gap.
CLAIM = ('gap/distribution', 'gap/raw')


def _models(results: Dict[str, dict]) -> List[str]:
    pool, _ = pool_entries(results, 'gap/centroid')
    counts = {}
    for entry in pool.values():
        counts[model_name(entry)] = counts.get(model_name(entry), 0) + 1
    lines = ['| pretrained model | what differs (spec) | runs in the pool |', '|---|---|---|']
    for entry in sorted(pool.values(), key=model_name):
        if entry['kind'] == 'pretrain':
            spec = ', '.join(f'{k}={v}' for k, v in sorted(entry['spec'].items()) if k != 'name')
            lines.append(f'| {entry["spec"]["name"]} | {spec} | {counts[entry["spec"]["name"]]} |')
    return lines


def _ranges(results: Dict[str, dict]) -> List[str]:
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


def _signed(value: float) -> str:
    return f'{value:+.2f}'.replace('-', '−')


def _row(key: str, fit: dict) -> str:
    return (f'| {key[4:]} | {fit["r2"]:.2f} [{fit["low"]:.2f}, {fit["high"]:.2f}] '
            f'| {_signed(fit["r"])} | {fit["p"]:.4f} '
            f'| {fit["lomo_low"]:.2f} – {fit["lomo_high"]:.2f} | {_signed(fit["partial_r"])} |')


def _task_table(results: Dict[str, dict], task: str, subset: str) -> tuple:
    results = {k: e for k, e in results.items() if SUBSETS[subset](e)}
    pool, left_out = pool_entries(results, task)
    num_models = len({model_name(e) for e in pool.values()})
    head = f'**{task}** ({subset}): {len(pool)} runs of {num_models} pretrained models'
    if left_out and not pool:
        head += f'; none of the {len(left_out)} has {task}, all left out'
    elif left_out:
        head += f'; {len(left_out)} without {task} left out: ' + '; '.join(left_out)
    if num_models < 3:
        return [head + ' (fewer than 3 pretrained models: no R²).'], None
    r2 = pool_r_squared(results, task, KEYS, only_with_task=True,
                        num_permutations=PERMUTATIONS, **BOOTSTRAP)
    diff = r_squared_difference(results, task, *CLAIM, **BOOTSTRAP)
    lines = [head + '.', '',
             '| key | R² [95 % interval over models] | r | permutation p '
             '| R² leaving one model out | partial r given spread |', '|---|---|---|---|---|---|',
             *(_row(k, r2[k]) for k in KEYS), '',
             f'R²({CLAIM[0][4:]}) − R²({CLAIM[1][4:]}): {_signed(diff["difference"])} '
             f'[{_signed(diff["low"])}, {_signed(diff["high"])}] (the same model resamples '
             'for both keys).']
    return lines, r2


def _merged(merged: Dict[str, List[str]]) -> str:
    head = (f'Duplicates: a run whose {len(KEYS)} gap keys all equal an earlier run\'s '
            f'(within {DUPLICATE_ATOL:g}) is the same point and counts once: ')
    if not merged:
        return head + 'none in this pool.'
    return head + '; '.join(f'{", ".join(rows)} merged into {kept}'
                            for kept, rows in merged.items()) + '.'


def _plot(results: Dict[str, dict], ari: dict, best: str) -> bytes:
    task = POOL_TASKS[0]
    pool, _ = pool_entries(results, task)
    names = sorted({model_name(e) for e in pool.values()})
    # 8 colours: the marker tells apart models 8 apart.
    style = {n: (PALETTE[i % len(PALETTE)], MARKERS[i // len(PALETTE) % len(MARKERS)])
             for i, n in enumerate(names)}
    keys = [best] + (['gap/distribution'] if best != 'gap/distribution' else [])
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name in names:
            runs = [e['metrics'] for e in pool.values() if model_name(e) == name]
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
    results, merged = deduplicate(results, KEYS, DUPLICATE_ATOL)
    pool, _ = pool_entries(results, 'gap/centroid')
    num_models = len({model_name(e) for e in pool.values()})
    lines = ['# The model pool (written by tools/experiments.py --pool-report)', '',
             f'Command: `{command}`', '',
             f'{len(pool)} runs (WiSE-FT mixes left out) of {num_models} '
             'pretrained models: each pretrained model, its fine-tunes and post-hoc fixes. '
             'R²: squared Pearson correlation over the runs. The interval resamples '
             'pretrained models, each drawn model bringing all of its runs (percentile, '
             f'{BOOTSTRAP["num_resamples"]} resamples, seed {BOOTSTRAP["seed"]}): runs of one '
             'model are not independent. r: the signed correlation (+: the task rises with '
             'the key). Permutation p: two-sided, the share of '
             f'{PERMUTATIONS} random pairings of the task values with the runs (seed '
             f'{BOOTSTRAP["seed"]}) whose |r| reaches the observed one, counting the observed '
             f'pairing (smallest possible {1 / (PERMUTATIONS + 1):.4f}); over every run it '
             'takes the runs as exchangeable, which runs of one model are not (read it beside '
             'the interval over models). R² leaving one '
             'model out: the least and greatest R² with one pretrained model\'s runs dropped. '
             'Partial r given spread: r of key and task with the linear effect of the spread '
             'sqrt(tr S_x + tr S_y) taken out of both, recovered from the stored keys as '
             'distribution / distribution_rel (the latter\'s definition: gaps.py, '
             'gaps_from_moments).',
             '', _merged(merged), '',
             *_models(results), '', 'Range of every gap key over the pool:', '',
             *_ranges(results), '']
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
