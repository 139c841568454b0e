"""The study's experiments as data: typed jobs, grouped and ordered by priority.

A :class:`StudyJob` is ``(kind, pretrained, spec)``: kind 'pretrain' (spec of a
pretraining), 'finetune' (spec of a fine-tuning of the pretrained model named
``pretrained``), 'wise' (a WiSE-FT mix: the fine-tuning spec plus
``coefficient``) or 'posthoc' (the pretrained model with
``dict(posthoc='MeanCentering' | 'GapShift')``); its ``key`` names its entry in
the results file. :class:`~.study.Study` runs them.
"""
from dataclasses import dataclass
from typing import List, Optional

from .variants import SEEN_SHAPES, check_spec, spec_name

__all__ = ['EXPERIMENTS', 'KINDS', 'POOL', 'POSTHOC_FIXES', 'StudyJob', 'job_key']

KINDS = ('pretrain', 'finetune', 'wise', 'posthoc')


def job_key(kind: str, pretrained, spec: dict) -> str:
    """The key of a job's entry in the results file."""
    if kind == 'pretrain':
        return f'pretrain | None | {spec["name"]}'
    return f'{kind} | {pretrained} | {spec_name(spec)}'


@dataclass(frozen=True)
class StudyJob:
    """One job of the study (see the module's docstring); refused at construction if its
    kind is unknown, a pretraining names a pretrained model or another job none, or its
    spec holds anything but plain values."""
    kind: str
    pretrained: Optional[str]
    spec: dict

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f'a study job kind is one of {KINDS}, got {self.kind!r}')
        if (self.kind == 'pretrain') != (self.pretrained is None):
            raise ValueError(f'a {self.kind} job names {"no" if self.kind == "pretrain" else "a"}'
                             f' pretrained model, got {self.pretrained!r}')
        check_spec(self.spec, f'{self.kind} job of {self.pretrained}')

    @property
    def key(self) -> str:
        return job_key(self.kind, self.pretrained, self.spec)

FT = dict(iters=300, seed=0, shapes=SEEN_SHAPES)
BASE = 'vit'


def _ft(**kw) -> dict:
    return dict(FT, **kw)


def _pairs(pairs, **kw) -> List[dict]:
    return [_ft(loss=loss, alpha=alpha, **kw) for loss, alpha in pairs]


BUDGETS = (300, 1200, 3000)

# Ordered by priority: on the shared 2-core CPU one fine-tuning takes 4-8 minutes.
EXPERIMENTS = dict(
    # 16.1: the compromise curve, one seed; WiSE-FT of the plain fine-tuning beside it.
    compromise=[StudyJob('pretrain', None, dict(name=BASE, iters=1000, seed=0))]
    + [StudyJob('finetune', BASE, s) for s in _pairs(
        [('contrastive', 0.0), ('const', 0.5), ('tpc', 0.5), ('const', 1.0), ('tpc', 1.0)])]
    + [StudyJob('wise', BASE, dict(_ft(loss='contrastive', alpha=0.0), coefficient=c))
       for c in (0.25, 0.5, 0.75)],
    # 16.5: WiSE-FT of a CMA fine-tuning, the same curve traced in weight space.
    wise_cma=[StudyJob('wise', BASE, dict(_ft(loss='const', alpha=0.5), coefficient=c))
              for c in (0.25, 0.5, 0.75)],
    # 16.4: where constant alpha destabilises (batch 32; 10x learning rate).
    regime=[StudyJob('finetune', BASE, s) for extra in (dict(batch=32), dict(lr=2e-3))
            for s in _pairs([('const', 1.0), ('tpc', 1.0), ('contrastive', 0.0)], **extra)],
    alphas=[StudyJob('finetune', BASE, s) for s in _pairs([('const', 0.2), ('tpc', 0.2)])],
    seeds=[StudyJob('finetune', BASE, s) for s in _pairs([('const', 0.5), ('tpc', 0.5)], seed=1)],
    # 16.4: squared terms (the default) against distances; the three combinations of the
    # two losses, and whether alpha means the same at batch 32 and 256 under each.
    form=[StudyJob('finetune', BASE, s) for s in _pairs([('const', 0.5)], squared=False)
          + _pairs([('const', 0.5)], combine='grad_share')
          + _pairs([('const', 0.5)], combine='additive')
          + _pairs([('const', 0.5)], combine='grad_share', batch=32)
          + _pairs([('const', 0.5)], batch=32)],
    # 16.4: phase lengths (anchor, ramp, consolidate) at alpha_target 1.0; default (0.1, 0.5, 0.4).
    phases=[StudyJob('finetune', BASE, s) for p in ((0.0, 0.2, 0.8), (0.2, 0.7, 0.1))
            for s in _pairs([('tpc', 1.0)], phases=p)],
    budget=[StudyJob('finetune', BASE, s) for s in _pairs([('tpc', 0.5), ('tpc', 1.0)], iters=1200)],
    # The paper's alpha_target 0.05 in the shipped configs' form at 300 / 1,200 / 3,000
    # iterations beside contrastive fine-tuning at the same budgets, seed 0; seeds 1 and 2
    # in a group of their own, so that two processes can share the work dir (each trains
    # only its own runs): is the paper's -66.6 % a budget effect (docs/method.md, "Budget at
    # the paper's alpha")?
    budget_alpha=[StudyJob('pretrain', None, dict(name=BASE, iters=1000, seed=0))] + [
        StudyJob('finetune', BASE, s) for iters in BUDGETS for s in
        _pairs([('contrastive', 0.0)], iters=iters)
        + _pairs([('tpc', 0.05)], combine='grad_share', iters=iters)],
    budget_alpha_seeds=[StudyJob('pretrain', None, dict(name=BASE, iters=1000, seed=0))] + [
        StudyJob('finetune', BASE, s) for iters in BUDGETS for seed in (1, 2)
        for s in _pairs([('tpc', 0.05)], combine='grad_share', iters=iters, seed=seed)],
    # 16.4: the gradient-share combination's alpha range (0.5 already closes 96 %), with the
    # curriculum and without, and whether it transfers to batch 32 with the curriculum.
    grad_share=[StudyJob('finetune', BASE, s) for s in
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
EXPERIMENTS['tower'] = [StudyJob('pretrain', None, RESNET)] + [
    StudyJob('finetune', 'resnet', s) for s in (
    _pairs([('tpc', 1.0)])
    + _pairs([('tpc', 1.0), ('tpc', 0.3), ('const', 0.5)], combine='grad_share')
    + _pairs([('tpc', 0.5), ('const', 0.5)]) + _pairs([('const', 0.1)], combine='grad_share'))]
POSTHOC_FIXES = ('MeanCentering', 'GapShift')
EXPERIMENTS['pool'] = [job for spec in POOL for job in (
    [StudyJob('pretrain', None, spec)] + [StudyJob('finetune', spec['name'], s) for s in _pairs(
        [('contrastive', 0.0), ('const', 0.5)])]
    + [StudyJob('posthoc', spec['name'], dict(posthoc=fix)) for fix in POSTHOC_FIXES])]

