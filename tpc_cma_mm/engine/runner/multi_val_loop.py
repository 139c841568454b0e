"""A validation loop over the main val set and extra sets, each with its own metric prefix."""
from typing import Dict, List, Optional

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import ValLoop
from mmengine.runner.amp import autocast

from tpc_cma_mm.datasets.zero_shot_classes import zero_shot_prompts
from tpc_cma_mm.registry import LOOPS

__all__ = ['MultiValLoop']


@LOOPS.register_module()
class MultiValLoop(ValLoop):
    """``ValLoop`` on ``val_dataloader``, then on every set of ``extra_sets``.

    Each extra set has a dataloader, an evaluator whose metrics carry the set's
    own prefix, and optionally ``zero_shot`` prompts: the model then classifies
    into the set's ``metainfo['classes']`` in label order (names matched with a
    shipped vocabulary, see ``tpc_cma_mm.datasets.zero_shot_classes``) and its
    previous zero-shot classes are restored afterwards. The metrics of all sets
    are logged together, so checkpoints' ``save_best`` and the curves see them
    all. The loop keeps no state across calls (nothing to resume); dataloaders
    get the Runner's distributed samplers and evaluators gather across ranks.
    Per-iteration hooks run for the main set only.

    Example config (COCO retrieval and gaps, plus CIFAR-10 zero-shot)::

        val_cfg = dict(type='MultiValLoop', extra_sets=dict(cifar10=dict(
            dataloader=dict(batch_size=256, num_workers=8,
                            sampler=dict(type='DefaultSampler', shuffle=False),
                            dataset=dict(type='SafeCIFAR10', data_root='data/cifar10',
                                         split='test', pipeline=[...])),
            evaluator=dict(type='Accuracy', topk=(1, 5), thrs=None,
                           prefix='zero_shot_cifar10'),
            zero_shot=dict(benchmark='cifar10'))))

    Args:
        extra_sets (dict): ``{name: dict(dataloader, evaluator, zero_shot=None)}``;
            ``zero_shot`` holds the arguments of ``zero_shot_prompts``.
    """

    def __init__(self, runner, dataloader, evaluator, extra_sets: Optional[Dict] = None,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self.extra_sets: List[dict] = []
        for name, cfg in (extra_sets or {}).items():
            unknown = set(cfg) - {'dataloader', 'evaluator', 'zero_shot'}
            if unknown or 'dataloader' not in cfg or 'evaluator' not in cfg:
                raise ValueError(f'MultiValLoop extra set {name!r} needs dataloader and '
                                 f'evaluator (and optionally zero_shot); got {sorted(cfg)}.')
            loader = runner.build_dataloader(cfg['dataloader'], seed=runner.seed)
            set_evaluator = runner.build_evaluator(cfg['evaluator'])
            set_evaluator.dataset_meta = loader.dataset.metainfo
            prompts = None
            if cfg.get('zero_shot') is not None:
                classes = loader.dataset.metainfo.get('classes')
                if not classes:
                    raise ValueError(f'Zero-shot set {name!r}: its data set has no '
                                     "metainfo['classes'] to take the class names from.")
                prompts = zero_shot_prompts(classes, **cfg['zero_shot'])
            self.extra_sets.append(dict(name=name, dataloader=loader,
                                        evaluator=set_evaluator, prompts=prompts))

    def run(self) -> dict:
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        self.val_loss.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        for extra in self.extra_sets:
            extra_metrics = self._evaluate_extra(extra)
            clash = set(extra_metrics) & set(metrics)
            if clash:
                raise ValueError(f'Extra set {extra["name"]!r} logs {sorted(clash)}, which '
                                 'another set logs too: give its metric a distinct prefix.')
            metrics.update(extra_metrics)
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics

    @torch.no_grad()
    def _evaluate_extra(self, extra: dict) -> dict:
        model = self.runner.model
        inner = model.module if is_model_wrapper(model) else model
        saved = inner.zero_shot
        if extra['prompts'] is not None:
            inner.set_zero_shot(*extra['prompts'])
        try:
            for data_batch in extra['dataloader']:
                with autocast(enabled=self.fp16):
                    outputs = model.val_step(data_batch)
                extra['evaluator'].process(data_samples=outputs, data_batch=data_batch)
        finally:
            inner.zero_shot = saved
            inner.invalidate_prototypes()
        return extra['evaluator'].evaluate(len(extra['dataloader'].dataset))
