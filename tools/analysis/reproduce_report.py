"""The reproduction report: aggregate over seeds, R² of each gap key, table and plots."""
import json
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List

import matplotlib
import numpy as np

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from tpc_cma_mm.evaluation.functional.gaps import gap_reduction  # noqa: E402

GAP_KEYS = ('centroid', 'raw', 'distribution', 'bures', 'cov_fro', 'mmd')
TASKS = {'clustering/ari_class': 'ARI vs class', 'caption_image/CIDEr': 'CIDEr from images'}
TABLE = [('gap/centroid', 'centroid', 3), ('gap/distribution', 'distribution', 3),
         ('gap/raw', 'raw', 3), ('zero_shot/top1', 'zero-shot top-1', 1),
         ('retrieval/i2t_R@1', 'i2t R@1', 1), ('clustering/ari_class', 'ARI class', 3),
         ('clustering/ari_modality', 'ARI modality', 3), ('caption_image/CIDEr', 'CIDEr image', 3),
         ('caption_text/CIDEr', 'CIDEr text', 3)]
# Figures from the paper's abstract (arXiv 2604.00279).
PAPER = {0.05: dict(gap=-66.6, accuracy=-4.84), 0.5: dict(gap=-82.3, ari=(0.318, 0.516), cider=57.1),
         'r2': dict(distribution=0.986, raw=0.691)}
CURVE_KEYS = ('alpha', 'alpha_sched', 'alpha_cap', 'grad_con', 'grad_cma', 'grad_cos')


def aggregate(results: dict) -> Dict[str, dict]:
    """variant -> metric -> (mean, std) over seeds, in first-seen order."""
    runs = defaultdict(list)
    for entry in results.values():
        runs[entry['variant']].append(entry)
    summary = {}
    for variant, entries in runs.items():
        keys = set.intersection(*(set(e['metrics']) for e in entries))
        summary[variant] = dict(
            alpha_target=entries[0]['alpha_target'], seeds=len(entries),
            work_dirs=[e['work_dir'] for e in entries],
            metrics={k: (float(np.mean([e['metrics'][k] for e in entries])),
                         float(np.std([e['metrics'][k] for e in entries]))) for k in sorted(keys)})
    return summary


def reductions(summary: dict) -> Dict[str, Dict[str, float]]:
    """Gap reduction (%) of each variant's mean against the original model's."""
    before = {k: summary['original']['metrics'][f'gap/{k}'][0] for k in GAP_KEYS}
    return {name: gap_reduction(before, {k: s['metrics'][f'gap/{k}'][0] for k in GAP_KEYS})
            for name, s in summary.items()}


# Pools of runs the R² is fitted on: the paper fits it "across models"; the
# post-hoc fixes move the gap keys without training, and so test them apart.
POOLS = {'all runs': 'every run, post-hoc fixes included',
         'models only': 'the original and the fine-tuned models, no post-hoc fix'}


def in_pool(entry: dict, pool: str) -> bool:
    return pool == 'all runs' or not entry['variant'].startswith('posthoc')


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
            x = np.array([m[f'gap/{key}'] for m in runs])
            residual = y - np.polyval(np.polyfit(x, y, 1), x)
            total = ((y - y.mean())**2).sum()
            out[task][key] = float(1 - (residual**2).sum() / total) if total > 0 else float('nan')
    return out


def markdown(summary: dict, reduced: dict, r2: dict, settings: dict, command: str) -> str:
    head = ['variant', 'alpha'] + [label for _, label, _ in TABLE] + [
        'Δcentroid %', 'Δdistribution %', 'Δraw %']
    lines = [f'Produced by `{command}` (settings: {json.dumps(settings)}).', '',
             'Mean ± std over seeds, test split of the generated data.', '',
             '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, s in summary.items():
        cells = [name, f"{s['alpha_target']:g}"]
        for key, _, digits in TABLE:
            mean, std = s['metrics'].get(key, (float('nan'), 0.0))
            cells.append('n/a' if np.isnan(mean) else f'{mean:.{digits}f} ± {std:.{digits}f}')
        cells += [f"{reduced[name].get(k, float('nan')):.1f}" for k in ('centroid', 'distribution', 'raw')]
        lines.append('| ' + ' | '.join(cells) + ' |')
    for pool, per_task in r2.items():
        lines += ['', f'**R² of task quality against each gap key** ({POOLS[pool]}):', '',
                  '| task | ' + ' | '.join(GAP_KEYS) + ' |', '|---|' + '---|' * len(GAP_KEYS)]
        for task, per_key in per_task.items():
            lines.append(f'| {TASKS[task]} | '
                         + ' | '.join(f'{per_key[k]:.3f}' for k in GAP_KEYS) + ' |')
    return '\n'.join(lines + paper_comparison(summary, reduced, r2)) + '\n'


def _relative(after: float, before: float) -> float:
    return 100.0 * (after / before - 1.0) if before else float('nan')


def paper_comparison(summary: dict, reduced: dict, r2: dict) -> List[str]:
    """The paper's headline numbers beside ours for the same alpha_target."""
    lines = ['', f'**Beside the paper** (our gap change in %, per key: {" / ".join(GAP_KEYS)}):', '']
    original = summary['original']['metrics']
    for alpha in (0.05, 0.5):
        name = f'TPC-CMA alpha={alpha}'
        if name not in summary:
            continue
        ours = summary[name]['metrics']
        gaps = ' / '.join(f"{-reduced[name][k]:+.1f}" for k in GAP_KEYS)
        accuracy = ours['zero_shot/top1'][0] - original['zero_shot/top1'][0]
        line = (f'- alpha_target {alpha}: paper gap {PAPER[alpha]["gap"]:+.1f} %; ours {gaps}. ')
        if 'accuracy' in PAPER[alpha]:
            line += (f'Zero-shot: paper {PAPER[alpha]["accuracy"]:+.2f} %, ours {accuracy:+.2f} points '
                     f'({_relative(ours["zero_shot/top1"][0], original["zero_shot/top1"][0]):+.1f} % relative).')
        else:
            before, after = PAPER[alpha]['ari']
            line += (f'ARI vs class: paper {before:.3f} -> {after:.3f}, ours '
                     f'{original["clustering/ari_class"][0]:.3f} -> {ours["clustering/ari_class"][0]:.3f}. ')
            if 'caption_image/CIDEr' in ours:
                line += (f'CIDEr from images: paper {PAPER[alpha]["cider"]:+.1f} %, ours '
                         f'{_relative(ours["caption_image/CIDEr"][0], original["caption_image/CIDEr"][0]):+.1f} %.')
        lines.append(line)
    for pool, per_task in r2.items():
        for task, per_key in per_task.items():
            lines.append(f'- R² for {TASKS[task]} ({pool}): paper distribution '
                         f'{PAPER["r2"]["distribution"]} vs raw {PAPER["r2"]["raw"]}; ours '
                         f'distribution {per_key["distribution"]:.3f} vs raw {per_key["raw"]:.3f}.')
    return lines


def plot_compromise(summary: dict, reduced: dict, path: str) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key in zip(axes, ('distribution', 'centroid')):
        for family, marker in (('TPC-CMA', 'o-'), ('CMA const', 's--')):
            names = [n for n in summary if n.startswith(family)]
            names.sort(key=lambda n: summary[n]['alpha_target'])
            if names:
                ax.plot([reduced[n][key] for n in names],
                        [summary[n]['metrics']['zero_shot/top1'][0] for n in names], marker,
                        label=family)
        for name in summary:
            if not name.startswith(('TPC-CMA', 'CMA const')):
                ax.plot(reduced[name][key], summary[name]['metrics']['zero_shot/top1'][0], 'x')
                ax.annotate(name, (reduced[name][key], summary[name]['metrics']['zero_shot/top1'][0]),
                            fontsize=7)
        ax.set_xlabel(f'gap/{key} reduction (%)')
        ax.set_ylabel('zero-shot top-1 (%)')
        ax.legend(fontsize=8)
    fig.suptitle('The compromise curve: accuracy against gap reduction')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_predictiveness(results: dict, r2: dict, path: str) -> None:
    tasks = list(r2['all runs'])
    fig, axes = plt.subplots(len(tasks), len(GAP_KEYS),
                             figsize=(3 * len(GAP_KEYS), 3 * len(tasks)), squeeze=False)
    for row, task in enumerate(tasks):
        for col, key in enumerate(GAP_KEYS):
            ax = axes[row][col]
            for models, colour, label in ((True, 'C0', 'models'), (False, 'C3', 'post-hoc')):
                runs = [e['metrics'] for e in results.values() if task in e['metrics']
                        and in_pool(e, 'models only') == models]
                ax.scatter([m[f'gap/{key}'] for m in runs], [m[task] for m in runs], s=12,
                           c=colour, label=label)
            ax.set_title(f"R² all {r2['all runs'][task][key]:.3f}, "
                         f"models {r2['models only'][task][key]:.3f}", fontsize=8)
            if row == col == 0:
                ax.legend(fontsize=7)
            ax.set_xlabel(f'gap/{key}', fontsize=8)
            if col == 0:
                ax.set_ylabel(TASKS[task], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_curves(work_dir: str) -> Dict[str, List[float]]:
    """Per-iteration scalars the logger wrote for one training run."""
    curves = defaultdict(list)
    for root, _, files in os.walk(work_dir):
        if 'scalars.json' in files:
            with open(osp.join(root, 'scalars.json')) as f:
                for line in f:
                    record = json.loads(line)
                    for key in CURVE_KEYS:
                        if key in record:
                            curves[key].append((record['step'], record[key]))
    return curves


def plot_curves(curves: dict, title: str, path: str) -> None:
    fig, (ax_alpha, ax_grad) = plt.subplots(1, 2, figsize=(11, 4))
    for key, points in curves.items():
        ax = ax_alpha if key.startswith('alpha') else ax_grad
        ax.plot(*zip(*points), label=key)
    ax_alpha.set_xlabel('iteration')
    ax_grad.set_xlabel('iteration')
    ax_grad.set_yscale('symlog', linthresh=1e-3)
    ax_alpha.legend()
    ax_grad.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(results: dict, settings: dict, out_dir: str, command: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    summary = aggregate(results)
    reduced = reductions(summary)
    r2 = {pool: r_squared(results, pool) for pool in POOLS}
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump(dict(command=command, settings=settings, summary=summary,
                       gap_reduction=reduced, r_squared=r2, runs=results), f, indent=1)
    with open(osp.join(out_dir, 'results.md'), 'w') as f:
        f.write(markdown(summary, reduced, r2, settings, command))
    plot_compromise(summary, reduced, osp.join(out_dir, 'compromise_curve.png'))
    if r2['all runs']:
        plot_predictiveness(results, r2, osp.join(out_dir, 'gap_predictiveness.png'))
    tpc = [n for n in summary if n.startswith('TPC-CMA')]
    if tpc:
        name = max(tpc, key=lambda n: summary[n]['alpha_target'])
        work_dir = summary[name]['work_dirs'][0]
        curves = training_curves(work_dir) if work_dir else {}
        if curves:
            plot_curves(curves, f'{name}, seed {settings["seeds"][0]}',
                        osp.join(out_dir, 'curriculum.png'))
