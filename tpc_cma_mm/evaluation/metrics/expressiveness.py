"""Registered linear-probe metric: what the image embeddings still encode per attribute."""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric

from tpc_cma_mm.registry import METRICS
from ..functional.expressiveness import attribute_probes
from ..functional.finite import require_finite

__all__ = ['AttributeProbeMetric']


@METRICS.register_module()
class AttributeProbeMetric(BaseMetric):
    """Linear-probe accuracy of the image embeddings for every named attribute.

    The split is cut in two by image id (even ids fit the probes, odd ids
    score them), so the metric needs no second data set. Keys:
    ``probe/<attribute>`` in % and ``probe/mean``. Aligning images to captions
    that omit attributes can lower them: the accuracy side of the compromise
    (docs/method.md, "Experiments").

    Example config (ShapeCaptions; the pipeline must pack the attributes)::

        pipeline = [dict(type='TokenizeCaption', context_length=32),
                    dict(type='PackInputs', algorithm_keys=[
                        'text', 'text_tokens', 'img_id', 'attr_shape', 'attr_colour',
                        'attr_size', 'attr_position'])]
        val_evaluator = [dict(type='AttributeProbeMetric',
                              attributes=('shape', 'colour', 'size', 'position'))]

    Args:
        attributes (sequence of str): Names ``a`` whose values the samples
            carry as ``attr_<a>``.
        C (float): Inverse L2 strength of the logistic regression.
        **kwargs: ``collect_device``, ``prefix``, ``collect_dir``.
    """
    default_prefix = 'probe'

    def __init__(self, attributes: Sequence[str] = ('shape', 'colour', 'size', 'position'),
                 C: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not attributes:
            raise ValueError('AttributeProbeMetric.attributes must name at least one attribute.')
        self.attributes, self.C = tuple(attributes), C

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            missing = [a for a in self.attributes if f'attr_{a}' not in sample]
            if 'img_embeds' not in sample or missing or 'img_id' not in sample:
                raise KeyError(
                    f'AttributeProbeMetric needs img_embeds, img_id and attr_<name> for '
                    f'{missing or list(self.attributes)}: evaluate in predict mode with '
                    'PackInputs(algorithm_keys=[..., "img_id", "attr_<name>"]).')
            self.results.append(dict(img=sample['img_embeds'].detach().cpu(),
                                     img_id=int(sample['img_id']),
                                     **{a: sample[f'attr_{a}'] for a in self.attributes}))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        folds = [[r for r in results if r['img_id'] % 2 == parity] for parity in (0, 1)]
        if not all(folds):
            raise ValueError('AttributeProbeMetric needs images with even and odd ids '
                             f'(fit / score halves); got {len(folds[0])} and {len(folds[1])}.')
        require_finite(f"AttributeProbeMetric (keys {self.prefix}/...) on the split's samples",
                       img=torch.stack([r['img'] for r in results]))
        (train_x, train_a), (test_x, test_a) = [
            (torch.stack([r['img'] for r in fold]),
             {a: [r[a] for r in fold] for a in self.attributes}) for fold in folds]
        scores = attribute_probes(train_x, train_a, test_x, test_a, C=self.C)
        scores['mean'] = sum(scores.values()) / len(scores)
        return scores
