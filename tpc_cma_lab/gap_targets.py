"""Gap targets against fixed alpha_target: does asking for a reduction give it?

For every (config, seed, target) the TPC-CMA config is fine-tuned twice from
its ``load_from``: once with ``TPCCurriculumHook(target=dict(key, reduction))``
and once with the fixed ``alpha_target`` nearest that reduction; both are
scored on the held-out test split (``embed_split`` + ``gap_metrics``) against
the starting model. ``tools/gap_targets.py`` is the command line::

    from tpc_cma_lab.gap_targets import target_table, table_markdown
    rows = target_table({'vit_b256': cfg}, targets=(0.5,), seeds=(0,),
                        fixed_alpha={0.5: 0.42}, work_dir='work_dirs/gap_targets')
    print(table_markdown(rows))
"""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from tpc_cma_mm.apis.embed import embed_split
from tpc_cma_mm.apis.fingerprint import config_digest
from tpc_cma_mm.apis.model import init_model
from tpc_cma_mm.evaluation.functional import gap_metrics
from tpc_cma_mm.utils import safe_torch_load
from .engine import Run, set_threads, train, with_curriculum

__all__ = ['with_target', 'with_alpha_target', 'curriculum_run', 'held_out_gaps', 'target_table',
           'table_markdown']


def _target(reduction: float, key: str) -> dict:
    return dict(target=dict(key=key, reduction=reduction))


def with_target(cfg: Config, reduction: float, key: str = 'centroid') -> Config:
    """``cfg`` with its curriculum in target mode (the same phases and ramp)."""
    return with_curriculum(cfg, _target(reduction, key))


def with_alpha_target(cfg: Config, alpha: float) -> Config:
    """``cfg`` with its curriculum in alpha_target mode at ``alpha``."""
    return with_curriculum(cfg, dict(alpha_target=alpha))


def curriculum_run(cfg: Config, curriculum: dict, work_dir: str, seed: int,
                   threads: int) -> Run:
    """The fine-tuning of ``cfg`` from its ``load_from`` with the curriculum's keys set,
    its own length, no validation."""
    return Run(config=cfg.filename, config_digest=config_digest(cfg), work_dir=work_dir,
               seed=seed, load_from=cfg.load_from, curriculum=curriculum, validate=False,
               threads=threads)


def held_out_gaps(cfg: Config, checkpoint: str) -> Dict[str, float]:
    """Every gap key of ``checkpoint`` on ``cfg``'s test split."""
    model = init_model(cfg, checkpoint)
    embeds = embed_split(model, copy.deepcopy(cfg.test_dataloader.dataset), progress=False)
    return gap_metrics(embeds['img'], embeds['text'], max_mmd_samples=0)


def _reduction(before: Dict[str, float], after: Dict[str, float], key: str) -> float:
    return 100.0 * (1.0 - after[key] / before[key])


def target_table(configs: Dict[str, Config], targets: Sequence[float], seeds: Sequence[int],
                 fixed_alpha: Dict[float, Optional[float]], work_dir: str,
                 key: str = 'centroid', threads: int = 1) -> List[dict]:
    """One row per (config, seed, target): the achieved test-split reduction of
    ``key`` (%), what the run estimated and reported, and the fixed
    alpha_target's reduction (``fixed_alpha[target]``; ``None``: not run). Every run
    trains at ``threads`` torch threads (``tpc_cma_lab.engine.train``)."""
    set_threads(threads)  # the starting models' scores too
    rows = []
    for name, cfg in configs.items():
        before = held_out_gaps(cfg, cfg.load_from)
        for seed in seeds:
            for target in targets:
                run_dir = osp.join(work_dir, name, f'seed{seed}', f'target{target:g}')
                ckpt, _ = train(curriculum_run(cfg, _target(target, key), run_dir, seed,
                                               threads), cfg)
                state = safe_torch_load(ckpt)['tpc_curriculum']
                row = dict(config=name, seed=seed, target=100 * target, key=key,
                           achieved=_reduction(before, held_out_gaps(cfg, ckpt), key),
                           train_estimate=100 * (1 - state['target_gap_est']
                                                 / state['target_gap_ref']),
                           reached=state['target_reached'], limit=state['target_limit'],
                           fixed_alpha=fixed_alpha.get(target), fixed_achieved=None)
                if row['fixed_alpha'] is not None:
                    fixed_dir = osp.join(work_dir, name, f'seed{seed}',
                                         f'alpha{row["fixed_alpha"]:g}')
                    fixed, _ = train(curriculum_run(
                        cfg, dict(alpha_target=row['fixed_alpha']), fixed_dir, seed, threads),
                        cfg)
                    row['fixed_achieved'] = _reduction(before, held_out_gaps(cfg, fixed), key)
                rows.append(row)
    return rows


def table_markdown(rows: List[dict]) -> str:
    """The rows as a markdown table, one line per run."""
    lines = ['| config | seed | key | target % | achieved % (test) | estimated in training % '
             '| reached | fixed alpha_target | its reduction % |', '|' + '---|' * 9]
    for r in rows:
        fixed = ('-', '-') if r['fixed_alpha'] is None else (
            f'{r["fixed_alpha"]:g}', f'{r["fixed_achieved"]:.1f}')
        lines.append(f'| {r["config"]} | {r["seed"]} | {r["key"]} | {r["target"]:.0f} | '
                     f'{r["achieved"]:.1f} | {r["train_estimate"]:.1f} | '
                     f'{"yes" if r["reached"] == 1 else "no"} | {fixed[0]} | {fixed[1]} |')
    return '\n'.join(lines)
