"""The reproduction's scores on a config's extra sets: zero-shot benchmarks, joint clustering.

The sets are the config's ``val_cfg.extra_sets`` (what training validates,
``tpc_cma_mm/engine/runner/multi_val_loop.py``) plus those of the files named
in its ``reproduce.extra_set_files`` (sets too slow to validate during
training, such as COCO single-label clustering)::

    reproduce = dict(extra_set_files=['configs/_base_/datasets/coco_single-label.py'])

Paths are relative to the working directory, as ``load_from`` is. A set is
scored as validation scores it (its evaluator's prefix, ``topk``, seeds and
``n_init``), after the variant's post-hoc fix: the fix fitted on the test
split's pairs maps the set's image embeddings and its text side (prototypes or
captions), so "model + fix" is one model on every benchmark.
"""
from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner
from tqdm import tqdm

from tpc_cma_mm.datasets.zero_shot_classes import zero_shot_prompts
from tpc_cma_mm.evaluation.functional import zero_shot_accuracy
from tpc_cma_mm.registry import METRICS
from tpc_cma_mm.apis.embed import embed_split

__all__ = ['embed_extra_sets', 'extra_set_files', 'extra_sets', 'score_extra_sets']


def extra_set_files(cfg: Config) -> Sequence[str]:
    return list((cfg.get('reproduce') or {}).get('extra_set_files') or ())


def extra_sets(cfg: Config) -> Dict[str, dict]:
    """name -> ``dict(dataloader, evaluator, zero_shot=None)`` of every set to score."""
    sources = [(cfg.filename, cfg)] + [(path, Config.fromfile(path))
                                       for path in extra_set_files(cfg)]
    sets = {}
    for source, source_cfg in sources:
        for name, spec in ((source_cfg.get('val_cfg') or {}).get('extra_sets') or {}).items():
            if name in sets:
                raise ValueError(f'Extra set {name!r} of {source} is defined twice; give '
                                 'each set of reproduce.extra_set_files its own name.')
            sets[name] = spec
    return sets


@torch.no_grad()
def _embed_images(model, loader, progress: bool, desc: str):
    """Normalised image embeddings and labels of a classification set (no captions)."""
    model.eval()
    img, labels = [], []
    for batch in tqdm(loader, desc=desc, unit='batch', disable=not progress):
        packed = model.data_preprocessor(batch, False)
        img.append(F.normalize(model.encode_image(packed['inputs']), dim=-1).float().cpu())
        labels += [int(sample.gt_label[0]) for sample in packed['data_samples']]
    return torch.cat(img), torch.tensor(labels)


def _zero_shot(model, loader, spec: dict, progress: bool, name: str) -> dict:
    evaluator = spec['evaluator']
    if evaluator.get('type') not in ('ZeroShotAccuracy', 'Accuracy'):
        raise ValueError(f'Zero-shot set {name!r}: the reproduction scores it like '
                         f"ZeroShotAccuracy (topk), not {evaluator.get('type')!r}.")
    topk = evaluator.get('topk', (1, ))
    topk = (topk, ) if isinstance(topk, int) else tuple(topk)
    classes = loader.dataset.metainfo.get('classes')
    if not classes:
        raise ValueError(f"Zero-shot set {name!r}: its data set has no metainfo['classes'].")
    img, labels = _embed_images(model, loader, progress, f'embed {name}')
    saved = model.zero_shot
    model.set_zero_shot(*zero_shot_prompts(classes, **spec['zero_shot']))
    try:
        prototypes = model.class_prototypes().float().cpu()
    finally:
        model.zero_shot = saved
        model.invalidate_prototypes()
    return dict(prefix=evaluator['prefix'], img=img, prototypes=prototypes, labels=labels,
                topk=topk)


def _clustering(model, loader, spec: dict, progress: bool, name: str) -> dict:
    if spec['evaluator'].get('posthoc') is not None:
        raise ValueError(f'Extra set {name!r}: its evaluator has its own posthoc; the '
                         'reproduction applies each variant\'s fix itself. Remove it.')
    metric = METRICS.build(spec['evaluator'])
    metric.dataset_meta = loader.dataset.metainfo
    return dict(prefix=spec['evaluator']['prefix'], metric=metric,
                embeds=embed_split(model, loader, progress=progress, desc=f'embed {name}'))


def embed_extra_sets(model, cfg: Config, progress: bool = True) -> Dict[str, dict]:
    """The model's part of every extra set's scores, by set name: what
    :func:`score_extra_sets` scores after any post-hoc fix, so that the variants of one
    model embed each set once (:mod:`.embedded`)."""
    out = {}
    for name, spec in extra_sets(cfg).items():
        evaluator = spec.get('evaluator')
        if not isinstance(evaluator, dict) or not evaluator.get('prefix'):
            raise ValueError(f'Extra set {name!r} needs one evaluator dict with a prefix, '
                             f'got {evaluator!r}.')
        loader = Runner.build_dataloader(spec['dataloader'])
        if spec.get('zero_shot') is not None:
            out[name] = _zero_shot(model, loader, spec, progress, name)
        elif evaluator.get('type') == 'JointClusteringMetric':
            out[name] = _clustering(model, loader, spec, progress, name)
        else:
            raise ValueError(f'Extra set {name!r}: the reproduction scores zero-shot sets '
                             f"and JointClusteringMetric sets, not {evaluator.get('type')!r}.")
    return out


def score_extra_sets(embedded: Dict[str, dict], transform=None) -> dict:
    """``{prefix/key: value}`` of every set of :func:`embed_extra_sets`' ``embedded``;
    ``transform`` is a fitted post-hoc fix."""
    out = {}
    for data in embedded.values():
        if 'prototypes' in data:
            img, prototypes = data['img'], data['prototypes']
            if transform is not None:
                img, prototypes = transform.image(img), transform.text(prototypes)
            scores = zero_shot_accuracy(img, prototypes, data['labels'], data['topk'])
        else:
            embeds = data['embeds']
            img, text = embeds['img'], embeds['text']
            if transform is not None:
                img, text = transform.image(img), transform.text(text)
            scores = data['metric'].compute_embedding_metrics(img, text, embeds['img_ids'],
                                                              embeds['labels'])
        out.update({f'{data["prefix"]}/{key}': value for key, value in scores.items()})
    return out
