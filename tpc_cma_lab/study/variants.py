"""Configs of the study's runs, derived from one loaded pretraining and one fine-tuning config.

A run is a plain dict (a "spec"), so that the JSON of the results names
exactly what was trained; ``finetune_config`` and ``pretrain_config`` turn a
spec into an mmengine Config without writing config files.
"""
import copy
import math

from mmengine.config import Config

from tpc_cma_mm.apis.schedule import rescale_schedule

__all__ = ['SEEN_SHAPES', 'HELD_OUT_SHAPES', 'check_spec', 'finetune_config',
           'pretrain_config', 'spec_name']

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
        elif isinstance(value, list):
            plain = all(isinstance(v, PLAIN) for v in value)
        else:
            plain = isinstance(value, PLAIN)
        if not plain:
            raise ValueError(f'{where}: spec[{key!r}] = {value!r} is not a plain value '
                             '(numbers, strings or lists of them); a results file that '
                             'names anything else is refused.')
    return spec


def _train_only(cfg: Config) -> None:
    # The study evaluates every checkpoint itself (runs.evaluate_checkpoint).
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg.pop('val_interval', None)


def finetune_config(base: Config, spec: dict) -> Config:
    """The fine-tuning config of ``spec`` (keys: loss, alpha, iters, and optionally
    lr, batch, shapes, combine, squared, and for TPC probe_interval, phases)."""
    if spec['loss'] not in FINETUNE_LOSSES:
        raise ValueError(f'spec loss must be one of {FINETUNE_LOSSES}, got {spec["loss"]!r}')
    cfg = copy.deepcopy(base)
    hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] == 'TPCCurriculumHook']
    if not hooks:
        raise ValueError(f'{base.filename} has no TPCCurriculumHook; the study derives '
                         'every fine-tuning variant from a TPC-CMA config.')
    if spec['loss'] == 'tpc':
        hooks[0]['alpha_target'] = spec['alpha']
        for key in ('probe_interval', 'phases'):
            if key in spec:
                hooks[0][key] = tuple(spec[key]) if key == 'phases' else spec[key]
    else:
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'TPCCurriculumHook']
    if spec['loss'] == 'contrastive':
        cfg.model.cma_loss = None
    if spec['loss'] == 'const':
        cfg.model.alpha = spec['alpha']
    if 'squared' in spec:
        cfg.model.cma_loss['squared'] = spec['squared']
    # A spec without 'combine' was run with the convex form, the default of the fine-tuning
    # config at the time; named here so that the shipped config's default can change.
    cfg.model.combine = spec.get('combine', 'convex')
    if 'lr' in spec:
        cfg.optim_wrapper.optimizer.lr = spec['lr']
    if 'batch' in spec:
        cfg.train_dataloader.batch_size = spec['batch']
    if spec.get('shapes') is not None:
        cfg.train_dataloader.dataset.shapes = list(spec['shapes'])
    rescale_schedule(cfg, spec['iters'])
    _train_only(cfg)
    return cfg


def pretrain_config(base: Config, spec: dict, resnet_model: dict = None) -> Config:
    """The pretraining config of ``spec`` (keys: iters, and optionally temperature,
    keep_prob, tower='vit'|'resnet')."""
    cfg = copy.deepcopy(base)
    if 'temperature' in spec:
        cfg.model.logit_scale_init = math.log(1.0 / spec['temperature'])
    if 'keep_prob' in spec:
        cfg.train_dataloader.dataset.keep_prob = dict(spec['keep_prob'])
    if spec.get('tower', 'vit') == 'resnet':
        if resnet_model is None:
            raise ValueError('a ResNet-tower pretraining needs the ResNet model config '
                             '(tools/experiments.py --resnet-config).')
        for key in ('vision_backbone', 'vision_neck', 'projection'):
            cfg.model[key] = copy.deepcopy(resnet_model[key])
    rescale_schedule(cfg, spec['iters'])
    _train_only(cfg)
    return cfg


def spec_name(spec: dict) -> str:
    """A stable, readable key of one spec (used for the work dir and the JSON)."""
    def text(value):
        return '+'.join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    return ','.join(f'{k}={text(spec[k])}' for k in sorted(spec))
