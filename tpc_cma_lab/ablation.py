"""The distribution-term ablation: CMA variants compared at one matched centroid reduction.

Every variant replaces the method config's ``model.cma_loss`` and fine-tunes
from its ``load_from`` in gap-target mode, asked for the same centroid
reduction: the comparison is at matched reduction, not at equal alpha (an
alpha means another gap for another loss). Fine-tuning sees the classes the
config does not hold out (``reproduce.held_out_classes``), as in the
reproduction; each model is scored on the test split (gap keys, ARI,
zero-shot on the held-out classes) and, with ``captioning``, captioned by a
decoder that learns from the base config's training captions, the same for
every row. ``tools/ablation.py`` is the command line::

    from tpc_cma_lab.ablation import ablation_table, table_markdown
    rows = ablation_table(cfg, ['L_align', 'w_cov 100'], seeds=(0, ), reduction=0.5,
                          work_dir='work_dirs/ablation')
    print(table_markdown(rows))
"""
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
from mmengine.config import Config

from tpc_cma_mm.apis.fingerprint import config_digest
from tpc_cma_mm.utils import safe_torch_load
from .engine import Run, run_config, set_threads, train
from .reproduce import MODES, evaluate, seen_classes_option
from .reproduce.variants import AS_IS

__all__ = ['CAPTIONING', 'LOSS_VARIANTS', 'SCORES', 'STARTING_MODEL', 'ablation_run',
           'ablation_table', 'merge_rows', 'score_model', 'table_markdown']


def _with_terms(*terms: dict) -> dict:
    return dict(type='CMALoss', extra_terms=list(terms))


# The variants of issue 23's ablation (docs/method.md, "The distribution term"); every
# extra term at weight 1, one setting each, not tuned.
LOSS_VARIANTS: Dict[str, dict] = {
    'L_align': dict(type='CMALoss'),
    'w_cov 10': dict(type='CMALoss', w_cov=10.0),
    'w_cov 100': dict(type='CMALoss', w_cov=100.0),
    'w_cov 1000': dict(type='CMALoss', w_cov=1000.0),
    'w_dist 0.3': dict(type='CMALoss', w_dist=0.3),
    'w_dist 3': dict(type='CMALoss', w_dist=3.0),
    '+ uniformity': _with_terms(dict(type='PairCentroidUniformity')),
    '+ shared prior': _with_terms(dict(type='SharedPriorMoments')),
    '+ MMD': _with_terms(dict(type='MMDAlignment')),
}
# The table's columns: (metric key, heading); lower is better for the two gap keys,
# higher for the rest.
SCORES = (('reduction/centroid', 'centroid reduction %'),
          ('gap/distribution_rel', 'distribution_rel'),
          ('gap/bures_unit', 'bures_unit'),
          ('zero_shot_held_out/top1', 'held-out zero-shot %'),
          ('clustering/ari_class', 'ARI vs class'),
          ('caption_image/CIDEr', 'CIDEr from images'))
STARTING_MODEL = 'starting model'
# The reproduction's quick captioning protocol.
CAPTIONING = {k: MODES['quick'][k] for k in ('decoder_iters', 'caption_train', 'caption_test')}


def ablation_run(cfg: Config, name: str, seed: int, reduction: float, work_dir: str,
                 threads: int = 1) -> Run:
    """The fine-tuning of variant ``name``: ``cfg`` from its ``load_from`` with that CMA loss,
    on the classes ``cfg`` does not hold out, asked for ``reduction`` of the centroid gap."""
    if name not in LOSS_VARIANTS:
        raise KeyError(f'No ablation variant {name!r}; known: {list(LOSS_VARIANTS)}')
    slug = name.replace(' ', '_').replace('+', 'plus')
    return Run(config=cfg.filename, config_digest=config_digest(cfg),
               work_dir=osp.join(work_dir, f'{slug}_seed{seed}'), seed=seed,
               load_from=cfg.load_from,
               options={**seen_classes_option(cfg), 'model.cma_loss': LOSS_VARIANTS[name]},
               curriculum=dict(target=dict(key='centroid', reduction=reduction)),
               validate=False, threads=threads)


def score_model(cfg: Config, checkpoint: str, captioning_cfg: Config = None,
                out_dir: str = None) -> dict:
    """The test-split scores of ``checkpoint`` (a model of ``cfg``), as the reproduction
    scores a run; with ``captioning_cfg`` also its captions (the quick protocol), the
    decoder learning from that config's training captions."""
    metrics, _, _ = evaluate(cfg, checkpoint, None, CAPTIONING, out_dir, progress=False,
                             captioning=None if captioning_cfg is None else dict(AS_IS),
                             caption_cfg=captioning_cfg)
    return metrics


def ablation_table(cfg: Config, names: Sequence[str], seeds: Sequence[int],
                   reduction: float, work_dir: str, threads: int = 1,
                   captioning: bool = True) -> List[dict]:
    """The starting model's row, then one row per (variant, seed), seeds outermost: the
    run's scores, its centroid reduction on the test split against the starting model
    (%) and whether the controller reported the target reached."""
    set_threads(threads)
    caption_cfg = cfg if captioning else None
    caption_dir = osp.join(work_dir, 'captioning')
    start = score_model(cfg, cfg.load_from, caption_cfg, caption_dir)
    start['reduction/centroid'] = 0.0
    rows = [dict(variant=STARTING_MODEL, seed=None, target=0.0, reached=None, metrics=start)]
    for seed in seeds:
        for name in names:
            run = ablation_run(cfg, name, seed, reduction, work_dir, threads)
            ckpt, _ = train(run, cfg)
            metrics = score_model(run_config(run, cfg), ckpt, caption_cfg, caption_dir)
            metrics['reduction/centroid'] = 100 * (
                1 - metrics['gap/centroid'] / start['gap/centroid'])
            state = safe_torch_load(ckpt)['tpc_curriculum']
            rows.append(dict(variant=name, seed=seed, target=100 * reduction,
                             reached=state['target_reached'], metrics=metrics))
    return rows


def merge_rows(tables: Sequence[List[dict]]) -> List[dict]:
    """The rows of several ``ablation_table`` calls (e.g. one per seed) as one table: one
    starting-model row (the calls must agree on it) and every run once, in order."""
    starts = [row for rows in tables for row in rows if row['variant'] == STARTING_MODEL]
    if not starts or any(s['metrics'] != starts[0]['metrics'] for s in starts):
        raise ValueError('the tables to merge must each start from the same model (their '
                         f'{STARTING_MODEL!r} rows differ or are missing): they come from '
                         'other configs or checkpoints.')
    runs = {}
    for row in (r for rows in tables for r in rows if r['variant'] != STARTING_MODEL):
        key = (row['variant'], row['seed'])
        if key in runs and runs[key] != row:
            raise ValueError(f'two tables hold different results for {key}')
        runs[key] = row
    return [starts[0]] + list(runs.values())


def table_markdown(rows: List[dict]) -> str:
    """Mean and standard deviation over seeds per variant (in the rows' order), with the
    number of seeds and how many runs reached the target."""
    names = list(dict.fromkeys(r['variant'] for r in rows))
    keys = [k for k, _ in SCORES if all(k in r['metrics'] for r in rows)]
    heads = [h for k, h in SCORES if k in keys]
    lines = ['| variant | seeds | reached | ' + ' | '.join(heads) + ' |',
             '|' + '---|' * (3 + len(keys))]
    for name in names:
        runs = [r for r in rows if r['variant'] == name]
        cells = []
        for key in keys:
            values = np.array([r['metrics'][key] for r in runs], dtype=float)
            cells.append(f'{values.mean():.3f} ± {values.std(ddof=1):.3f}' if len(values) > 1
                         else f'{values.mean():.3f}')
        reached = ('-' if name == STARTING_MODEL else
                   f"{sum(1 for r in runs if r['reached'] == 1)}/{len(runs)}")
        lines.append(f'| {name} | {len(runs)} | {reached} | '
                     + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
