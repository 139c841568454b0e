"""One job of the reproduction: fine-tune a variant (unless post-hoc) and score it.

A job is a plain dict, so that it crosses to a spawned worker process::

    dict(config='configs/tpc_cma/...py', work_dir='work_dirs/reproduce_quick',
         settings=dict(...), original='.../iter_400.pth', name='TPC-CMA alpha=0.5', seed=0)

Every run is scored on the test split (gap keys, retrieval, clustering and
zero-shot where the split has labels and the model classes, captioning) and on
the config's extra sets (:mod:`.benchmarks`: zero-shot benchmarks, COCO
single-label clustering), each after the variant's post-hoc fix. The decoder
is ``reproduce.decoder_config`` of the config (default: the tiny one), trained
anew per model; the decoded captions are kept in ``captions_file``.

Extra metrics: ``EXTRA_METRICS`` maps a name to ``fn(model, cfg, embeds) -> dict``
(``embeds`` as :func:`~tpc_cma_mm.apis.embed_split` returns them); the names in
``settings['extra_metrics']`` are computed for every run and kept in the run's
``extra_metrics``, which the report's table and JSON pass through as columns.
Expressiveness probes plug in there. The functions get the raw embeddings: a
post-hoc variant's fix (fitted in :func:`evaluate`) is not applied to them.
"""
import copy
import os.path as osp
import time
from typing import Callable, Dict, Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from tpc_cma_mm.evaluation.functional import build_posthoc, embedding_suite
from tpc_cma_mm.apis.captioning import config_caption_scores, flat_caption_scores
from tpc_cma_mm.apis.outputs import json_bytes
from tpc_cma_mm.apis.embed import embed_split
from tpc_cma_mm.apis.model import init_model
from tpc_cma_mm.apis.schedule import rescale_schedule
from tpc_cma_mm.utils.atomic_io import atomic_write
from .benchmarks import score_extra_sets
from .cache import job_key, protocol
from .console import runner_logs_to_files
from .variants import variant_configs

__all__ = ['EXTRA_METRICS', 'evaluate', 'run_job', 'train']

EXTRA_METRICS: Dict[str, Callable] = {}


def train(cfg: Config, work_dir: str, load_from: Optional[str], seed: int, iters: int) -> str:
    """Train once; a finished run's checkpoint is reused (the work dir's protocol is checked)."""
    ckpt = osp.join(work_dir, f'iter_{iters}.pth')
    if osp.isfile(ckpt):
        return ckpt
    cfg = copy.deepcopy(cfg)
    rescale_schedule(cfg, iters)
    cfg.train_cfg.val_interval = iters
    cfg.work_dir, cfg.load_from = work_dir, load_from
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.experiment_name = f'{osp.basename(work_dir)}_{time.time_ns()}'
    cfg.default_hooks.logger.interval = max(1, iters // 50)
    with runner_logs_to_files():
        Runner.from_cfg(cfg).train()
    return ckpt


def evaluate(cfg: Config, ckpt: str, posthoc, settings: dict, out_dir: str,
             progress: bool = True, captioning: Optional[dict] = None) -> tuple:
    """(metrics, extra metrics, captions file or None) of one model; captioned with the
    decoder options ``captioning`` (``center``, ``noise_std``) unless it is None."""
    model = init_model(cfg, ckpt, 'cuda' if torch.cuda.is_available() else 'cpu')
    embeds = embed_split(model, Runner.build_dataloader(cfg.test_dataloader), progress=progress,
                         desc='embed test')
    prototypes = model.class_prototypes().cpu() if model.zero_shot else None
    transform = build_posthoc(posthoc)
    if transform is not None:
        transform.fit(embeds['img'], embeds['text'])
    metrics = embedding_suite(embeds['img'], embeds['text'], embeds['labels'],
                              embeds['img_ids'], prototypes, posthoc=transform)
    metrics.update(score_extra_sets(model, cfg, transform, progress))
    captions_file = None
    if captioning is not None:
        with runner_logs_to_files():  # the caption decoder's training Runner
            scores = config_caption_scores(model, cfg, out_dir,
                                           decoder_iters=settings['decoder_iters'],
                                           num_train=settings['caption_train'],
                                           num_test=settings['caption_test'],
                                           meteor=False, progress=progress, **captioning)
        metrics.update(flat_caption_scores(scores))
        suffix = ''.join([('_centred' if captioning.get('center') else ''),
                          (f"_noise{captioning['noise_std']:g}" if captioning.get('noise_std')
                           else '')])
        captions_file = osp.join(out_dir, f"captions_{scores['cache_key']}{suffix}.json")
        atomic_write(captions_file, json_bytes(scores['captions']))
    extra = {}
    for name in settings.get('extra_metrics') or ():
        if name not in EXTRA_METRICS:
            raise KeyError(f'No extra metric {name!r}; known: {sorted(EXTRA_METRICS)}')
        extra.update(EXTRA_METRICS[name](model, cfg, embeds))
    return metrics, extra, captions_file


def run_job(job: dict) -> tuple:
    """Fine-tune (unless post-hoc) and evaluate one variant with one seed."""
    base = Config.fromfile(job['config'])
    init_default_scope(base.get('default_scope', 'tpc_cma_mm'))
    settings, name, seed = job['settings'], job['name'], job['seed']
    cfg, posthoc, alpha, captioning = variant_configs(base, settings)[name]
    slug = name.replace(' ', '_').replace('=', '')
    ckpt = job['original'] if cfg is None else train(
        cfg, osp.join(job['work_dir'], f'{slug}_seed{seed}'), job['original'], seed,
        settings['finetune_iters'])
    torch.manual_seed(seed)
    metrics, extra, captions_file = evaluate(
        cfg or base, ckpt, posthoc, settings, osp.join(job['work_dir'], 'captioning'),
        job.get('progress', True), captioning)
    return job_key(name, seed), dict(
        variant=name, seed=seed, alpha_target=alpha, protocol=protocol(settings),
        work_dir=None if cfg is None else osp.dirname(ckpt), metrics=metrics,
        extra_metrics=extra, captions_file=captions_file)
