"""Configs of the study's runs, derived from one loaded pretraining and one fine-tuning config.

A run is a plain dict (a "spec"), so that the JSON of the results names
exactly what was trained; ``finetune_run`` and ``pretrain_run`` turn a spec
into the engine's :class:`~tpc_cma_lab.engine.Run` (trained without
validation: the study scores every checkpoint itself), ``finetune_config`` and
``pretrain_config`` into the config that run trains.
"""
import math
from typing import Optional

from mmengine.config import Config

from tpc_cma_mm.apis.fingerprint import config_digest
from ..engine import Run, curriculum_hook, run_config

__all__ = ['SEEN_SHAPES', 'HELD_OUT_SHAPES', 'check_spec', 'finetune_config', 'finetune_run',
           'pretrain_config', 'pretrain_run', 'spec_name']

# Fine-tuning sees half the shapes; zero-shot on the other half measures what
# fine-tuning costs the pretrained model's generality (docs/method.md, "Experiments").
SEEN_SHAPES = ('circle', 'triangle', 'cross', 'hexagon')
HELD_OUT_SHAPES = ('square', 'diamond', 'star', 'ring')
FINETUNE_LOSSES = ('contrastive', 'const', 'tpc')
# Every key a spec may have (pretraining, fine-tuning, WiSE-FT and post-hoc jobs).
SPEC_KEYS = ('name', 'iters', 'seed', 'temperature', 'keep_prob', 'tower', 'loss', 'alpha',
             'lr', 'batch', 'shapes', 'combine', 'squared', 'probe_interval', 'phases',
             'coefficient', 'posthoc')
PLAIN = (str, int, float, bool, type(None))
# What a ResNet-tower pretraining takes from the ResNet config, and a fine-tuning from the
# model it starts from (its temperature too).
RESNET_TOWER_KEYS = ('vision_backbone', 'vision_neck', 'projection')
PRETRAINED_MODEL_KEYS = RESNET_TOWER_KEYS + ('logit_scale_init', )


def check_spec(spec, where: str) -> dict:
    """``spec`` if it holds only known keys with plain values (numbers, strings,
    lists of them; ``keep_prob`` maps attribute names to numbers), else ValueError
    naming ``where``. A results file names what was trained, never code: nothing
    read from one may carry a registry ``type`` (docs/reliability.md)."""
    if not isinstance(spec, dict):
        raise ValueError(f'{where}: a spec is a dict, got {type(spec).__name__}')
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f'{where}: unknown spec keys {unknown}; a spec has only {SPEC_KEYS}')
    for key, value in spec.items():
        if key == 'keep_prob' and isinstance(value, dict):
            plain = all(isinstance(k, str) and isinstance(v, (int, float))
                        for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            plain = all(isinstance(v, PLAIN) for v in value)
        else:
            plain = isinstance(value, PLAIN)
        if not plain:
            raise ValueError(f'{where}: spec[{key!r}] = {value!r} is not a plain value '
                             '(numbers, strings or lists of them); a results file that '
                             'names anything else is refused.')
    return spec


def _replaced_model_keys(model: dict, keys) -> dict:
    # Replaced, not merged: a ResNet tower's keys merged into a ViT config's tower
    # would build neither.
    model = model.to_dict() if hasattr(model, 'to_dict') else dict(model)
    return {f'model.{key}': model[key] for key in keys if key in model}


def finetune_run(base: Config, spec: dict, work_dir: str, load_from: Optional[str] = None,
                 pretrained_model: Optional[dict] = None, threads: int = 1) -> Run:
    """The fine-tuning run of ``spec`` (keys: loss, alpha, iters, seed, and optionally lr,
    batch, shapes, combine, squared, and for TPC probe_interval, phases) from
    ``load_from``, with the tower of ``pretrained_model`` (a model config) if given."""
    if spec['loss'] not in FINETUNE_LOSSES:
        raise ValueError(f'spec loss must be one of {FINETUNE_LOSSES}, got {spec["loss"]!r}')
    curriculum_hook(base)  # every fine-tuning variant derives from a TPC-CMA config
    options = {}
    curriculum = None
    if spec['loss'] == 'tpc':
        curriculum = dict(alpha_target=spec['alpha'])
        for key in ('probe_interval', 'phases'):
            if key in spec:
                curriculum[key] = tuple(spec[key]) if key == 'phases' else spec[key]
    if spec['loss'] == 'contrastive':
        options['model.cma_loss'] = None
    if spec['loss'] == 'const':
        options['model.alpha'] = spec['alpha']
    if 'squared' in spec:
        options['model.cma_loss.squared'] = spec['squared']
    # A spec without 'combine' was run with the convex form, the default of the fine-tuning
    # config at the time; named here so that the shipped config's default can change.
    options['model.combine'] = spec.get('combine', 'convex')
    for key, option in (('lr', 'optim_wrapper.optimizer.lr'),
                        ('batch', 'train_dataloader.batch_size')):
        if key in spec:
            options[option] = spec[key]
    if spec.get('shapes') is not None:
        options['train_dataloader.dataset.shapes'] = list(spec['shapes'])
    if pretrained_model is not None:
        options.update(_replaced_model_keys(pretrained_model, PRETRAINED_MODEL_KEYS))
    return Run(config=base.filename, config_digest=config_digest(base), work_dir=work_dir,
               seed=spec.get('seed', 0), iters=spec['iters'], load_from=load_from,
               options=options, curriculum=curriculum, validate=False, threads=threads)


def pretrain_run(base: Config, spec: dict, work_dir: str, resnet_model: dict = None,
                 threads: int = 1) -> Run:
    """The pretraining run of ``spec`` (keys: iters, seed, and optionally temperature,
    keep_prob, tower='vit'|'resnet')."""
    options = {}
    if 'temperature' in spec:
        options['model.logit_scale_init'] = math.log(1.0 / spec['temperature'])
    if 'keep_prob' in spec:
        options['train_dataloader.dataset.keep_prob'] = dict(spec['keep_prob'])
    if spec.get('tower', 'vit') == 'resnet':
        if resnet_model is None:
            raise ValueError('a ResNet-tower pretraining needs the ResNet model config '
                             '(tools/experiments.py --resnet-config).')
        options.update(_replaced_model_keys(resnet_model, RESNET_TOWER_KEYS))
    return Run(config=base.filename, config_digest=config_digest(base), work_dir=work_dir,
               seed=spec.get('seed', 0), iters=spec['iters'], options=options, validate=False,
               threads=threads)


def finetune_config(base: Config, spec: dict) -> Config:
    """The config a fine-tuning of ``spec`` trains (see :func:`finetune_run`)."""
    return run_config(finetune_run(base, spec, work_dir=''), base)


def pretrain_config(base: Config, spec: dict, resnet_model: dict = None) -> Config:
    """The config a pretraining of ``spec`` trains (see :func:`pretrain_run`)."""
    return run_config(pretrain_run(base, spec, work_dir='', resnet_model=resnet_model), base)


def spec_name(spec: dict) -> str:
    """A stable, readable key of one spec (used for the work dir and the JSON)."""
    def text(value):
        return '+'.join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    return ','.join(f'{k}={text(spec[k])}' for k in sorted(spec))
