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
from mmengine.runner import Runner

from tpc_cma_mm.apis.embed import embed_split
from tpc_cma_mm.apis.model import init_model
from tpc_cma_mm.evaluation.functional import gap_metrics
from tpc_cma_mm.utils import safe_torch_load

__all__ = ['with_target', 'with_alpha_target', 'train_once', 'held_out_gaps', 'target_table',
           'table_markdown']


def _curriculum(cfg: Config) -> dict:
    hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] == 'TPCCurriculumHook']
    if len(hooks) != 1:
        raise ValueError(f'{cfg.filename} needs exactly one TPCCurriculumHook in '
                         f'custom_hooks, found {len(hooks)}')
    return hooks[0]


def with_target(cfg: Config, reduction: float, key: str = 'centroid') -> Config:
    """``cfg`` with its curriculum in target mode (the same phases and ramp)."""
    cfg = copy.deepcopy(cfg)
    hook = _curriculum(cfg)
    hook.pop('alpha_target', None)
    hook['target'] = dict(key=key, reduction=reduction)
    return cfg


def with_alpha_target(cfg: Config, alpha: float) -> Config:
    """``cfg`` with its curriculum in alpha_target mode at ``alpha``."""
    cfg = copy.deepcopy(cfg)
    hook = _curriculum(cfg)
    hook.pop('target', None)
    hook['alpha_target'] = alpha
    return cfg


def train_once(cfg: Config, work_dir: str, seed: int) -> str:
    """Fine-tune ``cfg`` (no validation) into ``work_dir``; a finished run is reused."""
    ckpt = osp.join(work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if not osp.isfile(ckpt):
        cfg = copy.deepcopy(cfg)
        cfg.work_dir = work_dir
        cfg.randomness = dict(seed=seed, deterministic=False)
        cfg.experiment_name = f'{osp.basename(work_dir)}_seed{seed}'
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        cfg.train_cfg.pop('val_interval', None)
        cfg.default_hooks.checkpoint.interval = cfg.train_cfg.max_iters
        Runner.from_cfg(cfg).train()
    return ckpt


def held_out_gaps(cfg: Config, checkpoint: str) -> Dict[str, float]:
    """Every gap key of ``checkpoint`` on ``cfg``'s test split."""
    model = init_model(cfg, checkpoint)
    embeds = embed_split(model, copy.deepcopy(cfg.test_dataloader.dataset), progress=False)
    return gap_metrics(embeds['img'], embeds['text'], max_mmd_samples=0)


def _reduction(before: Dict[str, float], after: Dict[str, float], key: str) -> float:
    return 100.0 * (1.0 - after[key] / before[key])


def target_table(configs: Dict[str, Config], targets: Sequence[float], seeds: Sequence[int],
                 fixed_alpha: Dict[float, Optional[float]], work_dir: str,
                 key: str = 'centroid') -> List[dict]:
    """One row per (config, seed, target): the achieved test-split reduction of
    ``key`` (%), what the run estimated and reported, and the fixed
    alpha_target's reduction (``fixed_alpha[target]``; ``None``: not run)."""
    rows = []
    for name, cfg in configs.items():
        before = held_out_gaps(cfg, cfg.load_from)
        for seed in seeds:
            for target in targets:
                run_dir = osp.join(work_dir, name, f'seed{seed}', f'target{target:g}')
                ckpt = train_once(with_target(cfg, target, key), run_dir, seed)
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
                    fixed = train_once(with_alpha_target(cfg, row['fixed_alpha']),
                                       fixed_dir, seed)
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
