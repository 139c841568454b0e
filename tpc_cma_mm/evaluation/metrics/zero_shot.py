"""Registered zero-shot metric: the project's tie rule on predict-mode class scores."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from tpc_cma_mm.registry import METRICS
from ..functional.zero_shot import zero_shot_scores

__all__ = ['ZeroShotAccuracy']


@METRICS.register_module()
class ZeroShotAccuracy(BaseMetric):
    """Top-k accuracy and mean per-class recall of zero-shot ``pred_score`` s, in %.

    Scores the class scores a ``DualEncoder`` with zero-shot classes writes in
    predict mode, with ``functional.zero_shot_scores``: ties count against the
    image (two identical prototypes are never both right), the rule of
    retrieval and of every tool (docs/evaluation.md, "Zero-shot"). mmpretrain's
    ``Accuracy`` lets ``topk`` pick the lower class index instead; without exact
    ties the two agree. Keys: ``<prefix>/top1`` ..., ``<prefix>/mean_per_class_recall``.

    Example config::

        val_evaluator = dict(type='ZeroShotAccuracy', topk=(1, 5), prefix='zero_shot_cifar10')

    Args:
        topk (int | sequence of int): The k of the top-k accuracies.
        collect_device, prefix, collect_dir: As in mmengine's ``BaseMetric``.
    """
    default_prefix = 'zero_shot'

    def __init__(self, topk: Sequence[int] = (1, 5), collect_device: str = 'cpu',
                 prefix: Optional[str] = None, collect_dir: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' not in sample or 'gt_label' not in sample:
                raise KeyError('ZeroShotAccuracy needs pred_score and gt_label in each sample: '
                               'evaluate a DualEncoder with zero-shot classes (a zero_shot '
                               'set of MultiValLoop, or model.zero_shot) on a labelled set.')
            self.results.append(dict(score=sample['pred_score'].detach().float().cpu(),
                                     label=int(sample['gt_label'][0])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError('ZeroShotAccuracy: the evaluation split is empty.')
        scores = torch.stack([r['score'] for r in results])
        labels = torch.tensor([r['label'] for r in results])
        return zero_shot_scores(scores, labels, self.topk)
