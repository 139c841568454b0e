"""The extra evaluation sets of ``MultiValLoop`` and ``MultiTestLoop``: build once, score each."""
from typing import Dict, List, Optional

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner.amp import autocast

from tpc_cma_mm.datasets.zero_shot_classes import zero_shot_prompts

__all__ = ['ExtraSets']


class ExtraSets:
    """Data sets scored after the loop's main set, each with its own evaluator.

    Args:
        runner: The Runner (builds the dataloaders, with its distributed
            samplers, and the evaluators).
        extra_sets (dict): ``{name: dict(dataloader, evaluator, zero_shot=None)}``;
            ``zero_shot`` holds the arguments of ``zero_shot_prompts``.
        owner (str): The loop's name, for error messages.
    """

    def __init__(self, runner, extra_sets: Optional[Dict], owner: str) -> None:
        self.runner = runner
        self.sets: List[dict] = []
        for name, cfg in (extra_sets or {}).items():
            unknown = set(cfg) - {'dataloader', 'evaluator', 'zero_shot'}
            if unknown or 'dataloader' not in cfg or 'evaluator' not in cfg:
                raise ValueError(f'{owner} extra set {name!r} needs dataloader and '
                                 f'evaluator (and optionally zero_shot); got {sorted(cfg)}.')
            loader = runner.build_dataloader(cfg['dataloader'], seed=runner.seed)
            evaluator = runner.build_evaluator(cfg['evaluator'])
            evaluator.dataset_meta = loader.dataset.metainfo
            prompts = None
            if cfg.get('zero_shot') is not None:
                classes = loader.dataset.metainfo.get('classes')
                if not classes:
                    raise ValueError(f'Zero-shot set {name!r}: its data set has no '
                                     "metainfo['classes'] to take the class names from.")
                prompts = zero_shot_prompts(classes, **cfg['zero_shot'])
            self.sets.append(dict(name=name, dataloader=loader, evaluator=evaluator,
                                  prompts=prompts))

    def evaluate_into(self, metrics: dict, fp16: bool) -> dict:
        """Score every set and add its metrics to ``metrics`` (a key twice is refused)."""
        for extra in self.sets:
            extra_metrics = self._evaluate(extra, fp16)
            clash = set(extra_metrics) & set(metrics)
            if clash:
                raise ValueError(f'Extra set {extra["name"]!r} logs {sorted(clash)}, which '
                                 'another set logs too: give its metric a distinct prefix.')
            metrics.update(extra_metrics)
        return metrics

    @torch.no_grad()
    def _evaluate(self, extra: dict, fp16: bool) -> dict:
        model = self.runner.model
        inner = model.module if is_model_wrapper(model) else model
        saved = inner.zero_shot
        if extra['prompts'] is not None:
            inner.set_zero_shot(*extra['prompts'])
        try:
            for data_batch in extra['dataloader']:
                with autocast(enabled=fp16):
                    outputs = model.val_step(data_batch)
                extra['evaluator'].process(data_samples=outputs, data_batch=data_batch)
        finally:
            inner.zero_shot = saved
            inner.invalidate_prototypes()
        return extra['evaluator'].evaluate(len(extra['dataloader'].dataset))
