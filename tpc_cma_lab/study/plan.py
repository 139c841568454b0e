"""The study's experiments as data, and a resumable runner that records each result as it goes.

A job is ``(kind, pretrained, spec)``: kind 'pretrain' (spec of a pretraining),
'finetune' (spec of a fine-tuning of the pretrained model named ``pretrained``),
'wise' (a WiSE-FT mix: the fine-tuning spec plus ``coefficient``) or 'posthoc'
(the pretrained model with ``dict(posthoc='MeanCentering' | 'GapShift')``).
Results go to one JSON file rewritten after every job, so a stopped study
resumes. With ``captioning`` (captions.PROTOCOL_KEYS), every job is also
captioned; an entry recorded without captions gets them on a rerun, from its
recorded checkpoints, without training again.
"""
import copy
import json
import os.path as osp
import time
from typing import Iterable, List, Tuple

from mmengine.config import Config

from tpc_cma_mm.utils import safe_torch_load
from tpc_cma_mm.apis.model import init_model
from tpc_cma_mm.apis.outputs import json_bytes
from tpc_cma_mm.utils.atomic_io import atomic_write
from .captions import caption_entry, check_protocol
from .runs import score_model, train_run
from .variants import SEEN_SHAPES, check_spec, finetune_config, pretrain_config, spec_name
from .wise_ft import interpolate_state_dicts

__all__ = ['EXPERIMENTS', 'POOL', 'POSTHOC_FIXES', 'Study', 'job_key']

FT = dict(iters=300, seed=0, shapes=SEEN_SHAPES)
BASE = 'vit'


def _ft(**kw) -> dict:
    return dict(FT, **kw)


def _pairs(pairs, **kw) -> List[dict]:
    return [_ft(loss=loss, alpha=alpha, **kw) for loss, alpha in pairs]


# Ordered by priority: on the shared 2-core CPU one fine-tuning takes 4-8 minutes.
EXPERIMENTS = dict(
    # 16.1: the compromise curve, one seed; WiSE-FT of the plain fine-tuning beside it.
    compromise=[('pretrain', None, dict(name=BASE, iters=1000, seed=0))]
    + [('finetune', BASE, s) for s in _pairs(
        [('contrastive', 0.0), ('const', 0.5), ('tpc', 0.5), ('const', 1.0), ('tpc', 1.0)])]
    + [('wise', BASE, dict(_ft(loss='contrastive', alpha=0.0), coefficient=c))
       for c in (0.25, 0.5, 0.75)],
    # 16.5: WiSE-FT of a CMA fine-tuning, the same curve traced in weight space.
    wise_cma=[('wise', BASE, dict(_ft(loss='const', alpha=0.5), coefficient=c))
              for c in (0.25, 0.5, 0.75)],
    # 16.4: where constant alpha destabilises (batch 32; 10x learning rate).
    regime=[('finetune', BASE, s) for extra in (dict(batch=32), dict(lr=2e-3))
            for s in _pairs([('const', 1.0), ('tpc', 1.0), ('contrastive', 0.0)], **extra)],
    alphas=[('finetune', BASE, s) for s in _pairs([('const', 0.2), ('tpc', 0.2)])],
    seeds=[('finetune', BASE, s) for s in _pairs([('const', 0.5), ('tpc', 0.5)], seed=1)],
    # 16.4: squared terms (the default) against distances; the three combinations of the
    # two losses, and whether alpha means the same at batch 32 and 256 under each.
    form=[('finetune', BASE, s) for s in _pairs([('const', 0.5)], squared=False)
          + _pairs([('const', 0.5)], combine='grad_share')
          + _pairs([('const', 0.5)], combine='additive')
          + _pairs([('const', 0.5)], combine='grad_share', batch=32)
          + _pairs([('const', 0.5)], batch=32)],
    # 16.4: phase lengths (anchor, ramp, consolidate) at alpha_target 1.0; default (0.1, 0.5, 0.4).
    phases=[('finetune', BASE, s) for p in ((0.0, 0.2, 0.8), (0.2, 0.7, 0.1))
            for s in _pairs([('tpc', 1.0)], phases=p)],
    budget=[('finetune', BASE, s) for s in _pairs([('tpc', 0.5), ('tpc', 1.0)], iters=1200)],
    # 16.4: the gradient-share combination's alpha range (0.5 already closes 96 %), with the
    # curriculum and without, and whether it transfers to batch 32 with the curriculum.
    grad_share=[('finetune', BASE, s) for s in
                _pairs([('const', 0.05), ('const', 0.1), ('const', 0.2), ('const', 0.3),
                        ('tpc', 0.1), ('tpc', 0.3), ('tpc', 1.0)], combine='grad_share')
                + _pairs([('tpc', 0.3), ('tpc', 1.0)], combine='grad_share', batch=32)],
)
# 16.2: differently pretrained models (temperature, caption attribute rate, length, seed,
# image tower), each fine-tuned two ways, so that the gap keys vary independently;
# its 400/700/1000-iteration models also say how long the quick mode must pretrain (16.6).
FULL_CAPTIONS = dict(shape=1.0, colour=1.0, size=1.0, position=1.0)
SPARSE_CAPTIONS = dict(shape=0.5, colour=0.25, size=0.25, position=0.25)
RESNET = dict(name='resnet', iters=1000, seed=0, tower='resnet')
POOL = [dict(name=f'vit-seed{s}', iters=1000, seed=s) for s in (1, 2, 3)] + [
    dict(name=f'vit-t{t}', iters=1000, seed=0, temperature=t) for t in (0.02, 0.03, 0.07)] + [
    dict(name='vit-full-captions', iters=1000, seed=0, keep_prob=FULL_CAPTIONS),
    dict(name='vit-sparse-captions', iters=1000, seed=0, keep_prob=SPARSE_CAPTIONS),
    dict(name='vit-400i', iters=400, seed=0), dict(name='vit-700i', iters=700, seed=0),
    # Two factors at once, so that they do not vary only one at a time (a second ResNet,
    # 20 minutes of pretraining on this CPU, did not fit; docs/method.md).
    dict(name='vit-sparse-t0.03', iters=1000, seed=0, temperature=0.03,
         keep_prob=SPARSE_CAPTIONS),
    RESNET]
# 16.4's criterion on the other tower: does the same alpha close the same gap on a ResNet?
# Ordered by what the combination decision needs first (a ResNet fine-tuning takes about
# 8 minutes here); constant alpha 0.5 is also a pool run, shared with the pool's work dir.
EXPERIMENTS['tower'] = [('pretrain', None, RESNET)] + [('finetune', 'resnet', s) for s in (
    _pairs([('tpc', 1.0)])
    + _pairs([('tpc', 1.0), ('tpc', 0.3), ('const', 0.5)], combine='grad_share')
    + _pairs([('tpc', 0.5), ('const', 0.5)]) + _pairs([('const', 0.1)], combine='grad_share'))]
POSTHOC_FIXES = ('MeanCentering', 'GapShift')
EXPERIMENTS['pool'] = [job for spec in POOL for job in (
    [('pretrain', None, spec)] + [('finetune', spec['name'], s) for s in _pairs(
        [('contrastive', 0.0), ('const', 0.5)])]
    + [('posthoc', spec['name'], dict(posthoc=fix)) for fix in POSTHOC_FIXES])]


def job_key(kind: str, pretrained, spec: dict) -> str:
    return f'{kind} | {pretrained} | {spec_name(spec)}'


class Study:
    """Runs jobs against one work dir and one results file (``results/experiments/*.json``)."""

    def __init__(self, pretrain_cfg: Config, finetune_cfg: Config, work_dir: str,
                 results_file: str, resnet_model: dict = None, captioning: dict = None):
        self.pretrain_cfg, self.finetune_cfg = pretrain_cfg, finetune_cfg
        self.resnet_model, self.work_dir, self.results_file = resnet_model, work_dir, results_file
        self.captioning = None if captioning is None else check_protocol(captioning)
        self.results = json.load(open(results_file)) if osp.isfile(results_file) else {}
        for key, entry in self.results.items():  # before anything is built from them
            check_spec(entry.get('spec') if isinstance(entry, dict) else entry,
                       f'{results_file}, entry {key!r}')

    def _save(self) -> None:
        atomic_write(self.results_file, json_bytes(self.results))  # a stop never loses it

    def _original(self, name: str) -> dict:
        entry = self.results.get(f'pretrain | None | {name}')
        if entry is None:
            raise KeyError(f'pretrained model {name!r} is not in {self.results_file}: '
                           'run its pretraining job first.')
        return entry

    def pretrained(self, name: str) -> Tuple[str, dict]:
        """The checkpoint and model config of pretrained model ``name``."""
        entry = self._original(name)
        return entry['checkpoint'], self._pretrain_cfg(entry).model

    def _pretrain_cfg(self, entry: dict) -> Config:
        """The config of a recorded pretraining, rebuilt from the shipped configs and its
        spec: config text in a results file is never built. A ``model_cfg`` that older
        files record beside the spec is compared with the rebuilt model and refused if
        they differ (docs/reliability.md)."""
        cfg = pretrain_config(self.pretrain_cfg, entry['spec'], self.resnet_model)
        recorded = entry.get('model_cfg')
        if recorded is not None:
            rebuilt = json.loads(json.dumps(cfg.model.to_dict()))
            differ = sorted(k for k in set(rebuilt) | set(recorded)
                            if rebuilt.get(k) != recorded.get(k)) \
                if isinstance(recorded, dict) else ['model_cfg']
            if differ:
                raise ValueError(
                    f'{self.results_file}: the model_cfg recorded for pretrained model '
                    f'{entry["spec"].get("name")!r} differs in {differ} from the model '
                    'rebuilt from --pretrain-config / --resnet-config and its spec; model '
                    'configs are never taken from a results file. Give the configs it was '
                    "trained with, or delete the entry's 'model_cfg' to use these.")
        return cfg

    def run(self, jobs: Iterable[tuple]) -> None:
        jobs = list(jobs)
        for done, (kind, pretrained, spec) in enumerate(jobs, 1):
            key = f'pretrain | None | {spec["name"]}' if kind == 'pretrain' else \
                job_key(kind, pretrained, spec)
            if key not in self.results:
                start = time.time()
                entry = getattr(self, f'_{kind}')(pretrained, spec)
                entry.update(kind=kind, pretrained=pretrained, spec=spec,
                             minutes=(time.time() - start) / 60)
                self.results[key] = entry
                self._save()
                print(f'[{done}/{len(jobs)}] {key}: {entry["minutes"]:.1f} min', flush=True)
            if self.captioning is not None:
                self._caption(key)

    def _caption(self, key: str) -> None:
        if caption_entry(key, self.results[key], self._model, self.finetune_cfg,
                         self.captioning, osp.join(self.work_dir, 'captioning')):
            self._save()

    def _model(self, entry: dict):
        """The model of a recorded entry, rebuilt from its checkpoint(s)."""
        kind, pretrained, spec = entry['kind'], entry['pretrained'], entry['spec']
        if kind == 'posthoc':
            return self._model(self._original(pretrained))
        if kind == 'wise':
            return self._wise_model(pretrained, spec)[0]
        cfg = self._pretrain_cfg(entry) if kind == 'pretrain' else \
            self._model_cfg(pretrained, spec)
        return init_model(cfg, entry['checkpoint'])

    def _pretrain(self, _, spec: dict) -> dict:
        cfg = pretrain_config(self.pretrain_cfg, spec, self.resnet_model)
        ckpt, record = train_run(cfg, osp.join(self.work_dir, 'pretrain', spec['name']),
                                 None, spec['seed'])
        return dict(checkpoint=ckpt, train=record,
                    metrics=score_model(init_model(cfg, ckpt), cfg))

    def _posthoc(self, pretrained: str, spec: dict) -> dict:
        if set(spec) != {'posthoc'}:
            raise ValueError(f"a posthoc job's spec is dict(posthoc=NAME), got {spec}")
        original = self._original(pretrained)
        # Scored on the same config, so the same test split, as the pretrained entry.
        cfg = self._pretrain_cfg(original)
        return dict(metrics=score_model(self._model(original), cfg, spec['posthoc']))

    def _model_cfg(self, pretrained: str, spec: dict) -> Config:
        cfg = finetune_config(self.finetune_cfg, spec)
        for key, value in self.pretrained(pretrained)[1].items():
            # Replaced, not merged: ConfigDict.update would merge a ResNet tower's
            # keys into the fine-tuning config's ViT tower.
            if key in ('vision_backbone', 'vision_neck', 'projection', 'logit_scale_init'):
                cfg.model[key] = copy.deepcopy(value)
        return cfg

    def _finetune(self, pretrained: str, spec: dict) -> dict:
        cfg = self._model_cfg(pretrained, spec)
        ckpt, record = train_run(cfg, osp.join(self.work_dir, pretrained, spec_name(spec)),
                                 self.pretrained(pretrained)[0], spec['seed'])
        return dict(checkpoint=ckpt, train=record,
                    metrics=score_model(init_model(cfg, ckpt), cfg))

    def _wise_model(self, pretrained: str, spec: dict) -> tuple:
        ft_spec = {k: v for k, v in spec.items() if k != 'coefficient'}
        finetuned = self.results.get(job_key('finetune', pretrained, ft_spec))
        if finetuned is None:
            raise KeyError(f'WiSE-FT of {spec_name(ft_spec)} needs that fine-tuning first.')
        cfg = self._model_cfg(pretrained, ft_spec)
        model = init_model(cfg, finetuned['checkpoint'])
        states = [safe_torch_load(p) for p in (self.pretrained(pretrained)[0],
                                               finetuned['checkpoint'])]
        states = [s.get('state_dict', s) for s in states]
        model.load_state_dict(interpolate_state_dicts(*states, spec['coefficient']))
        model.invalidate_prototypes()
        return model.eval(), cfg

    def _wise(self, pretrained: str, spec: dict) -> dict:
        return dict(metrics=score_model(*self._wise_model(pretrained, spec)))
