"""Tables and plots of a study's results file (results/experiments/study.md and PNGs)."""
import os
import os.path as osp
from typing import Dict, List, Optional

from tpc_cma_mm.apis.figures.style import MARKERS, PALETTE, paper_style, plt
from tpc_cma_mm.apis.outputs import figure_bytes, write_outputs

__all__ = ['COLUMNS', 'infonce_curve', 'run_label', 'study_table', 'write_study_report']

# (header, metric key); the percentages of the gap are against the original model.
COLUMNS = (('centroid', 'gap/centroid'), ('distribution', 'gap/distribution'),
           ('zero-shot all', 'zero_shot/top1'), ('zero-shot seen', 'zero_shot_seen/top1'),
           ('zero-shot held-out', 'zero_shot_held_out/top1'), ('probe shape', 'probe/shape'),
           ('probe colour', 'probe/colour'), ('probe size', 'probe/size'),
           ('probe position', 'probe/position'), ('zs colour', 'attr_zero_shot/colour'),
           ('zs size', 'attr_zero_shot/size'), ('zs position', 'attr_zero_shot/position'),
           ('ARI class', 'clustering/ari_class'))
DEFAULTS = dict(iters=300, seed=0, lr=None, batch=None)
# Loss-form and schedule variants: in the table, not on the main compromise curve.
OFF_CURVE = {'squared', 'combine', 'phases'}


def run_label(entry: dict) -> str:
    """'const 0.5, lr=0.002' etc.: the loss and what differs from the default budget."""
    if entry['kind'] == 'pretrain':
        return f'original ({entry["spec"]["name"]})'
    if entry['kind'] == 'posthoc':
        return f'original ({entry["pretrained"]}) + {entry["spec"]["posthoc"]}'
    spec = entry['spec']
    label = spec['loss'] if spec['loss'] == 'contrastive' else f'{spec["loss"]} {spec["alpha"]}'
    extras = [f'{k}={spec[k]}' for k in ('iters', 'seed', 'lr', 'batch', *sorted(OFF_CURVE))
              if k in spec and spec[k] != DEFAULTS.get(k)]
    if entry['kind'] == 'wise':
        extras.append(f'WiSE-FT c={spec["coefficient"]}')
    return ', '.join([label] + extras)


def infonce_curve(entry: dict) -> List[float]:
    """The unweighted InfoNCE per iteration (a contrastive-only run logs it as its loss)."""
    train = entry.get('train') or {}
    return train.get('contrastive_raw') or train.get('loss_contrastive') or []


def _final_loss(entry: dict) -> str:
    losses = infonce_curve(entry)
    tail = losses[-max(1, len(losses) // 10):]
    return f'{sum(tail) / len(tail):.3f}' if tail else '-'


def study_table(results: Dict[str, dict]) -> List[str]:
    """Markdown rows, original first; Δcentroid % against the run's pretrained model."""
    originals = {e['spec']['name']: e['metrics'] for e in results.values()
                 if e['kind'] == 'pretrain'}
    head = ['run', 'Δcentroid %'] + [h for h, _ in COLUMNS] + ['final InfoNCE']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for entry in sorted(results.values(), key=lambda e: (e['kind'] != 'pretrain',
                                                          run_label(e))):
        metrics = entry['metrics']
        base = originals[entry['pretrained'] or entry['spec']['name']]
        drop = 100 * (1 - metrics['gap/centroid'] / base['gap/centroid'])
        cells = [run_label(entry), f'{drop:.1f}'] + [
            f'{metrics[k]:.3f}' if k.startswith(('gap', 'clustering')) else f'{metrics[k]:.1f}'
            for _, k in COLUMNS] + [_final_loss(entry)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def _colours(labels) -> Dict[str, tuple]:
    """One (colour, marker) per label, the same in every panel of a figure."""
    # The marker changes every len(PALETTE) labels, so no two labels share both.
    return {name: (PALETTE[i % len(PALETTE)], MARKERS[i // len(PALETTE) % len(MARKERS)])
            for i, name in enumerate(sorted(set(labels)))}


def _plot_compromise(results: Dict[str, dict]) -> bytes:
    keys = (('zero_shot_held_out/top1', 'zero-shot, held-out shapes'),
            ('zero_shot_seen/top1', 'zero-shot, fine-tuned shapes'),
            ('probe/mean', 'linear probe, mean of 4 attributes'),
            ('attr_zero_shot/colour', 'zero-shot colour'))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.8))
    originals = {e['spec']['name']: e['metrics'] for e in results.values()
                 if e['kind'] == 'pretrain'}
    base = next(iter(originals))
    # One curve per loss, combination and pretrained model; each run's reduction is
    # against its own pretrained model.
    groups = {}
    for entry in results.values():
        spec = entry['spec']
        plain = all(spec.get(k, v) == v for k, v in DEFAULTS.items() if k != 'iters') \
            and not (OFF_CURVE - {'combine'}) & set(spec) and spec.get('iters', 300) == 300
        if entry['kind'] not in ('finetune', 'wise') or not plain:
            continue
        name = spec['loss'] if entry['kind'] != 'wise' else \
            f'WiSE-FT of {run_label(dict(entry, kind="finetune"))}'
        name += f', {spec["combine"]}' if 'combine' in spec else ''
        name += f' ({entry["pretrained"]})' if entry['pretrained'] != base else ''
        groups.setdefault(name, []).append((entry['metrics'], originals[entry['pretrained']]))
    style = _colours(groups)
    for ax, (key, title) in zip(axes, keys):
        for name, runs in sorted(groups.items()):
            runs = sorted(runs, key=lambda run: run[0]['gap/centroid'] / run[1]['gap/centroid'])
            xs = [100 * (1 - m['gap/centroid'] / o['gap/centroid']) for m, o in runs]
            colour, marker = style[name]
            ax.plot(xs, [m[key] for m, _ in runs], marker=marker, color=colour, label=name)
        ax.axhline(originals[base][key], color='grey', ls=':', label=f'original ({base})')
        ax.set(title=title, xlabel='centroid gap reduction (%)', ylabel='accuracy (%)')
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='center left', bbox_to_anchor=(1.0, 0.5))
    fig.suptitle('What closing the gap costs: accuracy against centroid-gap reduction')
    fig.tight_layout()
    return figure_bytes(fig, dpi=110, bbox_inches='tight')


def _plot_training(results: Dict[str, dict]) -> Optional[bytes]:
    """The InfoNCE curves per (lr, batch); None (no plot) when no run has one."""
    # The first pretrained model's runs: the regime study fine-tunes one model.
    base = next(e['spec']['name'] for e in results.values() if e['kind'] == 'pretrain')
    runs = [e for e in results.values() if e['kind'] == 'finetune' and infonce_curve(e)
            and e['pretrained'] == base]
    if not runs:
        return None
    settings = sorted({(e['spec'].get('lr'), e['spec'].get('batch')) for e in runs},
                      key=str)
    fig, axes = plt.subplots(1, len(settings), figsize=(4.5 * len(settings), 3.6),
                             squeeze=False)
    shown = [e for e in runs if e['spec']['seed'] == 0 and e['spec']['iters'] == 300
             and not OFF_CURVE & set(e['spec'])]
    style = _colours(run_label(e).split(',')[0] for e in shown)
    for ax, (lr, batch) in zip(axes[0], settings):
        for e in shown:
            if (e['spec'].get('lr'), e['spec'].get('batch')) == (lr, batch):
                name = run_label(e).split(',')[0]
                ax.plot(infonce_curve(e), lw=0.9, color=style[name][0], label=name)
        ax.set(title=f'lr={lr or "default"}, batch={batch or 256}',
               xlabel='fine-tuning iteration', ylabel='InfoNCE, unweighted (nats)')
        ax.legend(fontsize=7)
    fig.suptitle(f'Does the contrastive task survive the alignment? (ln B = collapse; '
                 f'fine-tunings of {base})')
    fig.tight_layout()
    return figure_bytes(fig, dpi=110)


def write_study_report(results: Dict[str, dict], out_dir: str, command: str,
                       overwrite: bool = False) -> str:
    """Write ``out_dir/study.md`` and its plots (atomically; other content refused
    unless ``overwrite``); returns the markdown's path."""
    with paper_style():
        files = {'compromise.png': _plot_compromise(results)}
        trained = _plot_training(results)
    if trained:
        files['training.png'] = trained
    lines = ['# Study results (written by tools/experiments.py --report)', '',
             f'Command: `{command}`', '',
             'Fine-tuning on 4 of the 8 shapes (circle, triangle, cross, hexagon); test split '
             'of all 8. Probes: logistic regression fitted on the val split, scored on test.',
             '', *study_table(results), '',
             '![compromise](compromise.png)', '',
             '![training](training.png)' if trained else
             'No fine-tuning has a recorded loss curve: no training plot.', '']
    files['study.md'] = '\n'.join(lines).encode('utf-8')
    write_outputs({osp.join(out_dir, k): v for k, v in files.items()}, overwrite)
    return osp.join(out_dir, 'study.md')
