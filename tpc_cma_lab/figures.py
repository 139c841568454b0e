"""Figures of the reproduction report: compromise curve, gap predictiveness, curriculum."""
import json
import math
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List

from matplotlib.ticker import MaxNLocator

from tpc_cma_mm.apis.figures.style import MARKERS, PALETTE, paper_style, plt
from tpc_cma_mm.apis.outputs import figure_bytes
from tpc_cma_mm.evaluation.functional.gaps import GAP_KEYS
from .matched import FAMILIES
from .report_text import TASKS, in_pool
from .verdicts import PLAIN_FINETUNING

__all__ = ['CURVE_KEYS', 'compromise_figure', 'curriculum_figure', 'predictiveness_figure',
           'training_curves']

CURVE_KEYS = ('alpha', 'alpha_sched', 'alpha_cap', 'grad_con', 'grad_cma', 'grad_cos')
# alpha is drawn last and thin over the wider alpha_sched it often equals, so both show.
CURVE_STYLE = dict(alpha_sched=dict(lw=4, alpha=0.45, color=PALETTE[1]),
                   alpha_cap=dict(lw=1.5, ls='--', color=PALETTE[2]),
                   alpha=dict(lw=1.5, color=PALETTE[0]),
                   grad_con=dict(color=PALETTE[0]), grad_cma=dict(color=PALETTE[3]),
                   grad_cos=dict(color=PALETTE[4], ls='--'))
# Marker and line of each method family's curve (matched.FAMILIES names the families).
FAMILY_STYLE = dict(zip(FAMILIES, (('o', '-'), ('s', '--'))))
# Offsets (points) an alpha label may take, nearest first: right and left of its point,
# then further up and down; a label takes the first that overlaps no earlier label.
LABEL_OFFSETS = [(dx, dy) for ring in range(5) for dy in (5 + 11 * ring, -14 - 11 * ring)
                 for dx in (5, -40)]


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_labels(ax, labels: List[tuple]) -> None:
    """Annotate ``(x, y, text, colour)`` labels so that no two overlap: each takes the
    first offset at which its rendered box meets no earlier label's (call it after the
    layout is final); a label moved off the first ring gets a leader line."""
    renderer, taken = ax.figure.canvas.get_renderer(), []
    for x, y, text, colour in labels:
        label = ax.annotate(text, (x, y), textcoords='offset points', xytext=LABEL_OFFSETS[0],
                            fontsize=9, color=colour)
        for offset in LABEL_OFFSETS:
            label.xyann = offset
            extent = label.get_window_extent(renderer)
            box = (extent.x0, extent.y0, extent.x1, extent.y1)
            if not any(_overlap(box, other) for other in taken):
                break
        taken.append(box)
        if abs(label.xyann[1]) > 14:  # redrawn at the same place, with its leader line
            label.remove()
            ax.annotate(text, (x, y), textcoords='offset points', xytext=offset, fontsize=9,
                        color=colour, arrowprops=dict(arrowstyle='-', lw=0.6, color=colour))


def compromise_figure(summary: dict, reduced: dict, accuracy: str = 'zero_shot/top1') -> bytes:
    """Zero-shot accuracy (metric ``accuracy``) against gap reduction, ± std over seeds,
    each point's alpha."""
    with paper_style():
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
        alpha_labels = {ax: [] for ax in axes}
        for ax, key in zip(axes, ('distribution', 'centroid')):
            for colour, (family, (marker, line)) in zip(PALETTE, FAMILY_STYLE.items()):
                names = sorted((n for n in summary if n.startswith(family)),
                               key=lambda n: summary[n]['alpha_target'])
                if not names:
                    continue
                # Each curve starts at its alpha 0: plain contrastive fine-tuning.
                names = [n for n in (PLAIN_FINETUNING, ) if n in summary] + names
                x = [reduced[n][key] for n in names]
                y, err = zip(*(summary[n]['metrics'][accuracy] for n in names))
                ax.errorbar(x, y, yerr=err, fmt=marker + line, color=colour, capsize=3,
                            label=f'{family} (± std over seeds)')
                alpha_labels[ax] += [(xi, yi, f'α={summary[n]["alpha_target"]:g}', colour)
                                     for n, xi, yi in zip(names, x, y) if n != PLAIN_FINETUNING]
            others = [n for n in summary if not n.startswith(FAMILIES)]
            for i, name in enumerate(others):
                mean, std = summary[name]['metrics'][accuracy]
                ax.errorbar(reduced[name][key], mean, yerr=std, fmt=MARKERS[(i + 2) % 8],
                            color=PALETTE[(i + 2) % len(PALETTE)], capsize=3, label=name)
            ax.set_xlabel(f'gap/{key} reduction vs original (%)')
            ax.set_ylabel(f'{accuracy} (%)')
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc='center right', fontsize=9)
        fig.suptitle(f'The compromise curve: {accuracy} against gap reduction'
                     + (' (classes fine-tuning never saw)' if 'held_out' in accuracy else ''))
        fig.tight_layout(rect=(0, 0, 0.8, 1))
        for ax, points in alpha_labels.items():
            _place_labels(ax, points)
        return figure_bytes(fig)


def predictiveness_figure(results: dict, r2: dict) -> bytes:
    """Task quality against each gap key, per run, with the R² of both pools."""
    tasks = list(r2['all runs'])
    keys = [k for k in GAP_KEYS if all(k in r2['all runs'][t] for t in tasks)]
    rows = math.ceil(len(keys) / 6)
    cols = math.ceil(len(keys) / rows)
    with paper_style():
        fig, axes = plt.subplots(len(tasks) * rows, cols, squeeze=False,
                                 figsize=(3.3 * cols, 3.1 * len(tasks) * rows))
        for ax in axes.flat:
            ax.axis('off')
        for t, task in enumerate(tasks):
            for k, key in enumerate(keys):
                ax = axes[t * rows + k // cols][k % cols]
                ax.axis('on')
                for models, colour, marker, label in ((True, PALETTE[0], 'o', 'models'),
                                                      (False, PALETTE[3], 'x', 'post-hoc')):
                    runs = [e['metrics'] for e in results.values() if task in e['metrics']
                            and in_pool(e, 'models only') == models]
                    ax.scatter([m[f'gap/{key}'] for m in runs], [m[task] for m in runs], s=18,
                               color=colour, marker=marker, label=label)
                models_r2 = r2['models only'].get(task, {}).get(key, float('nan'))
                ax.set_title(f"R² all {r2['all runs'][task][key]:.2f}, models "
                             f'{models_r2:.2f}', fontsize=9)
                ax.set_xlabel(f'gap/{key}', fontsize=9)
                ax.xaxis.set_major_locator(MaxNLocator(4))
                ax.set_ylabel(TASKS[task], fontsize=9)
                if k == 0:
                    ax.legend(fontsize=8)
        fig.tight_layout()
        return figure_bytes(fig)


def training_curves(work_dir: str) -> Dict[str, List[tuple]]:
    """Per-iteration scalars the logger wrote for one training run, sorted by iteration.

    A resumed run logs into a new folder and repeats the iterations after its
    last checkpoint: each iteration keeps the value of the latest log.
    """
    logs = [osp.join(root, 'scalars.json') for root, _, files in os.walk(work_dir)
            if 'scalars.json' in files]
    curves = defaultdict(dict)
    for log in sorted(logs, key=lambda path: (osp.getmtime(path), path)):
        with open(log) as f:
            for line in f:
                record = json.loads(line)
                for key in CURVE_KEYS:
                    if key in record:
                        curves[key][record['step']] = record[key]
    return {key: sorted(points.items()) for key, points in curves.items()}


def curriculum_figure(curves: dict, title: str) -> bytes:
    """The curriculum's alpha (scheduled, capped, applied) and the probed gradient norms."""
    with paper_style():
        fig, (ax_alpha, ax_grad) = plt.subplots(1, 2, figsize=(12, 4.5))
        for key in sorted(curves, key=CURVE_KEYS.index):
            ax = ax_alpha if key.startswith('alpha') else ax_grad
            ax.plot(*zip(*curves[key]), label=key, **CURVE_STYLE[key])
        ax_alpha.set_ylabel('CMA weight alpha')
        ax_grad.set_ylabel('gradient norm (cosine for grad_cos)')
        ax_grad.set_yscale('symlog', linthresh=1e-3)
        for ax in (ax_alpha, ax_grad):
            ax.set_xlabel('fine-tuning iteration')
            if ax.lines:
                ax.legend()
        fig.suptitle(title)
        fig.tight_layout()
        return figure_bytes(fig)
