"""One job of the reproduction: fine-tune a variant (unless post-hoc) and score it.

A job is a :class:`Job`, plain data that crosses to a spawned worker process::

    Job(config='configs/tpc_cma/...py', work_dir='work_dirs/reproduce_quick',
        settings=dict(...), original='.../iter_1000.pth', variant='TPC-CMA alpha=0.5', seed=0)

Every run is trained by the lab's engine (``tpc_cma_lab.engine.train``, at
``settings['threads']``) and scored on the test split (gap keys, retrieval,
clustering and zero-shot where the split has labels and the model classes,
captioning) and on the config's extra sets (:mod:`.benchmarks`: zero-shot
benchmarks, COCO single-label clustering), each after the variant's post-hoc
fix. The decoder is ``reproduce.decoder_config`` of the config (default: the
tiny one), trained anew per model; the decoded captions are kept in ``captions_file``.

Held-out classes: with ``reproduce.held_out_classes`` in the config, every
variant fine-tunes on the other classes only (the shape generator's
``shapes``) and zero-shot is also scored on the held-out classes' images,
which fine-tuning never saw: the report's accuracy axis (docs/results.md,
"Held-out accuracy")::

    reproduce = dict(held_out_classes=['square', 'diamond', 'star', 'ring'])

Extra metrics: ``EXTRA_METRICS`` maps a name to ``fn(model, cfg, embeds) -> dict``
(``embeds`` as :func:`~tpc_cma_mm.apis.embed_split` returns them); the names in
``settings['extra_metrics']`` are computed for every run and kept in the run's
``extra_metrics``, which the report's table and JSON pass through as columns.
Expressiveness probes plug in there. The functions get the raw embeddings: a
post-hoc variant's fix (fitted in :func:`evaluate`) is not applied to them.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tpc_cma_mm.apis.captioning import config_caption_scores, flat_caption_scores
from tpc_cma_mm.apis.fingerprint import config_digest
from tpc_cma_mm.apis.outputs import json_bytes
from tpc_cma_mm.utils.atomic_io import atomic_write
from ..engine import (Run, run_config, runner_logs_to_files, score_test_split, set_threads,
                      train)
from .benchmarks import score_extra_sets
from .cache import protocol
from .embedded import embedded, release
from .variants import Variant, variants

__all__ = ['EXTRA_METRICS', 'Job', 'evaluate', 'held_out_classes', 'run_job',
           'seen_classes_option', 'variant_run']

EXTRA_METRICS: Dict[str, Callable] = {}


@dataclass(frozen=True)
class Job:
    """One variant with one seed; ``progress`` shows progress bars (off in pool workers)."""
    config: str
    work_dir: str
    settings: dict
    original: str
    variant: str
    seed: int
    progress: bool = True

    @staticmethod
    def key_of(variant: str, seed: int) -> str:
        """The key in ``results.json`` of ``variant`` with ``seed``."""
        return f'{variant} | seed {seed}'

    @property
    def key(self) -> str:
        return self.key_of(self.variant, self.seed)


def held_out_classes(cfg: Config) -> List[str]:
    """The config's ``reproduce.held_out_classes`` (empty: none held out)."""
    return list((cfg.get('reproduce') or {}).get('held_out_classes') or ())


def seen_classes_option(cfg: Config) -> dict:
    """The training-set option that leaves the held-out classes out of fine-tuning."""
    held_out = held_out_classes(cfg)
    if not held_out:
        return {}
    dataset = cfg.train_dataloader.dataset
    if str(dataset.get('type', '')).rsplit('.', 1)[-1] != 'ShapeCaptions':
        raise ValueError(
            f'reproduce.held_out_classes needs a training set that can leave classes out '
            f'(ShapeCaptions\' shapes); this config trains on {dataset.get("type")!r}. '
            'Remove reproduce.held_out_classes, or score held-out sets through '
            'reproduce.extra_set_files instead.')
    classnames = list(cfg.model.zero_shot['classnames'])
    return {'train_dataloader.dataset.shapes': [c for c in classnames if c not in held_out]}


def variant_run(job: Job, base: Config, variant: Variant) -> Run:
    """The training run of a fine-tuned variant: the method config from the original model,
    on the classes the config does not hold out."""
    slug = variant.name.replace(' ', '_').replace('=', '')
    return Run(config=job.config, config_digest=config_digest(base),
               work_dir=osp.join(job.work_dir, f'{slug}_seed{job.seed}'), seed=job.seed,
               iters=job.settings['finetune_iters'], load_from=job.original,
               options={**seen_classes_option(base), **variant.options},
               curriculum=variant.curriculum,
               threads=job.settings['threads'])


def evaluate(cfg: Config, ckpt: str, posthoc, settings: dict, out_dir: str,
             progress: bool = True, captioning: Optional[dict] = None,
             keep: bool = False, caption_cfg: Optional[Config] = None) -> tuple:
    """(metrics, extra metrics, captions file or None) of one model; captioned with the
    decoder options ``captioning`` (``center``, ``noise_std``) unless it is None, the decoder
    learning from ``caption_cfg``'s training captions (default: ``cfg``'s); ``keep``: the
    model and its embeddings serve the next call for it (:mod:`.embedded`)."""
    model, test, sets = embedded(cfg, ckpt, progress, keep)
    metrics, transform, embeds, _ = score_test_split(model, cfg, posthoc, progress,
                                                     held_out_classes(cfg), test)
    metrics.update(score_extra_sets(sets, transform))
    captions_file = None
    if captioning is not None:
        with runner_logs_to_files():  # the caption decoder's training Runner
            scores = config_caption_scores(model, caption_cfg or cfg, out_dir,
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


def run_job(job: Job) -> tuple:
    """Fine-tune (unless post-hoc) and evaluate one variant with one seed, at the
    reproduction's thread count whichever process runs it."""
    set_threads(job.settings['threads'])
    base = Config.fromfile(job.config)
    init_default_scope(base.get('default_scope', 'tpc_cma_mm'))
    variant = variants(job.settings)[job.variant]
    cfg, ckpt = base, job.original
    if variant.trained:
        release()  # the original model kept by the untrained variants: training needs the memory
        run = variant_run(job, base, variant)
        ckpt, _ = train(run, base)
        cfg = run_config(run, base)
    torch.manual_seed(job.seed)
    # Every row's caption decoder learns from the method config's training captions, all
    # classes, whatever classes the row fine-tuned on: the decoder is the same for every row.
    metrics, extra, captions_file = evaluate(
        cfg, ckpt, variant.posthoc, job.settings, osp.join(job.work_dir, 'captioning'),
        job.progress, None if variant.captioning is None else dict(variant.captioning),
        keep=not variant.trained, caption_cfg=base)
    return job.key, dict(
        variant=variant.name, seed=job.seed, alpha_target=variant.alpha_target,
        section=variant.section, tower=variant.tower, gap_target=variant.gap_target,
        protocol=protocol(job.settings), work_dir=osp.dirname(ckpt) if variant.trained else None,
        metrics=metrics, extra_metrics=extra, captions_file=captions_file)
